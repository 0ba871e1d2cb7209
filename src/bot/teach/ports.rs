//! The narrow seams between the teacher and everything it keeps or sends (as libsignal's
//! protocol logic reaches its stores): learners' sessions, OTR channel states, session keys,
//! and the way out to the XMPP connection. The running bot implements them with the sled
//! [`Store`], the [`KeyPool`] and the connection's command channel; the teacher's unit tests
//! with the in-memory ones of [`super::memory`]. Only the store knows sled.

use crate::bot::omemo_device::Devices;
use crate::bot::pep::PepQueries;
use crate::clock::{Clock, SystemClock};
use crate::store::{
    self, KeyPool, LessonCommit, SecretBytes, Session, Store, StoredSession, Timeouts,
    WhitelistEntry,
};
use crate::xmpp::link::Command;
use futures::future::BoxFuture;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::minidom::Element;

/// The store's answer.
pub type Result<T> = std::result::Result<T, store::Error>;

/// Learners' sessions, their whitelist entries and the lesson's transactions.
pub trait Sessions: Send + Sync {
    /// The whitelist entry of `jid`, if it may talk to the bot.
    fn whitelist_get(&self, jid: &str) -> Result<Option<WhitelistEntry>>;
    /// The session of `jid`, if any.
    fn session(&self, jid: &str) -> Result<Option<StoredSession>>;
    /// Writes one lesson step's changes at once, durable before it returns (see
    /// [`Store::commit_lesson`]); the session as written.
    fn commit_lesson(&self, jid: &str, c: &LessonCommit) -> Result<StoredSession>;
    /// Marks the warning as given if due at `now`; true for the one caller that did so.
    fn mark_warned(&self, jid: &str, now: u64) -> Result<bool>;
    /// Ends the session if its expiry is due at `now`.
    fn expire_if_due(&self, jid: &str, now: u64) -> Result<()>;
    /// Ends the session now, with its key and channel state.
    fn remove_session(&self, jid: &str) -> Result<()>;
}

/// The OTR channel state of each learner.
pub trait ChannelStates: Send + Sync {
    /// The last state written for `jid`.
    fn channel_state(&self, jid: &str) -> Result<Option<SecretBytes>>;
    /// Writes a state nothing was sent from; it reaches the disk with the next flush.
    fn keep_channel_state(&self, jid: &str, state: &[u8]) -> Result<()>;
    /// Writes a state and returns once it is durable: call before sending what it produced.
    fn save_channel_state<'a>(&'a self, jid: &'a str, state: &'a [u8])
        -> BoxFuture<'a, Result<()>>;
    /// Makes every state written so far durable.
    fn flush(&self) -> BoxFuture<'_, Result<()>>;
    /// Sets (or clears) when the channel next wants its timer, for the deadline scanner.
    fn set_otr_timer(&self, jid: &str, at: Option<u64>) -> Result<()>;
}

/// Sessions' own OTR keys.
pub trait SessionKeys: Send + Sync {
    /// The session's DSA key (five MPIs p, q, g, y, x).
    fn otr_key(&self, jid: &str) -> Result<Option<SecretBytes>>;
    /// Creates the session; with `otr_key`, with a fresh key of its own, waiting for one if
    /// none is ready (the OMEMO lesson needs none).
    fn create_session<'a>(
        &'a self,
        jid: &'a str,
        session: &'a Session,
        t: Timeouts,
        otr_key: bool,
    ) -> BoxFuture<'a, Result<()>>;
}

/// A PEP answer, or why there is none.
pub type Fetched<T> = std::result::Result<T, String>;

/// Learners' OMEMO devices, as their PEP services publish them.
pub trait Pep: Send + Sync {
    /// The device ids of `jid`'s OMEMO device list (empty when it publishes none).
    fn device_list<'a>(&'a self, jid: &'a BareJid) -> BoxFuture<'a, Fetched<Vec<u32>>>;
    /// The bundle of `jid`'s device `device`.
    fn bundle<'a>(&'a self, jid: &'a BareJid, device: u32)
        -> BoxFuture<'a, Fetched<omemo::Bundle>>;
    /// An answer arrived for the question `id`.
    fn answer(&self, id: &str, answer: std::result::Result<Vec<Element>, String>);
}

