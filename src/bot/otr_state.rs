//! One learner's conversation state as the bot keeps it: the OTR account (this session's own
//! key and instance tag) and channel, and the translation of OTR events into lesson events.

use crate::lesson::{self, secret::reveals_secret, strip_markup};
use crate::otr::smp::SmpEvent;
use crate::otr::{self, Account, Channel, PrivateKey};
use crate::store::{self, SecretBytes};
use serde::{Deserialize, Serialize};

/// The OTR side of one learner's session, persisted as one blob before anything made from it
/// is sent (so an AES-CTR counter is never reused after a crash).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OtrState {
    /// This session's account: a fresh DSA key from the pool and an instance tag.
    pub account: Account,
    /// The channel to the learner.
    pub channel: Channel,
}

/// Why a learner's OTR state could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The pooled key could not be decoded or is not a valid DSA key.
    #[error("session key: {0}")]
    Key(String),
    /// The state could not be encoded.
    #[error("encoding the OTR state: {0}")]
    Encode(String),
    /// The stored channel state does not decode.
    #[error("stored OTR state: {0}")]
    Decode(String),
}

impl OtrState {
    /// A fresh state for `bot_jid` from a pool key (five MPIs p, q, g, y, x).
    pub fn from_pool_key(bot_jid: &str, key: &[u8]) -> Result<OtrState, StateError> {
        let [p, q, g, y, x] =
            store::decode_dsa_key(key).map_err(|e| StateError::Key(e.to_string()))?;
        let key = PrivateKey::from_components(&p, &q, &g, &y, &x)
            .map_err(|e| StateError::Key(e.to_string()))?;
        let account = Account::new(bot_jid, key).map_err(|e| StateError::Key(e.to_string()))?;
        Ok(OtrState {
            account,
            channel: Channel::new(),
        })
    }

    /// Encodes the state for the store.
    pub fn encode(&self) -> Result<SecretBytes, StateError> {
        bincode::serde::encode_to_vec(self, bincode::config::standard())
            .map(SecretBytes::new)
            .map_err(|e| StateError::Encode(e.to_string()))
    }

    /// Decodes a stored state.
    pub fn decode(bytes: &[u8]) -> Result<OtrState, StateError> {
        bincode::serde::decode_from_slice(bytes, bincode::config::standard())
            .map(|(s, _)| s)
            .map_err(|e| StateError::Decode(e.to_string()))
    }
}

/// What one OTR event means for the bot.
#[derive(Debug, Clone, PartialEq)]
pub enum Meaning {
    /// Feed this event to the lesson.
    Lesson(lesson::Event),
    /// Nothing for the lesson (logged).
    Nothing,
}

/// Translates an OTR event of `channel`; `secret` is the learner's shared secret, to catch it
/// in chat.
pub fn meaning(ev: otr::Event, secret: Option<&str>, channel: &Channel) -> Meaning {
    use otr::Event as E;
    match ev {
        // The learner's client sent the DH-Commit: it started OTR by itself, on the whitespace
        // tag of the bot's plain text (starting by hand sends a query, and the bot commits).
        E::GoneSecure { instance, .. } => Meaning::Lesson(
            if channel
                .session(instance)
                .and_then(|s| s.secure())
                .is_some_and(|s| !s.we_committed)
            {
                lesson::Event::OtrAlreadySetup
            } else {
                lesson::Event::OtrEnabled
            },
        ),
        // A new AKE in a private conversation (a refresh): the lesson says it is still private,
        // and that a running authentication ended with the old session.
        E::StillSecure { .. } => Meaning::Lesson(lesson::Event::OtrEnabled),
        E::GoneInsecure { .. } => Meaning::Lesson(lesson::Event::OtrDisabled),
        E::Message {
            text, encrypted, ..
        } => {
            let plain = strip_markup(&text);
            if secret.is_some_and(|s| reveals_secret(&plain, s)) {
                Meaning::Lesson(lesson::Event::UnsafeSecretReceived)
            } else {
                Meaning::Lesson(lesson::Event::MessageReceived {
                    text: plain,
                    encrypted,
                })
            }
        }
        E::Smp { event, .. } => smp_meaning(event),
        E::Problem(otr::Problem::Ake(_)) => Meaning::Lesson(lesson::Event::OtrFailed),
        E::UnverifiedFingerprint { .. } | E::Tlvs { .. } | E::Symkey { .. } | E::Problem(_) => {
            Meaning::Nothing
        }
    }
}

/// An OTR problem for the log: a received OTR error's text (the peer's words) shows only when
/// `logging.log_user_msgs` is on.
pub struct LoggedProblem<'a>(pub &'a otr::Problem);

impl std::fmt::Display for LoggedProblem<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            otr::Problem::ReceivedError(text) => {
                write!(f, "ReceivedError({})", crate::logging::UserText(text))
            }
            other => write!(f, "{other:?}"),
        }
    }
}

/// The lesson's view of an SMP progress event (the learner verifies the bot).
fn smp_meaning(ev: SmpEvent) -> Meaning {
    let lesson_event = match ev {
        SmpEvent::AskForSecret => lesson::Event::SmpStarted,
        SmpEvent::AskForAnswer(_) => lesson::Event::SmpQuestionUsed,
        SmpEvent::Success => lesson::Event::CorrectSecretReceived,
        SmpEvent::Failure => lesson::Event::IncorrectSecretReceived,
        // A failed proof or a protocol error ends the exchange like an abort: explain, retry.
        SmpEvent::Aborted | SmpEvent::Cheated | SmpEvent::Error => lesson::Event::SmpAborted,
        SmpEvent::InProgress(_) => return Meaning::Nothing,
    };
    Meaning::Lesson(lesson_event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_in_chat_is_caught_after_markup_is_stripped() {
        let ev = otr::Event::Message {
            instance: 0,
            text: "my secret is <b>correct horse</b>".into(),
            encrypted: true,
        };
        assert_eq!(
            meaning(ev, Some("correct horse"), &Channel::new()),
            Meaning::Lesson(lesson::Event::UnsafeSecretReceived)
        );
        let ev = otr::Event::Message {
            instance: 0,
            text: "hello<br>there".into(),
            encrypted: false,
        };
        assert!(matches!(
            meaning(ev, Some("correct horse"), &Channel::new()),
            Meaning::Lesson(lesson::Event::MessageReceived {
                encrypted: false,
                ..
            })
        ));
    }

    #[test]
    fn a_refresh_reaches_the_lesson() {
        let ch = Channel::new();
        assert_eq!(
            meaning(otr::Event::StillSecure { instance: 0 }, None, &ch),
            Meaning::Lesson(lesson::Event::OtrEnabled)
        );
    }

    #[test]
    fn state_round_trips_and_garbage_is_an_error() {
        let key = store::default_dsa_key();
        let s = OtrState::from_pool_key("bot@example.org", &key).unwrap();
        let back = OtrState::decode(s.encode().unwrap().expose()).unwrap();
        assert_eq!(back.account.instance_tag, s.account.instance_tag);
        assert!(OtrState::decode(b"garbage").is_err());
        assert!(OtrState::from_pool_key("bot@example.org", b"garbage").is_err());
    }
}
