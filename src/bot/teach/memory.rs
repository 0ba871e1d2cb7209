//! In-memory [`ports`](super::ports), for the teacher's unit tests: maps instead of sled trees,
//! a stack of session keys instead of the pool, and a log of what was made durable and what
//! was sent, in order, so that a test sees whether a message left before its state was saved.

use super::ports::{ChannelStates, ChatOut, Fetched, Parts, Pep, Result, SessionKeys, Sessions};
use crate::bot::omemo_device::Devices;
use crate::clock::Clock;
use crate::store::{
    Deadlines, Error, GradeRequest, LessonCommit, SecretBytes, Session, StoredSession, Timeouts,
    WhitelistEntry,
};
use crate::xmpp::link::Command;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// One entry of the log.
#[derive(Debug, Clone)]
pub enum Logged {
    /// A learner's channel state became durable (saved, or flushed after a keep).
    Durable {
        /// The learner.
        jid: String,
    },
    /// A command went to the connection, with the learner's durable channel state then.
    Sent {
        /// What was sent.
        command: Command,
        /// The channel state of the chat's addressee that would survive a crash at this moment.
        durable: Option<SecretBytes>,
    },
}

/// Everything an in-memory teacher keeps.
#[derive(Default)]
pub struct State {
    /// Whitelist entries by bare JID.
    pub whitelist: HashMap<String, WhitelistEntry>,
    /// Sessions by bare JID.
    pub sessions: HashMap<String, StoredSession>,
    /// Sessions' OTR keys.
    pub keys: HashMap<String, SecretBytes>,
    /// Keys for new sessions (the pool); creating a session without one is an error here.
    pub spare_keys: Vec<SecretBytes>,
    /// Channel states as last written.
    pub written: HashMap<String, SecretBytes>,
    /// Channel states as they would survive a crash.
    pub durable: HashMap<String, SecretBytes>,
    /// When each learner's OTR channel next wants its timer.
    pub timers: HashMap<String, u64>,
    /// Grades the lesson queued.
    pub grades: Vec<GradeRequest>,
    /// What was made durable and what was sent, in order.
    pub log: Vec<Logged>,
    /// The time the teacher reads (Unix seconds); tests move it.
    pub now: u64,
    /// Learners' OMEMO device lists, by bare JID.
    pub device_lists: HashMap<String, Vec<u32>>,
    /// Learners' OMEMO bundles, by bare JID and device id.
    pub bundles: HashMap<(String, u32), omemo::Bundle>,
}

/// The in-memory ports, sharing one [`State`].
#[derive(Clone, Default)]
pub struct Memory(Arc<Mutex<State>>);

impl Memory {
    /// The state, to set up or inspect.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every port served by this memory.
    pub fn parts(&self) -> Parts {
        let m = Arc::new(self.clone());
        let rng = &mut omemo::OsRandom;
        let mut account = |id| omemo::Account::generate(id, 0, rng).expect("an OMEMO device");
        let devices = Devices::new(account(1001), account(1002), Box::new(|_| Ok(())));
        Parts {
            sessions: m.clone(),
            channels: m.clone(),
            keys: m.clone(),
            chat: m.clone(),
            pep: m.clone(),
            clock: m,
            omemo: Arc::new(devices),
        }
    }
}

impl Pep for Memory {
    fn device_list<'a>(
        &'a self,
        jid: &'a tokio_xmpp::jid::BareJid,
    ) -> BoxFuture<'a, Fetched<Vec<u32>>> {
        let list = self.state().device_lists.get(&jid.to_string()).cloned();
        Box::pin(async move { Ok(list.unwrap_or_default()) })
    }
    fn bundle<'a>(
        &'a self,
        jid: &'a tokio_xmpp::jid::BareJid,
        device: u32,
    ) -> BoxFuture<'a, Fetched<omemo::Bundle>> {
        let b = self
            .state()
            .bundles
            .get(&(jid.to_string(), device))
            .cloned();
        Box::pin(async move { b.ok_or_else(|| "no bundle".to_owned()) })
    }
    fn answer(
        &self,
        _id: &str,
        _answer: std::result::Result<Vec<tokio_xmpp::minidom::Element>, String>,
    ) {
    }
}

