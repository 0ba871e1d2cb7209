//! The records kept in the store's trees.

use serde::{Deserialize, Serialize};
use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Where a whitelist entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WhitelistSource {
    /// The `whitelist` table of the settings file.
    Settings,
    /// An operator's `otrbot whitelist add`.
    Cli,
    /// A learner's LTI launch.
    Lti,
}

impl WhitelistSource {
    /// The lower-case name used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            WhitelistSource::Settings => "settings",
            WhitelistSource::Cli => "cli",
            WhitelistSource::Lti => "lti",
        }
    }
}

/// A JID allowed to talk to the bot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhitelistEntry {
    /// The locale the bot speaks to this JID in.
    pub locale: String,
    /// Where the entry came from.
    pub source: WhitelistSource,
    /// When it was added (Unix seconds).
    pub added_at: u64,
}

/// Secret bytes (OTR keys, channel state, shared secrets): wiped on drop, hidden from `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(transparent)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Wraps bytes; the caller's copy should be the one moved in.
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretBytes(bytes)
    }

    /// The bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl From<&[u8]> for SecretBytes {
    fn from(b: &[u8]) -> Self {
        SecretBytes(b.to_vec())
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes>)", self.0.len())
    }
}

/// The LTI 1.1 launch a session came from, for grade passback and the return link.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LtiBinding {
    /// `oauth_consumer_key` of the launch.
    pub consumer_key: String,
    /// `resource_link_id`.
    pub resource_link_id: String,
    /// `context_id` (the course), if sent.
    pub context_id: Option<String>,
    /// `user_id`.
    pub user_id: String,
    /// `lis_outcome_service_url`, if the LMS takes grades.
    pub outcome_service_url: Option<String>,
    /// `lis_result_sourcedid`, if the LMS takes grades.
    pub result_sourcedid: Option<String>,
    /// `launch_presentation_return_url`, if sent.
    pub return_url: Option<String>,
    /// `roles`, split at commas.
    pub roles: Vec<String>,
}

impl LtiBinding {
    /// The key under which one LMS learner (consumer, resource link, user) is known.
    pub fn learner_key(&self) -> String {
        format!(
            "{}\n{}\n{}",
            self.consumer_key, self.resource_link_id, self.user_id
        )
    }
}

/// How often the learner tried things worth reporting. (Completion-code attempts are the
/// lesson's: its stage holds the code and what is left of them.)
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempts {
    /// SMP runs started.
    pub smp: u32,
    /// Shared secrets set on the course page.
    pub secret: u32,
}

/// A learner's session: the lesson's state and what the bot knows about the learner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The lesson stage's name, for listings (written with `lesson_state`, from it).
    pub stage: String,
    /// The lesson state machine's own encoding (opaque here): the owner of the lesson's
    /// decisions, the completion code among them.
    pub lesson_state: Vec<u8>,
    /// The learner's locale.
    pub locale: String,
    /// When the session began (Unix seconds).
    pub created_at: u64,
    /// The learner's last activity (Unix seconds); deadlines count from here.
    pub last_activity: u64,
    /// The shared secret for SMP, once the learner chose one.
    pub shared_secret: Option<SecretBytes>,
    /// Attempt counters.
    pub attempts: Attempts,
    /// The LTI launch, when the session came from one.
    pub lti: Option<LtiBinding>,
}

impl Session {
    /// A session at `stage` that starts at `now` with nothing else known yet.
    pub fn new(stage: impl Into<String>, locale: impl Into<String>, now: u64) -> Self {
        Session {
            stage: stage.into(),
            lesson_state: Vec::new(),
            locale: locale.into(),
            created_at: now,
            last_activity: now,
            shared_secret: None,
            attempts: Attempts::default(),
            lti: None,
        }
    }
}

/// The inactivity timeouts, in seconds (settings `lesson.warning_timeout`, `session_timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Seconds of inactivity before a warning.
    pub warning: u64,
    /// Seconds of inactivity before the session expires.
    pub session: u64,
}

/// When a session is due for a warning and for expiry (Unix seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlines {
    /// The warning, or `None` once it was given (or when it would come after expiry).
    pub warn_at: Option<u64>,
    /// The expiry.
    pub expire_at: u64,
}

impl Deadlines {
    /// The deadlines after activity at `now`.
    pub fn after_activity(now: u64, t: Timeouts) -> Self {
        let expire_at = now.saturating_add(t.session);
        let warn_at = now.saturating_add(t.warning);
        Deadlines {
            warn_at: (warn_at < expire_at).then_some(warn_at),
            expire_at,
        }
    }

    /// The warning's time, if it is due at `now` and not given yet.
    pub fn warning_due(&self, now: u64) -> Option<u64> {
        self.warn_at.filter(|w| *w <= now)
    }

    /// Whether the session has expired at `now`.
    pub fn expired(&self, now: u64) -> bool {
        self.expire_at <= now
    }
}

/// A session as stored: the lesson's data and the deadlines the store maintains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    /// The session.
    pub session: Session,
    /// Its entries in the deadline index.
    pub deadlines: Deadlines,
}

/// What became of the grade when a learner completed the lesson.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum GradeNote {
    /// Grade 1.0 is in the outbox for the LMS's outcome service.
    Queued,
    /// The launch had no outcome service (or no result id), or there was no launch: no
    /// grade was sent.
    NoOutcomeService,
    /// The launcher teaches the course: no grade was sent.
    Staff,
}

/// A grade waiting to be sent to the LMS (LTI 1.1 Basic Outcomes `replaceResult`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradeRequest {
    /// The outcome service URL.
    pub url: String,
    /// `lis_result_sourcedid`.
    pub sourcedid: String,
    /// The score, 0.0 to 1.0.
    pub score: f64,
    /// The consumer key whose secret signs the request.
    pub consumer_key: String,
    /// Tries so far.
    pub attempts: u32,
    /// Not before this time (Unix seconds).
    pub next_try: u64,
    /// Why the last try failed.
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_after_activity() {
        let t = Timeouts {
            warning: 1500,
            session: 1800,
        };
        assert_eq!(
            Deadlines::after_activity(100, t),
            Deadlines {
                warn_at: Some(1600),
                expire_at: 1900
            }
        );
        let late = Timeouts {
            warning: 1800,
            session: 1800,
        };
        assert_eq!(Deadlines::after_activity(0, late).warn_at, None);
        assert_eq!(Deadlines::after_activity(u64::MAX, t).expire_at, u64::MAX);
    }

    #[test]
    fn secrets_are_hidden() {
        let s = SecretBytes::new(b"hunter2".to_vec());
        assert_eq!(format!("{s:?}"), "SecretBytes(<7 bytes>)");
    }
}
