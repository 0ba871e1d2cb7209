//! The OMEMO lesson's vocabulary: which lesson a session follows, the OMEMO stages, and what
//! the bot can observe of the learner's trust decisions (the bot's devices a message was
//! encrypted for). The transitions are in `machine/omemo.rs`.

use crate::Finished;
use serde::{Deserialize, Serialize};

/// Which lesson a session follows (chosen per activity, with an operator default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Off-the-Record with the Socialist Millionaires' Protocol.
    #[default]
    Otr,
    /// OMEMO device verification (XEP-0384 v0.3 as deployed).
    Omemo,
}

impl Protocol {
    /// The name in settings and LTI custom parameters.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Otr => "otr",
            Protocol::Omemo => "omemo",
        }
    }

    /// Reads a name as settings and LMSes send it (`otr`, `OMEMO`, ` omemo `).
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.trim().to_ascii_lowercase().as_str() {
            "otr" => Some(Protocol::Otr),
            "omemo" => Some(Protocol::Omemo),
            _ => None,
        }
    }
}

/// What the OMEMO lesson remembers before the bot's true device is verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OmemoProgress {
    /// Plain-text reminders given so far.
    pub reminders: u32,
    /// Encrypted messages that were also for the impostor.
    pub impostor_trusted: u32,
    /// Encrypted messages for the impostor only (the true device distrusted).
    pub true_distrusted: u32,
    /// Times a fingerprint was typed into the chat.
    pub fingerprint_typed: u32,
    /// The learner was told that each of their devices decides on its own.
    pub devices_noted: bool,
    /// The inactivity warning was given since the last activity.
    pub warned: bool,
    /// The greeting was said (a roster may show the subscription mutual more than once).
    pub greeted: bool,
}

/// Where a learner is in the OMEMO lesson.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OmemoStage {
    /// Whitelisted; the learner has not written yet.
    Waiting(OmemoProgress),
    /// The learner has written in plain text; asked to switch OMEMO on.
    Plaintext(OmemoProgress),
    /// OMEMO is on, but the learner's client still encrypts for the impostor (or only for it).
    Unverified(OmemoProgress),
    /// A message came for the true device only; the code was given.
    Verified(Finished),
    /// The code was entered and the grade posted.
    Completed(Finished),
}

impl OmemoStage {
    /// A stable name for the store and logs.
    pub fn name(&self) -> &'static str {
        match self {
            OmemoStage::Waiting(_) => "omemo_waiting",
            OmemoStage::Plaintext(_) => "omemo_plaintext",
            OmemoStage::Unverified(_) => "omemo_unverified",
            OmemoStage::Verified(_) => "omemo_verified",
            OmemoStage::Completed(_) => "omemo_completed",
        }
    }
}

/// Which of the bot's two devices (the true one, whose fingerprint the course page shows, and
/// the impostor) a learner's OMEMO message was encrypted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BotDevices {
    /// The true device only: the learner's client refused the impostor.
    TrueOnly,
    /// Both: the impostor is trusted (or nothing was decided yet).
    Both,
    /// The impostor only: the true device is distrusted.
    ImpostorOnly,
}

impl BotDevices {
    /// From whether the message named the true device and the impostor; `None` for neither.
    pub fn from_keys(true_device: bool, impostor: bool) -> Option<BotDevices> {
        match (true_device, impostor) {
            (true, false) => Some(BotDevices::TrueOnly),
            (true, true) => Some(BotDevices::Both),
            (false, true) => Some(BotDevices::ImpostorOnly),
            (false, false) => None,
        }
    }
}

/// The hex digits of a fingerprint as clients show it: 64, grouped by 8.
const GROUP: usize = 8;

/// Whether `text` contains a fingerprint of `fingerprints` (hex, any case, with or without the
/// `05` type byte): one of its groups of eight hex digits, however the learner separated or
/// cased them. A group is 32 bits: a chance match in ordinary text is negligible.
pub fn mentions_fingerprint(text: &str, fingerprints: &[String]) -> bool {
    let typed: String = text
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if typed.len() < GROUP {
        return false;
    }
    fingerprints.iter().any(|fp| {
        let fp = fp.to_ascii_lowercase();
        let fp = match fp.len() {
            66 => &fp[2..],
            _ => &fp[..],
        };
        fp.len() >= GROUP
            && fp
                .as_bytes()
                .chunks(GROUP)
                .filter(|g| g.len() == GROUP)
                .any(|g| typed.contains(std::str::from_utf8(g).unwrap_or("")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FP: &str = "57bcac63cd75ea1190d5a3be2bb8a1ccaf0ab0f4c32f33cce1e2d8d2bbd1d044";

    #[test]
    fn a_fingerprint_is_recognised_however_it_was_typed() {
        let fps = [FP.to_owned()];
        for typed in [
            "my fingerprint is 57bcac63 cd75ea11",
            "57BCAC63-CD75EA11-90D5A3BE",
            "is it e1e2d8d2?",
            "05:57:bc:ac:63",
        ] {
            assert!(mentions_fingerprint(typed, &fps), "{typed}");
        }
        for not in ["hello", "57bcac6", "deadbeef cafebabe", ""] {
            assert!(!mentions_fingerprint(not, &fps), "{not}");
        }
        let with_type_byte = [format!("05{FP}")];
        assert!(mentions_fingerprint("bbd1d044", &with_type_byte));
    }

    #[test]
    fn protocol_names_round_trip() {
        for p in [Protocol::Otr, Protocol::Omemo] {
            assert_eq!(Protocol::parse(p.name()), Some(p));
        }
        assert_eq!(Protocol::parse(" OMEMO "), Some(Protocol::Omemo));
        assert_eq!(Protocol::parse("pgp"), None);
    }
}