/// The way out to the XMPP connection.
pub trait ChatOut: Send + Sync {
    /// Hands `c` to the connection; false once it has stopped.
    fn send(&self, c: Command) -> BoxFuture<'_, bool>;
}

/// Everything the teacher keeps or sends through.
#[derive(Clone)]
pub struct Parts {
    /// Sessions and the lesson's transactions.
    pub sessions: Arc<dyn Sessions>,
    /// OTR channel states.
    pub channels: Arc<dyn ChannelStates>,
    /// Session keys.
    pub keys: Arc<dyn SessionKeys>,
    /// The XMPP connection.
    pub chat: Arc<dyn ChatOut>,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// The bot's OMEMO devices.
    pub omemo: Arc<Devices>,
    /// Learners' PEP services.
    pub pep: Arc<dyn Pep>,
}

impl Parts {
    /// The running bot's parts: the sled store, its key pool, the OMEMO devices and the
    /// connection's channel.
    pub fn live(
        store: Store,
        pool: Arc<KeyPool>,
        omemo: Arc<Devices>,
        xmpp: mpsc::Sender<Command>,
    ) -> Parts {
        let keys = Arc::new(PoolKeys {
            store: store.clone(),
            pool,
        });
        let store = Arc::new(store);
        Parts {
            sessions: store.clone(),
            channels: store,
            keys,
            pep: Arc::new(PepQueries::new(xmpp.clone())),
            chat: Arc::new(xmpp),
            clock: Arc::new(SystemClock),
            omemo,
        }
    }
}

impl Sessions for Store {
    fn whitelist_get(&self, jid: &str) -> Result<Option<WhitelistEntry>> {
        Store::whitelist_get(self, jid)
    }
    fn session(&self, jid: &str) -> Result<Option<StoredSession>> {
        Store::session(self, jid)
    }
    fn commit_lesson(&self, jid: &str, c: &LessonCommit) -> Result<StoredSession> {
        Store::commit_lesson(self, jid, c).map(|(rec, _)| rec)
    }
    fn mark_warned(&self, jid: &str, now: u64) -> Result<bool> {
        Store::mark_warned(self, jid, now)
    }
    fn expire_if_due(&self, jid: &str, now: u64) -> Result<()> {
        Store::expire_if_due(self, jid, now).map(drop)
    }
    fn remove_session(&self, jid: &str) -> Result<()> {
        Store::remove_session(self, jid).map(drop)
    }
}

impl ChannelStates for Store {
    fn channel_state(&self, jid: &str) -> Result<Option<SecretBytes>> {
        Store::channel_state(self, jid)
    }
    fn keep_channel_state(&self, jid: &str, state: &[u8]) -> Result<()> {
        Store::keep_channel_state(self, jid, state)
    }
    fn save_channel_state<'a>(
        &'a self,
        jid: &'a str,
        state: &'a [u8],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(self.save_channel_state_async(jid, state))
    }
    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.flush_async())
    }
    fn set_otr_timer(&self, jid: &str, at: Option<u64>) -> Result<()> {
        Store::set_otr_timer(self, jid, at)
    }
}

/// Keys from the pool, kept in the store with their sessions.
struct PoolKeys {
    store: Store,
    pool: Arc<KeyPool>,
}

impl SessionKeys for PoolKeys {
    fn otr_key(&self, jid: &str) -> Result<Option<SecretBytes>> {
        self.store.otr_key(jid)
    }
    fn create_session<'a>(
        &'a self,
        jid: &'a str,
        session: &'a Session,
        t: Timeouts,
        otr_key: bool,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if otr_key {
                return self.pool.create_session(jid, session, t).await.map(drop);
            }
            let (store, j, s) = (self.store.clone(), jid.to_owned(), session.clone());
            tokio::task::spawn_blocking(move || store.create_session_without_key(&j, &s, t))
                .await
                .map_err(|e| store::Error::Encode(format!("session task failed: {e}")))?
                .map(drop)
        })
    }
}

impl ChatOut for mpsc::Sender<Command> {
    fn send(&self, c: Command) -> BoxFuture<'_, bool> {
        Box::pin(async move { mpsc::Sender::send(self, c).await.is_ok() })
    }
}
