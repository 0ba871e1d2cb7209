#![doc = include_str!("../README.md")]
//!
//! The teaching state machine: `(stage, event) -> (stage, actions)`, pure.
//!
//! [`step`] takes the current [`Stage`], an [`Event`] and the [`Env`] (settings and fresh
//! random bytes) and returns the next stage and the [`Action`]s the bot must carry out, or a
//! [`LessonError`] for an event that cannot happen in that stage. No I/O, no clock reads.

#![deny(missing_docs)]

/// Marks an English text for `otrbot extract`; evaluates to the text itself.
#[macro_export]
macro_rules! tr {
    ($s:literal) => {
        $s
    };
}

/// Marks an English singular/plural pair for `otrbot extract`; evaluates to the pair.
#[macro_export]
macro_rules! trn {
    ($s:literal, $p:literal) => {
        ($s, $p)
    };
}

mod machine;
pub mod markup;
pub mod msg;
pub mod omemo;
pub mod secret;

pub use machine::step;
pub use markup::strip_markup;
pub use msg::{Msg, Param, Text};
pub use omemo::{BotDevices, OmemoProgress, OmemoStage, Protocol};

use secret::SecretWeakness;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How many times a learner may type a wrong completion code by default.
pub const DEFAULT_CODE_ATTEMPTS: u8 = 5;

/// What the lesson remembers before the bot has been verified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The learner has set a (strong enough) shared secret on the course page.
    pub secret_set: bool,
    /// Plain-text reminders given so far.
    pub reminders: u32,
    /// Failed SMP attempts so far.
    pub smp_failures: u32,
    /// The inactivity warning was given since the last activity.
    pub warned: bool,
    /// OTR ended mid-lesson at least once.
    pub interrupted: bool,
}

/// What the lesson remembers once the bot has been verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finished {
    /// The completion code given in chat (`XXXX-XXXX`).
    pub code: String,
    /// Completion-code attempts left on the course page.
    pub attempts_left: u8,
    /// The OTR conversation is still private (the code may be repeated in chat).
    pub encrypted: bool,
    /// The inactivity warning was given since the last activity.
    pub warned: bool,
}

/// Who started the running SMP exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmpBy {
    /// The bot (`may_start_smp`).
    Bot,
    /// The learner (the bot answers).
    Learner,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EndReason {
    /// No activity until `session_timeout`.
    Expired,
    /// A teacher started the learner's exercise again.
    Reset,
    /// The bot's operator ended the session.
    Operator,
}

/// Where a learner is in the lesson.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Stage {
    /// Whitelisted; the learner has not written yet.
    Waiting(Progress),
    /// The learner has written in plain text; asked to start OTR.
    Plaintext(Progress),
    /// OTR is private but the bot is not verified yet.
    Encrypted(Progress),
    /// SMP is running.
    Verifying(Progress, SmpBy),
    /// SMP succeeded and the code was given; waiting for the code on the course page. The
    /// code and its attempts live here only: the course page asks the lesson.
    Verified(Finished),
    /// The code was entered and the grade posted.
    Completed(Finished),
    /// The session is over; only deletion remains.
    Ended(EndReason),
    /// The OMEMO lesson (after the OTR stages, so that their stored encoding stays the same).
    Omemo(OmemoStage),
}

impl Stage {
    /// The stage of a newly whitelisted learner.
    pub fn start(secret_set: bool) -> Stage {
        Stage::Waiting(Progress {
            secret_set,
            ..Progress::default()
        })
    }

    /// The stage of a newly whitelisted learner of `protocol`'s lesson.
    pub fn start_with(protocol: Protocol, secret_set: bool) -> Stage {
        match protocol {
            Protocol::Otr => Stage::start(secret_set),
            Protocol::Omemo => Stage::Omemo(OmemoStage::Waiting(OmemoProgress::default())),
        }
    }

    /// Which lesson this stage belongs to.
    pub fn protocol(&self) -> Protocol {
        match self {
            Stage::Omemo(_) => Protocol::Omemo,
            _ => Protocol::Otr,
        }
    }

    /// The code and its attempts, once the bot is verified (either lesson).
    pub fn finished(&self) -> Option<&Finished> {
        match self {
            Stage::Verified(f)
            | Stage::Completed(f)
            | Stage::Omemo(OmemoStage::Verified(f) | OmemoStage::Completed(f)) => Some(f),
            _ => None,
        }
    }

