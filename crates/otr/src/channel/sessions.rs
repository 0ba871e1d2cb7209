//! Session selection for version 3 instance tags, and the timer (libotr's otrl_message_poll,
//! in quinn-proto's terms `poll_timeout` and `handle_timeout`): forward-secrecy clean-up of
//! stale state, with time passed in.

use super::{Channel, SessionInfo};
use crate::ake::AkeState;
use crate::error::OtrError;
use crate::keys::Fingerprint;
use crate::session::{MsgState, Session};

/// Seconds after which an unfinished AKE is forgotten (libotr keeps a v3 commit 60 s).
pub const AKE_TIMEOUT: u64 = 60;
/// Seconds after which a partial fragmented message is dropped.
pub const FRAGMENT_TIMEOUT: u64 = 60;
/// Most peer instances one channel keeps; a new one then replaces the least useful.
pub const MAX_INSTANCES: usize = 16;
/// Most bytes of partial fragmented messages one channel holds, all instances together (one
/// reassembly buffer's worth): the state is stored after every message, so made-up instance
/// tags must not multiply it.
pub const MAX_CHANNEL_FRAGMENTS: usize = crate::fragment::MAX_REASSEMBLED;
/// Most untrusted fingerprints one channel remembers (trusted ones are always kept).
pub const MAX_UNTRUSTED_FINGERPRINTS: usize = 32;

impl Channel {
    /// Every session (one per peer instance), with its state.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        let current = self.current_instance();
        self.sessions
            .iter()
            .map(|(tag, s)| {
                let secure = s.secure();
                SessionInfo {
                    instance: *tag,
                    encrypted: s.is_encrypted(),
                    finished: matches!(s.msg, MsgState::Finished),
                    version: secure.map(|x| x.version),
                    fingerprint: secure.map(|x| x.fingerprint),
                    trusted: secure.is_some_and(|x| self.is_trusted(&x.fingerprint)),
                    smp_in_progress: s.smp.in_progress(),
                    current: *tag == current,
                }
            })
            .collect()
    }

    /// The instance tag of the session `write`, `smp_verify` and `create_symkey` use.
    pub fn current_session(&self) -> u32 {
        self.current_instance()
    }

    /// Makes the session with this peer instance the current one (`None`: the best one).
    pub fn select_session(&mut self, instance: Option<u32>) -> Result<(), OtrError> {
        match instance {
            Some(tag) if !self.sessions.contains_key(&tag) => {
                Err(OtrError::Malformed("no session with that instance tag"))
            }
            _ => {
                self.selected = instance;
                Ok(())
            }
        }
    }

    /// The session with peer `instance`, made if new; at [`MAX_INSTANCES`] the stalest
    /// session that is not private (else the stalest of all) is forgotten first, so that
    /// made-up instance tags cannot grow the state without bound.
    pub(super) fn session_for(&mut self, instance: u32) -> &mut Session {
        if !self.sessions.contains_key(&instance) && self.sessions.len() >= MAX_INSTANCES {
            let activity = |s: &Session| {
                s.last_recv
                    .max(s.last_sent)
                    .max(s.ake_at)
                    .max(s.fragment_at)
            };
            let victim = self
                .sessions
                .iter()
                .filter(|(tag, _)| Some(**tag) != self.selected)
                .min_by_key(|(_, s)| (s.is_encrypted(), activity(s)))
                .map(|(tag, _)| *tag);
            if let Some(tag) = victim {
                self.sessions.remove(&tag);
            }
        }
        self.sessions.entry(instance).or_default()
    }

    /// Before `bytes` more of a fragmented message from `instance`: the partial messages of
    /// other instances are dropped, stalest first, while all of them together would hold more
    /// than [`MAX_CHANNEL_FRAGMENTS`].
    pub(super) fn make_room_for_fragment(&mut self, instance: u32, bytes: usize) {
        let total =
            |c: &Channel| -> usize { c.sessions.values().map(|s| s.fragments.buffered()).sum() };
        while total(self).saturating_add(bytes) > MAX_CHANNEL_FRAGMENTS {
            let stalest = self
                .sessions
                .iter()
                .filter(|(tag, s)| **tag != instance && !s.fragments.is_empty())
                .min_by_key(|(_, s)| s.fragment_at)
                .map(|(tag, _)| *tag);
            match stalest.and_then(|tag| self.sessions.get_mut(&tag)) {
                Some(s) => s.fragments.clear(),
                // Only this instance's own partial message is left: its own bound applies.
                None => return,
            }
        }
    }

    /// Records a fingerprint seen in an AKE as untrusted; beyond
    /// [`MAX_UNTRUSTED_FINGERPRINTS`] another untrusted one is forgotten.
    pub(super) fn remember_fingerprint(&mut self, fingerprint: Fingerprint) {
        if self.fingerprints.contains_key(&fingerprint) {
            return;
        }
        let untrusted = self.fingerprints.values().filter(|t| !**t).count();
        if untrusted >= MAX_UNTRUSTED_FINGERPRINTS {
            let old = self
                .fingerprints
                .iter()
                .find(|(_, trusted)| !**trusted)
                .map(|(f, _)| *f);
            if let Some(f) = old {
                self.fingerprints.remove(&f);
            }
        }
        self.fingerprints.insert(fingerprint, false);
    }

    /// The timer: forgets unfinished AKEs (their DH secrets) and partial fragments once stale
    /// (see the constants), so that old secrets do not linger. Data-message DH keys are
    /// retired by key rotation as in libotr: the peer's previous key is its current sending
    /// key, so it cannot be dropped by time. Call it at [`Channel::poll_timeout`] (or any time
    /// later); `now` is the current time in seconds. It sends and reports nothing.
    pub fn handle_timeout(&mut self, now: u64) {
        for s in self.sessions.values_mut() {
            if s.ake != AkeState::None && s.ake_at.saturating_add(AKE_TIMEOUT) <= now {
                s.ake = AkeState::None;
            }
            if !s.fragments.is_empty() && s.fragment_at.saturating_add(FRAGMENT_TIMEOUT) <= now {
                s.fragments.clear();
            }
        }
    }

    /// When the channel next wants [`Channel::handle_timeout`] (seconds), if ever.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.sessions
            .values()
            .flat_map(|s| {
                [
                    (s.ake != AkeState::None).then_some(s.ake_at.saturating_add(AKE_TIMEOUT)),
                    (!s.fragments.is_empty())
                        .then_some(s.fragment_at.saturating_add(FRAGMENT_TIMEOUT)),
                ]
            })
            .flatten()
            .min()
    }
}
