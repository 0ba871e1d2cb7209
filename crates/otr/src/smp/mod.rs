//! The Socialist Millionaires' Protocol (SMP) as a pure state machine, both roles, as libotr.
//!
//! TLVs 2 to 7 go in through [`SmpState::on_tlv`]; the TLVs to send inside data messages and a
//! progress event come back in an [`SmpStep`]. A failed check or an out-of-order message
//! resets the state and sends an abort TLV (libotr's applications do the same on CHEATED and
//! ERROR). The state is plain serialisable data; its secrets are zeroized when dropped.

mod secret;
mod steps;
mod tlv;

use serde::{Deserialize, Serialize};

pub use secret::secret;
pub use steps::CheckError;
pub use tlv::{PayloadError, Tlv, SMP1, SMP1Q, SMP2, SMP3, SMP4, SMP_ABORT};

use crate::group::Exponent;
pub use steps::{ReceivedMsg1, SentMsg1, SentMsg2, SentMsg3};

/// The result of an SMP exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmpOutcome {
    /// Both secrets are equal: the peer is verified.
    Verified,
    /// The secrets differ.
    Failed,
    /// One side aborted, or a message came out of order.
    Aborted,
    /// A received value or proof did not check out.
    Cheated,
}

/// Progress of SMP, as libotr's OtrlSMPEvent (with its percentages).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmpEvent {
    /// The peer started SMP without a question: ask the user for the secret (25 %).
    AskForSecret,
    /// The peer started SMP with this question: ask the user for the answer (25 %).
    AskForAnswer(String),
    /// The exchange goes on (20 % sent message 1, 40 % sent 2, 60 % sent 3).
    InProgress(u8),
    /// The secrets match (100 %).
    Success,
    /// The secrets differ (100 %).
    Failure,
    /// The peer sent a bad value or proof; an abort was sent.
    Cheated,
    /// The peer aborted.
    Aborted,
    /// A message came that the current state does not expect; an abort was sent.
    Error,
}

impl SmpEvent {
    /// Progress in percent, as libotr reports it.
    pub fn percent(&self) -> u8 {
        match self {
            SmpEvent::AskForSecret | SmpEvent::AskForAnswer(_) => 25,
            SmpEvent::InProgress(p) => *p,
            SmpEvent::Success | SmpEvent::Failure => 100,
            SmpEvent::Cheated | SmpEvent::Aborted | SmpEvent::Error => 0,
        }
    }

    /// The outcome this event ends the exchange with, if it ends it.
    pub fn outcome(&self) -> Option<SmpOutcome> {
        match self {
            SmpEvent::Success => Some(SmpOutcome::Verified),
            SmpEvent::Failure => Some(SmpOutcome::Failed),
            SmpEvent::Cheated => Some(SmpOutcome::Cheated),
            SmpEvent::Aborted | SmpEvent::Error => Some(SmpOutcome::Aborted),
            SmpEvent::AskForSecret | SmpEvent::AskForAnswer(_) | SmpEvent::InProgress(_) => None,
        }
    }
}

/// What one SMP input produced: TLVs to send (in order) and an event for the user.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SmpStep {
    /// TLVs to send to the peer inside an encrypted data message.
    pub send: Vec<Tlv>,
    /// What to tell the user, if anything.
    pub event: Option<SmpEvent>,
    /// Why a received message was refused (with [`SmpEvent::Cheated`]), for logs.
    pub check_error: Option<CheckError>,
}

impl SmpStep {
    /// The outcome of the exchange, if this step ended it.
    pub fn outcome(&self) -> Option<SmpOutcome> {
        self.event.as_ref().and_then(SmpEvent::outcome)
    }

    /// A step that sends one TLV and reports an event.
    fn new(send: Tlv, event: SmpEvent) -> SmpStep {
        SmpStep {
            send: vec![send],
            event: Some(event),
            check_error: None,
        }
    }

    /// A step that only reports an event.
    fn event(event: SmpEvent) -> SmpStep {
        SmpStep {
            send: Vec::new(),
            event: Some(event),
            check_error: None,
        }
    }
}

/// Misuse of the SMP API by the local user (never caused by network input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SmpError {
    /// `respond` was called but no SMP message 1 is waiting for an answer.
    #[error("no SMP request is waiting for an answer")]
    NotAwaitingSecret,
    /// The question contains a NUL byte, which the TLV format cannot carry.
    #[error("the SMP question contains a NUL byte")]
    QuestionContainsNul,
}

/// The SMP state of one OTR session (spec: SMPSTATE_EXPECT1..4).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmpState {
    /// No exchange under way (SMPSTATE_EXPECT1).
    #[default]
    Expect1,
    /// SMP message 1 received and checked; waiting for the user's secret (still EXPECT1).
    AwaitingSecret {
        /// Data kept from message 1.
        received: Box<ReceivedMsg1>,
        /// The question of an SMP1Q message.
        question: Option<String>,
    },
    /// Sent message 1, waiting for message 2 (SMPSTATE_EXPECT2).
    Expect2(Box<SentMsg1>),
    /// Sent message 2, waiting for message 3 (SMPSTATE_EXPECT3).
    Expect3(Box<SentMsg2>),
    /// Sent message 3, waiting for message 4 (SMPSTATE_EXPECT4).
    Expect4(Box<SentMsg3>),
}

impl std::fmt::Debug for SmpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SmpState::Expect1 => "Expect1",
            SmpState::AwaitingSecret { .. } => "AwaitingSecret",
            SmpState::Expect2(_) => "Expect2",
            SmpState::Expect3(_) => "Expect3",
            SmpState::Expect4(_) => "Expect4",
        })
    }
}

impl SmpState {
    /// A state with no exchange under way.
    pub fn new() -> SmpState {
        SmpState::Expect1
    }