    /// Whether the code was entered and the grade posted (either lesson).
    pub fn is_completed(&self) -> bool {
        matches!(
            self,
            Stage::Completed(_) | Stage::Omemo(OmemoStage::Completed(_))
        )
    }

    /// Whether the code is given and waits for the course page (either lesson).
    pub fn is_verified(&self) -> bool {
        matches!(
            self,
            Stage::Verified(_) | Stage::Omemo(OmemoStage::Verified(_))
        )
    }

    /// A stable name for the store and logs.
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Omemo(s) => s.name(),
            Stage::Waiting(_) => "waiting",
            Stage::Plaintext(_) => "plaintext",
            Stage::Encrypted(_) => "encrypted",
            Stage::Verifying(..) => "verifying",
            Stage::Verified(_) => "verified",
            Stage::Completed(_) => "completed",
            Stage::Ended(_) => "ended",
        }
    }

    /// Whether the session is over (nothing but deletion is left).
    pub fn is_over(&self) -> bool {
        matches!(self, Stage::Ended(_))
    }
}

/// Something that happened, from OTR, the chat, the course page or the clock.
#[derive(Clone, PartialEq, Eq)]
pub enum Event {
    /// The learner has added the bot (presence subscription accepted).
    Subscribed,
    /// OTR went secure (an AKE finished).
    OtrEnabled,
    /// OTR ended (the learner's client finished the conversation).
    OtrDisabled,
    /// OTR was found already secure (the client started it by itself).
    OtrAlreadySetup,
    /// Starting OTR failed: an AKE message from the learner's client did not verify.
    OtrFailed,
    /// The learner started SMP without a question.
    SmpStarted,
    /// The learner started SMP with a question.
    SmpQuestionUsed,
    /// SMP was aborted (by either side).
    SmpAborted,
    /// SMP succeeded: the secrets match.
    CorrectSecretReceived,
    /// SMP failed: the secrets differ.
    IncorrectSecretReceived,
    /// The learner typed the shared secret into the chat.
    UnsafeSecretReceived,
    /// A chat message (markup is stripped here).
    MessageReceived {
        /// The message body as received.
        text: String,
        /// Whether it came through OTR.
        encrypted: bool,
    },
    /// The course page sent a shared secret.
    SecretReceived {
        /// The secret as typed.
        secret: String,
    },
    /// The course page sent a completion code (the bot-secret check).
    CompletionCodeEntered {
        /// The code as typed.
        code: String,
    },
    /// The inactivity warning is due.
    Warn {
        /// Minutes until expiry.
        minutes_left: u64,
    },
    /// The session has expired.
    Expire,
    /// A teacher started the learner's exercise again (the course page makes a new session).
    Reset,
    /// The bot's operator ends the session (`sessions kill`; the store removes it after).
    Kill,
    /// An OMEMO message with a payload from the learner (empty key-transport messages are not
    /// events): which of the bot's devices it was encrypted for, and its text when the bot's
    /// true device could read it.
    OmemoReceived {
        /// The text (markup is stripped here); empty when it was not for the true device.
        text: String,
        /// The bot's devices named by its `<key>` elements.
        devices: BotDevices,
        /// How many OMEMO devices of the learner's account the bot knows of.
        learner_devices: u32,
    },
    /// An OMEMO message with a payload for the bot's true device that it could not decrypt;
    /// it tells nothing of the learner's decisions (its `<key>` elements are unauthenticated).
    OmemoUnreadable,
}

impl Event {
    /// A stable name for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Subscribed => "subscribed",
            Event::OtrEnabled => "otr_enabled",
            Event::OtrDisabled => "otr_disabled",
            Event::OtrAlreadySetup => "otr_already_setup",
            Event::OtrFailed => "otr_failed",
            Event::SmpStarted => "smp_started",
            Event::SmpQuestionUsed => "smp_question_used",
            Event::SmpAborted => "smp_aborted",
            Event::CorrectSecretReceived => "correct_secret_received",
            Event::IncorrectSecretReceived => "incorrect_secret_received",
            Event::UnsafeSecretReceived => "unsafe_secret_received",
            Event::MessageReceived { .. } => "message_received",
            Event::SecretReceived { .. } => "secret_received",
            Event::CompletionCodeEntered { .. } => "bot_secret_checked",
            Event::Warn { .. } => "warn",
            Event::Expire => "expire",
            Event::Reset => "reset",
            Event::Kill => "kill",
            Event::OmemoReceived { .. } => "omemo_received",
            Event::OmemoUnreadable => "omemo_unreadable",
        }
    }
}

