//! The teaching loop for one learner's turn: a chat stanza goes through OTR, what OTR reports
//! goes to the lesson, and the lesson's actions become OTR writes, store updates and stanzas.
//! The OTR state is persisted before any message made from it is sent.
//!
//! [`Teacher`] takes the events (its entry points are here); [`turn`] runs one learner's turn
//! (load, decide, commit), [`act`] carries out the lesson's actions, [`typing`] paces replies,
//! and [`ports`] are the narrow seams to the store and the connection ([`memory`] implements
//! them in memory for the unit tests).

mod act;
pub mod memory;
mod omemo;
pub mod ports;
mod teaching;
mod turn;
mod typing;

pub use ports::Parts;
pub use teaching::Teaching;
pub use turn::stage_of;

use super::roster;
use super::turn_times::{TurnTimes, TurnTimesSummary};
use super::turns::{self, Ticket, TurnLocks};
use crate::i18n::Catalogs;
use crate::lesson::{self, Action};
use crate::store::{self, KeyPool, Store};
use crate::xmpp::link::Command;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_xmpp::jid::{BareJid, Jid};

/// Why a turn could not be taken (logged; the learner's stored state is left as it was).
#[derive(Debug, thiserror::Error)]
pub enum TurnError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] store::Error),
    /// The OTR state could not be made or read.
    #[error("{0}")]
    State(#[from] super::otr_state::StateError),
    /// The lesson state could not be read or written.
    #[error("lesson state: {0}")]
    Lesson(String),
    /// A blocking task failed.
    #[error("task: {0}")]
    Task(String),
    /// The OMEMO state could not be read or written.
    #[error("{0}")]
    OmemoState(#[from] super::omemo_state::StateError),
    /// The bot's OMEMO device failed.
    #[error("{0}")]
    Omemo(#[from] super::omemo_device::DeviceError),
}

/// What a learner's client sent, waiting for its turn.
pub enum Inbound {
    /// A chat message's body (plain text, or OTR).
    Chat(String),
    /// An OMEMO message, with its fallback body.
    Omemo(Box<::omemo::Encrypted>, Option<String>),
}

/// Runs learners' turns; one learner's turns are serialised, different learners run at once.
#[derive(Clone)]
pub struct Teacher {
    parts: Parts,
    catalogs: Arc<Catalogs>,
    cfg: Arc<Teaching>,
    locks: TurnLocks,
    inbox: turns::Inbox<(Jid, Inbound, Instant)>,
    times: TurnTimes,
}

impl Teacher {
    /// The running bot's teacher: the sled store, its key pool, the bot's OMEMO devices (made
    /// and stored the first time) and the XMPP connection.
    pub fn new(
        store: Store,
        pool: Arc<KeyPool>,
        catalogs: Arc<Catalogs>,
        cfg: Teaching,
        xmpp: mpsc::Sender<Command>,
    ) -> Result<Teacher, super::omemo_device::DeviceError> {
        let devices =
            super::omemo_device::Devices::load_or_create(&store, crate::clock::unix_now())?;
        let parts = Parts::live(store, pool, Arc::new(devices), xmpp);
        Ok(Teacher::with_parts(parts, catalogs, cfg))
    }

    /// The bot's OMEMO devices (published at every login).
    pub fn omemo(&self) -> &super::omemo_device::Devices {
        &self.parts.omemo
    }

    /// An answer to one of the bot's PEP questions arrived.
    pub fn pep_answer(&self, id: &str, answer: Result<Vec<tokio_xmpp::minidom::Element>, String>) {
        self.parts.pep.answer(id, answer);
    }

    /// A teacher over any implementation of the [`ports`] (the unit tests' in-memory ones).
    pub fn with_parts(parts: Parts, catalogs: Arc<Catalogs>, cfg: Teaching) -> Teacher {
        Teacher {
            parts,
            catalogs,
            cfg: Arc::new(cfg),
            locks: TurnLocks::default(),
            inbox: turns::Inbox::default(),
            times: TurnTimes::default(),
        }
    }

    pub(super) fn lock_for(&self, jid: &str) -> Ticket {
        self.locks.enter(jid)
    }

    /// The bot's own time per chat message so far: arrival to the end of its turn.
    pub fn turn_times(&self) -> TurnTimesSummary {
        self.times.summary()
    }

    /// How many learners have a turn running or waiting (for tests of the bound).
    pub fn turns_in_flight(&self) -> usize {
        self.locks.len()
    }

    /// A chat message from a learner's client; strangers are ignored (nothing is said).
    /// Takes a chat message in its learner's arrival order (a drainer per learner runs the
    /// turns one after another); call from the task that receives the stanzas.
    pub fn chat_in_order(&self, from: Jid, body: String) {
        let bytes = body.len();
        self.in_order(from, Inbound::Chat(body), bytes);
    }

    /// Takes an OMEMO message in its learner's arrival order, as [`Self::chat_in_order`].
    pub fn omemo_in_order(
        &self,
        from: Jid,
        message: Box<::omemo::Encrypted>,
        body: Option<String>,
    ) {
        let bytes = message.payload.as_ref().map_or(0, Vec::len)
            + message.keys.iter().map(|k| k.data.len()).sum::<usize>()
            + body.as_ref().map_or(0, String::len);
        self.in_order(from, Inbound::Omemo(message, body), bytes);
    }

    fn in_order(&self, from: Jid, what: Inbound, bytes: usize) {
        let jid = from.to_bare().to_string();
        match self.inbox.push(
            &jid,
            (from, what, Instant::now()),
            bytes,
            turns::INBOX_BOUND,
        ) {
            turns::Pushed::Start => {
                let t = self.clone();
                tokio::spawn(async move {
                    while let Some((from, what, arrived)) = t.inbox.next(&jid) {
                        match what {
                            Inbound::Chat(body) => t.on_chat(from, body).await,
                            Inbound::Omemo(m, body) => t.on_omemo(from, m, body).await,
                        }
                        t.times.record(arrived.elapsed());
                    }
                });
            }
            turns::Pushed::Queued => {}
            turns::Pushed::Dropped => {
                tracing::info!(%jid, "too many messages waiting from this JID; one dropped")
            }
        }
    }

    /// One chat message's turn (whitelisted learners only).
    pub async fn on_chat(&self, from: Jid, body: String) {
        self.on_inbound(from, Inbound::Chat(body)).await
    }

    /// One OMEMO message's turn (whitelisted learners only).
    pub async fn on_omemo(
        &self,
        from: Jid,
        message: Box<::omemo::Encrypted>,
        body: Option<String>,
    ) {
        self.on_inbound(from, Inbound::Omemo(message, body)).await
    }

    async fn on_inbound(&self, from: Jid, what: Inbound) {
        let jid = from.to_bare().to_string();
        match self.parts.sessions.whitelist_get(&jid) {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::info!(%jid, "message from a JID not on the whitelist ignored");
                return;
            }
            Err(e) => {
                tracing::error!(%jid, error = %e, "cannot read the whitelist");
                return;
            }
        }
        let Some(lock) = self.locks.try_enter(&jid, turns::MAX_WAITING) else {
            tracing::info!(%jid, "too many messages waiting from this learner; one dropped");
            return;
        };
        let _guard = lock.lock().await;
        let r = match what {
            Inbound::Chat(body) => self.chat_turn(&jid, from, body).await,
            Inbound::Omemo(m, body) => self.omemo_turn(&jid, from, *m, body).await,
        };
        if let Err(e) = r {
            tracing::error!(%jid, error = %e, "turn failed; stored state unchanged");
        }
    }

    /// A lesson event from outside the chat (course page, clock) for a learner with a session.
    pub async fn on_event(
        &self,
        jid: &BareJid,
        ev: lesson::Event,
    ) -> Result<Vec<Action>, TurnError> {
        let to = Jid::from(jid.clone());
        let jid = jid.to_string();
        let lock = self.lock_for(&jid);
        let _guard = lock.lock().await;
        let Some(mut turn) = self.load(&jid, to).await? else {
            return Ok(Vec::new());
        };
        self.run_lesson(&mut turn, &mut VecDeque::from([ev])).await
    }

    /// A whitelisted learner has added the bot (the subscription is mutual): the lesson greets
    /// them before they write, starting their session if they have none yet.
    pub async fn on_subscribed(&self, jid: BareJid) {
        let to = Jid::from(jid.clone());
        let jid = jid.to_string();
        let _guard = self.lock_for(&jid).lock().await;
        let r = async {
            let mut turn = match self.load(&jid, to.clone()).await? {
                Some(t) => t,
                None => self.create(&jid, to).await?,
            };
            let mut queue = VecDeque::from([lesson::Event::Subscribed]);
            self.run_lesson(&mut turn, &mut queue).await
        };
        if let Err(e) = r.await {
            tracing::error!(%jid, error = %e, "greeting turn failed");
        }
    }

    /// A due deadline from the scanner: the warning or the expiry, each exactly once, checked
    /// again under the learner's lock (activity may have moved the deadline); or the OTR
    /// channel's timer.
    pub async fn on_due(&self, due: store::Due) {
        let jid = due.jid.clone();
        let lock = self.lock_for(&jid);
        let _guard = lock.lock().await;
        let now = self.parts.clock.now();
        let r = match due.kind {
            store::DeadlineKind::Warn => match self.parts.sessions.mark_warned(&jid, now) {
                Ok(true) => {
                    let left = self
                        .cfg
                        .timeouts
                        .session
                        .saturating_sub(self.cfg.timeouts.warning);
                    self.event_turn(
                        &jid,
                        lesson::Event::Warn {
                            minutes_left: left.div_ceil(60),
                        },
                    )
                    .await
                }
                Ok(false) => Ok(()),
                Err(e) => Err(e.into()),
            },
            store::DeadlineKind::Expire => match self.parts.sessions.session(&jid) {
                Ok(Some(s)) if s.deadlines.expired(now) => {
                    let r = self.event_turn(&jid, lesson::Event::Expire).await;
                    // Whatever the lesson said, the session, its secrets and keys go now.
                    let _ = self.parts.sessions.expire_if_due(&jid, now);
                    self.unfriend_unless_whitelisted(&jid).await;
                    tracing::info!(%jid, "session expired");
                    r
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e.into()),
            },
            store::DeadlineKind::OtrTimer => self.timer_turn(&jid, now).await,
        };
        if let Err(e) = r {
            tracing::error!(%jid, error = %e, "deadline turn failed");
        }
    }

    /// Reacts to what the course page (or the admin socket) changed.
    pub async fn on_admin(&self, ev: super::admin::AdminEvent) {
        use super::admin::AdminEvent as A;
        let A::SessionStarted { jid } = ev else {
            return;
        };
        let lock = self.lock_for(&jid);
        let _guard = lock.lock().await;
        for c in roster::on_whitelist_change(&jid, true) {
            let _ = self.parts.chat.send(c).await;
        }
    }
}

#[cfg(test)]
mod tests;
