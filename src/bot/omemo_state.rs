//! One learner's OMEMO side as the bot keeps it (in the session's channel state, where an OTR
//! lesson keeps its OTR channel): the learner's devices (the device list last fetched and the
//! devices that wrote) and the true device's session with each; and what a received message
//! means for the lesson.

use crate::lesson::BotDevices;
use crate::store::SecretBytes;
use crate::xmpp::omemo::MAX_DEVICES;
use omemo::{Encrypted, Session};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How long a fetched device list is trusted before it is asked for again (seconds).
pub const LIST_TTL: u64 = 600;

/// The OMEMO side of one learner's session, persisted as one blob before anything made from
/// it is sent (so no message key is ever used twice after a crash).
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct OmemoChannel {
    /// The learner's device list as last fetched.
    pub list: Vec<u32>,
    /// When it was fetched (Unix seconds).
    pub list_fetched_at: Option<u64>,
    /// Devices that wrote to the bot, oldest first (some clients publish no device list).
    pub seen: Vec<u32>,
    /// The true device's session with each learner device.
    pub sessions: BTreeMap<u32, Session>,
}

impl std::fmt::Debug for OmemoChannel {
    /// The devices, not the sessions' keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OmemoChannel")
            .field("list", &self.list)
            .field("list_fetched_at", &self.list_fetched_at)
            .field("seen", &self.seen)
            .field("sessions", &self.sessions.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why a stored OMEMO state could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("the OMEMO state: {0}")]
pub struct StateError(String);

impl OmemoChannel {
    /// Encodes the state for the store.
    pub fn encode(&self) -> Result<SecretBytes, StateError> {
        bincode::serde::encode_to_vec(self, bincode::config::standard())
            .map(SecretBytes::new)
            .map_err(|e| StateError(e.to_string()))
    }

    /// Decodes a stored state.
    pub fn decode(bytes: &[u8]) -> Result<OmemoChannel, StateError> {
        bincode::serde::decode_from_slice(bytes, bincode::config::standard())
            .map(|(s, _)| s)
            .map_err(|e| StateError(e.to_string()))
    }

    /// The learner's devices: the list, then those that wrote and are not on it (bounded).
    pub fn devices(&self) -> Vec<u32> {
        let mut all = self.list.clone();
        for d in &self.seen {
            if !all.contains(d) {
                all.push(*d);
            }
        }
        all.truncate(MAX_DEVICES);
        all
    }

    /// Notes that `device` wrote (the oldest is forgotten beyond the bound).
    pub fn saw(&mut self, device: u32) {
        self.seen.retain(|d| *d != device);
        self.seen.push(device);
        if self.seen.len() > MAX_DEVICES {
            let old = self.seen.remove(0);
            if !self.list.contains(&old) {
                self.sessions.remove(&old);
            }
        }
    }

    /// Takes a fetched device list; sessions with devices neither listed nor seen go.
    pub fn set_list(&mut self, mut ids: Vec<u32>, now: u64) {
        ids.truncate(MAX_DEVICES);
        self.list = ids;
        self.list_fetched_at = Some(now);
        let keep = self.devices();
        self.sessions.retain(|d, _| keep.contains(d));
    }

    /// Whether the list should be fetched (again) before a reply, or because `sender`, a
    /// device not known yet, wrote (ask before [`OmemoChannel::saw`] notes it).
    pub fn list_stale(&self, now: u64, sender: Option<u32>) -> bool {
        match self.list_fetched_at {
            None => true,
            Some(at) => {
                now.saturating_sub(at) >= LIST_TTL
                    || sender.is_some_and(|s| !self.devices().contains(&s))
            }
        }
    }

    /// Whether the learner has used OMEMO with the bot (replies are encrypted from then on).
    pub fn in_use(&self) -> bool {
        !self.seen.is_empty()
    }
}

/// Which of the bot's devices (`true_id`, `impostor_id`) `message` was encrypted for.
pub fn addressed(message: &Encrypted, true_id: u32, impostor_id: u32) -> Option<BotDevices> {
    BotDevices::from_keys(
        message.key_for(true_id).is_some(),
        message.key_for(impostor_id).is_some(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_the_list_and_the_writers_bounded_and_the_list_goes_stale() {
        let mut c = OmemoChannel::default();
        assert!(c.list_stale(0, None));
        c.saw(7);
        c.set_list(vec![3, 7], 100);
        assert_eq!(c.devices(), [3, 7]);
        assert!(!c.list_stale(100 + LIST_TTL - 1, Some(7)));
        assert!(c.list_stale(100, Some(9)), "a writer not on the list");
        assert!(c.list_stale(100 + LIST_TTL, None));
        c.saw(9);
        assert!(
            !c.list_stale(100, Some(9)),
            "asked once for a new writer, not every time"
        );
        assert_eq!(c.devices(), [3, 7, 9]);
        for d in 100..300 {
            c.saw(d);
        }
        assert!(c.devices().len() <= MAX_DEVICES);
        assert!(c.seen.len() <= MAX_DEVICES);
        let back = OmemoChannel::decode(c.encode().unwrap().expose()).unwrap();
        assert_eq!(back.devices(), c.devices());
        assert!(OmemoChannel::decode(b"\xff\xff garbage").is_err());
    }
}