    /// Whether an exchange is under way (anything but a fresh EXPECT1).
    pub fn in_progress(&self) -> bool {
        !matches!(self, SmpState::Expect1)
    }

    /// Whether the peer's SMP request waits for our answer (`respond`).
    pub fn awaiting_secret(&self) -> bool {
        matches!(self, SmpState::AwaitingSecret { .. })
    }

    /// The question of the SMP request waiting for an answer, if any.
    pub fn question(&self) -> Option<&str> {
        match self {
            SmpState::AwaitingSecret { question, .. } => question.as_deref(),
            _ => None,
        }
    }

    /// Starts SMP as initiator with the secret x (see [`secret`]) and an optional question.
    ///
    /// An exchange under way is dropped and replaced, as libotr does.
    pub fn start(&mut self, x: Exponent, question: Option<&str>) -> Result<SmpStep, SmpError> {
        if question.is_some_and(|q| q.contains('\0')) {
            return Err(SmpError::QuestionContainsNul);
        }
        let (state, payload) = steps::step1(x);
        *self = SmpState::Expect2(Box::new(state));
        let tlv = match question {
            None => Tlv {
                typ: SMP1,
                value: payload,
            },
            Some(q) => {
                let mut value = Vec::with_capacity(q.len() + 1 + payload.len());
                value.extend_from_slice(q.as_bytes());
                value.push(0);
                value.extend_from_slice(&payload);
                Tlv { typ: SMP1Q, value }
            }
        };
        Ok(SmpStep::new(tlv, SmpEvent::InProgress(20)))
    }

    /// Answers the waiting SMP request with the secret y (see [`secret`]).
    pub fn respond(&mut self, y: Exponent) -> Result<SmpStep, SmpError> {
        let SmpState::AwaitingSecret { received, .. } = &*self else {
            return Err(SmpError::NotAwaitingSecret);
        };
        let (state, payload) = steps::step2b(received, &y);
        *self = SmpState::Expect3(Box::new(state));
        let tlv = Tlv {
            typ: SMP2,
            value: payload,
        };
        Ok(SmpStep::new(tlv, SmpEvent::InProgress(40)))
    }

    /// Aborts the exchange at the user's request: returns the abort TLV to send.
    pub fn abort(&mut self) -> SmpStep {
        *self = SmpState::Expect1;
        SmpStep {
            send: vec![Tlv::abort()],
            ..SmpStep::default()
        }
    }

    /// Forgets any exchange without telling the peer (when the session leaves ENCRYPTED).
    pub fn reset(&mut self) {
        *self = SmpState::Expect1;
    }

    /// Handles a received TLV; TLVs of other types than 2 to 7 are ignored.
    pub fn on_tlv(&mut self, tlv: &Tlv) -> SmpStep {
        let state = std::mem::take(self);
        match (tlv.typ, state) {
            (SMP_ABORT, _) => SmpStep::event(SmpEvent::Aborted),
            (SMP1Q, SmpState::Expect1 | SmpState::AwaitingSecret { .. }) => {
                if tlv.value.is_empty() {
                    return error();
                }
                let (question, payload) = tlv::split_question(&tlv.value);
                self.received_msg1(payload, Some(question))
            }
            (SMP1, SmpState::Expect1 | SmpState::AwaitingSecret { .. }) => {
                self.received_msg1(&tlv.value, None)
            }
            (SMP2, SmpState::Expect2(s)) => match steps::step3(&s, &tlv.value) {
                Ok((next, payload)) => {
                    *self = SmpState::Expect4(Box::new(next));
                    let tlv = Tlv {
                        typ: SMP3,
                        value: payload,
                    };
                    SmpStep::new(tlv, SmpEvent::InProgress(60))
                }
                Err(e) => cheated(e),
            },
            (SMP3, SmpState::Expect3(s)) => match steps::step4(&s, &tlv.value) {
                Ok((equal, payload)) => {
                    let tlv = Tlv {
                        typ: SMP4,
                        value: payload,
                    };
                    SmpStep::new(tlv, result(equal))
                }
                Err(e) => cheated(e),
            },
            (SMP4, SmpState::Expect4(s)) => match steps::step5(&s, &tlv.value) {
                Ok(equal) => SmpStep::event(result(equal)),
                Err(e) => cheated(e),
            },
            (SMP1 | SMP1Q | SMP2 | SMP3 | SMP4, _) => error(),
            (_, state) => {
                *self = state;
                SmpStep::default()
            }
        }
    }

    /// Checks SMP message 1 and waits for the user's secret, or reports cheating.
    fn received_msg1(&mut self, payload: &[u8], question: Option<String>) -> SmpStep {
        match steps::step2a(payload) {
            Ok(received) => {
                let event = match &question {
                    None => SmpEvent::AskForSecret,
                    Some(q) => SmpEvent::AskForAnswer(q.clone()),
                };
                *self = SmpState::AwaitingSecret {
                    received: Box::new(received),
                    question,
                };
                SmpStep::event(event)
            }
            Err(e) => cheated(e),
        }
    }
}

/// The event for the final comparison.
fn result(equal: bool) -> SmpEvent {
    if equal {
        SmpEvent::Success
    } else {
        SmpEvent::Failure
    }
}

/// A failed check: send an abort and report cheating (the state is already EXPECT1).
fn cheated(e: CheckError) -> SmpStep {
    SmpStep {
        check_error: Some(e),
        ..SmpStep::new(Tlv::abort(), SmpEvent::Cheated)
    }
}

/// An out-of-order message: send an abort and report an error (the state is already EXPECT1).
fn error() -> SmpStep {
    SmpStep::new(Tlv::abort(), SmpEvent::Error)
}

#[cfg(test)]
mod tests;