impl Sessions for Memory {
    fn whitelist_get(&self, jid: &str) -> Result<Option<WhitelistEntry>> {
        Ok(self.state().whitelist.get(jid).cloned())
    }
    fn session(&self, jid: &str) -> Result<Option<StoredSession>> {
        Ok(self.state().sessions.get(jid).cloned())
    }
    fn commit_lesson(&self, jid: &str, c: &LessonCommit) -> Result<StoredSession> {
        let mut st = self.state();
        let rec = st
            .sessions
            .get_mut(jid)
            .ok_or_else(|| Error::NoSession(jid.to_owned()))?;
        c.apply(rec);
        let rec = rec.clone();
        st.grades.extend(c.grade.clone());
        Ok(rec)
    }
    fn mark_warned(&self, jid: &str, now: u64) -> Result<bool> {
        let mut st = self.state();
        let Some(rec) = st.sessions.get_mut(jid) else {
            return Ok(false);
        };
        let due = rec.deadlines.warning_due(now).is_some();
        if due {
            rec.deadlines.warn_at = None;
        }
        Ok(due)
    }
    fn expire_if_due(&self, jid: &str, now: u64) -> Result<()> {
        let due = self
            .state()
            .sessions
            .get(jid)
            .is_some_and(|r| r.deadlines.expired(now));
        if due {
            self.remove_session(jid)?;
        }
        Ok(())
    }
    fn remove_session(&self, jid: &str) -> Result<()> {
        let mut st = self.state();
        st.sessions.remove(jid);
        st.keys.remove(jid);
        st.written.remove(jid);
        st.durable.remove(jid);
        st.timers.remove(jid);
        Ok(())
    }
}

impl ChannelStates for Memory {
    fn channel_state(&self, jid: &str) -> Result<Option<SecretBytes>> {
        Ok(self.state().written.get(jid).cloned())
    }
    fn keep_channel_state(&self, jid: &str, state: &[u8]) -> Result<()> {
        let mut st = self.state();
        st.written
            .insert(jid.to_owned(), SecretBytes::new(state.to_vec()));
        Ok(())
    }
    fn save_channel_state<'a>(
        &'a self,
        jid: &'a str,
        state: &'a [u8],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut st = self.state();
            let bytes = SecretBytes::new(state.to_vec());
            st.written.insert(jid.to_owned(), bytes.clone());
            st.durable.insert(jid.to_owned(), bytes);
            st.log.push(Logged::Durable {
                jid: jid.to_owned(),
            });
            Ok(())
        })
    }
    fn flush(&self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let mut st = self.state();
            let written: Vec<(String, SecretBytes)> = st
                .written
                .iter()
                .map(|(j, s)| (j.clone(), s.clone()))
                .collect();
            for (jid, state) in written {
                if st.durable.get(&jid) != Some(&state) {
                    st.durable.insert(jid.clone(), state);
                    st.log.push(Logged::Durable { jid });
                }
            }
            Ok(())
        })
    }
    fn set_otr_timer(&self, jid: &str, at: Option<u64>) -> Result<()> {
        let mut st = self.state();
        match at.filter(|_| st.sessions.contains_key(jid)) {
            Some(at) => st.timers.insert(jid.to_owned(), at),
            None => st.timers.remove(jid),
        };
        Ok(())
    }
}

impl SessionKeys for Memory {
    fn otr_key(&self, jid: &str) -> Result<Option<SecretBytes>> {
        Ok(self.state().keys.get(jid).cloned())
    }
    fn create_session<'a>(
        &'a self,
        jid: &'a str,
        session: &'a Session,
        t: Timeouts,
        otr_key: bool,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut st = self.state();
            if st.sessions.contains_key(jid) {
                return Err(Error::SessionExists(jid.to_owned()));
            }
            if otr_key {
                let key = st.spare_keys.pop().ok_or(Error::PoolEmpty)?;
                st.keys.insert(jid.to_owned(), key);
            }
            let rec = StoredSession {
                session: session.clone(),
                deadlines: Deadlines::after_activity(session.last_activity, t),
            };
            st.sessions.insert(jid.to_owned(), rec);
            Ok(())
        })
    }
}

impl Clock for Memory {
    fn now(&self) -> u64 {
        self.state().now
    }
}

impl ChatOut for Memory {
    fn send(&self, command: Command) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let mut st = self.state();
            let to = match &command {
                Command::Send(crate::xmpp::stanza::Outgoing::Chat { to, .. }) => {
                    Some(to.to_bare().to_string())
                }
                _ => None,
            };
            let durable = to.and_then(|j| st.durable.get(&j).cloned());
            st.log.push(Logged::Sent { command, durable });
            true
        })
    }
}
