//! The one way from the course pages to the bot. The pages own this API: what a learner does
//! on them that the bot must act on or decide (a JID that needs a session, a JID given up,
//! a shared secret, a completion code) is a call on [`Course`], and what the pages show of a
//! lesson comes back through it. The bot implements it and hands it to [`super::run::start`];
//! `lti` never names the bot, so the dependency runs one way: `bot` → `lti`.

use crate::lesson::{secret::SecretWeakness, Protocol, Stage};
use crate::store::{GradeNote, LtiBinding, Session};

/// What the course pages tell the bot and ask of its lesson.
#[rocket::async_trait]
pub trait Course: Send + Sync {
    /// A learner entered `jid`, which has no session: whitelist it in `locale`, start its
    /// session for `launch` in the lesson the launch chose (the operator's default for
    /// `None`) and bring it to the chat (roster, presence).
    async fn start_session(
        &self,
        jid: &str,
        launch: &LtiBinding,
        locale: &str,
        protocol: Option<Protocol>,
    ) -> Result<Started, CourseError>;

    /// The learner of `launch` entered another JID: end `jid`'s session if it is still
    /// theirs (the chat stops, the roster entry goes when the launch made it).
    async fn end_session(&self, jid: &str, launch: &LtiBinding) -> Result<Ended, CourseError>;

    /// A teacher of `class` (consumer and resource link) resets `jid`: its session ends and a
    /// new one starts for the same learner (a new code, a new OTR key), unless it is not of
    /// that class.
    async fn reset_session(&self, jid: &str, class: &LtiBinding) -> Result<Reset, CourseError>;

    /// The learner chose a shared secret: the lesson's verdict.
    async fn secret_entered(&self, jid: &str, secret: &str) -> Result<SecretVerdict, CourseError>;

    /// The learner entered a completion code: the lesson's verdict.
    async fn code_entered(&self, jid: &str, code: &str) -> Result<CodeVerdict, CourseError>;

    /// Where a session's lesson stands, as the pages show it (`None`: not readable).
    fn stage(&self, session: &Session) -> Option<Stage>;

    /// The bot's true OMEMO device: its id and fingerprint (64 hex digits, no `05`).
    fn omemo_device(&self) -> (u32, String);

    /// The lesson of launches that choose none (`lesson.protocol`).
    fn default_protocol(&self) -> Protocol;
}

/// Why the bot could not act on what a page sent (shown as "something went wrong").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CourseError(pub String);

/// What became of a JID that needed a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// The session started.
    Started,
    /// Another launch took the JID a moment ago.
    InUse,
}

/// What became of a JID the learner gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Its session ended.
    Ended,
    /// It had no session of this learner's: nothing changed.
    NotTheirs,
}

/// What became of a learner a teacher reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// The session ended and a new one started.
    Reset,
    /// No session of that class has this JID: nothing changed.
    NotInClass,
}

/// Whether a session launched as `learner` belongs to the activity `class` was launched for.
pub fn same_activity(learner: &LtiBinding, class: &LtiBinding) -> bool {
    learner.consumer_key == class.consumer_key && learner.resource_link_id == class.resource_link_id
}

/// The lesson's answer to a completion code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeVerdict {
    /// Right: the lesson is complete; what became of the grade.
    Accepted(GradeNote),
    /// Wrong, with attempts left for this code.
    Refused {
        /// Attempts left.
        attempts_left: u8,
    },
    /// Wrong, and the last attempt: the code is void; a new secret and a new verification
    /// give a new one.
    Voided,
    /// No code has been given yet (or the last one was voided).
    NotYet,
    /// The lesson was completed before.
    AlreadyDone,
    /// The learner has no session.
    NoSession,
}

/// The lesson's answer to a shared secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretVerdict {
    /// Stored; the bot verifies with it.
    Stored,
    /// Refused, and why.
    Refused(SecretWeakness),
    /// The bot is already verified: the secret is no longer needed.
    AlreadyVerified,
    /// The learner has no session.
    NoSession,
}

/// Whether two launches are the same learner on the same resource link: one such learner has
/// one JID in the bot at a time, and only they may go on with its session.
pub fn same_learner(a: &LtiBinding, b: &LtiBinding) -> bool {
    a.consumer_key == b.consumer_key
        && a.user_id == b.user_id
        && a.resource_link_id == b.resource_link_id
}

/// Completion-code attempts left, when a code has been given and not yet entered.
pub fn code_attempts_left(stage: Option<&Stage>) -> Option<u8> {
    let stage = stage?;
    stage
        .is_verified()
        .then(|| stage.finished().map(|f| f.attempts_left))
        .flatten()
}