impl std::fmt::Debug for Event {
    /// Like the derived form, but never shows secrets, codes or what learners wrote.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::MessageReceived { text, encrypted } => write!(
                f,
                "MessageReceived {{ text: <{} bytes>, encrypted: {encrypted} }}",
                text.len()
            ),
            Event::Warn { minutes_left } => write!(f, "Warn {{ minutes_left: {minutes_left} }}"),
            Event::OmemoReceived {
                text,
                devices,
                learner_devices,
            } => write!(
                f,
                "OmemoReceived {{ text: <{} bytes>, devices: {devices:?}, learner_devices: {learner_devices} }}",
                text.len()
            ),
            other => write!(f, "{}", other.name()),
        }
    }
}

/// What the bot must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Say a message in the learner's locale.
    Say {
        /// Which message.
        msg: Msg,
        /// Its parameters (besides the operator's format strings).
        params: Vec<(&'static str, Param)>,
    },
    /// Start SMP with the stored secret.
    StartSmp {
        /// A question to show the learner, if any.
        question: Option<Msg>,
    },
    /// Answer the learner's SMP request with the stored secret.
    RespondSmp,
    /// Abort the running SMP exchange.
    AbortSmp,
    /// Store this shared secret for the learner (replacing any other).
    StoreSecret(String),
    /// Delete the learner's shared secret.
    VoidSecret,
    /// Tell the course page the code was accepted.
    AcceptCode,
    /// Tell the course page the code was wrong; with no attempts left the code is void and
    /// a new one comes only after a new secret and a new verification.
    RefuseCode {
        /// Attempts left for this code.
        attempts_left: u8,
    },
    /// Tell the course page the secret was refused, and why.
    RefuseSecret(SecretWeakness),
    /// Put this grade (0.0 to 1.0) in the outbox for the LMS.
    PostGrade(f64),
    /// The learner was active: restart the warning and expiry clocks.
    ResetTimers,
    /// Leave the learner this status text: the last presence the learner gets from the bot,
    /// after [`Action::EndSession`] has removed it from the roster (which clears any before).
    ShowStatus(Msg),
    /// End the OTR conversation (send the disconnect).
    EndOtr,
    /// Remove the learner from roster and whitelist and delete the session, secrets, keys.
    EndSession,
}

impl Action {
    /// A `Say` without parameters.
    pub fn say(msg: Msg) -> Action {
        Action::Say {
            msg,
            params: Vec::new(),
        }
    }
}

/// The settings and randomness a step may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    /// The bot starts SMP itself once OTR is private and a secret is set.
    pub may_start_smp: bool,
    /// Completion-code attempts allowed on the course page.
    pub code_attempts: u8,
    /// The operator set a help URL (`{help_url}` may be shown).
    pub has_help_url: bool,
    /// Fresh random bytes for a completion code.
    pub random: [u8; secret::CODE_BYTES],
    /// The fingerprints (hex) of the bot's OMEMO devices, true and impostor, to recognise
    /// one typed into the chat.
    pub omemo_fingerprints: Vec<String>,
}

impl Default for Env {
    fn default() -> Self {
        Env {
            may_start_smp: false,
            code_attempts: DEFAULT_CODE_ATTEMPTS,
            has_help_url: false,
            random: [0; secret::CODE_BYTES],
            omemo_fingerprints: Vec::new(),
        }
    }
}

/// An event that cannot be handled in the current stage.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LessonError {
    /// The event cannot happen in this stage (e.g. SMP without OTR).
    #[error("event {event} is impossible in stage {stage}")]
    Impossible {
        /// The stage's name.
        stage: &'static str,
        /// The event's name.
        event: &'static str,
    },
    /// The session has ended; nothing more can happen.
    #[error("the session has ended")]
    SessionOver,
    /// A completion code was entered before the bot was verified.
    #[error("no completion code has been given yet")]
    NoCodeYet,
    /// The lesson is already completed.
    #[error("the exercise is already completed")]
    AlreadyCompleted,
    /// A shared secret arrived after verification, when it can no longer be used.
    #[error("the bot is already verified")]
    AlreadyVerified,
}
