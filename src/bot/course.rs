//! What the course pages ask of the lesson. The lesson owns every decision about what a
//! learner entered there (a shared secret, a completion code): the page sends the entry,
//! the learner's turn runs it under the learner's lock, writes what it decided in one
//! transaction, tells the chat, and answers the page here.

use super::teach::{stage_of, Teacher, TurnError};
use crate::lesson::{self, secret::SecretWeakness, Action, LessonError, Stage};
use crate::store::{GradeNote, Session};

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

impl Teacher {
    /// The learner entered a completion code on the course page.
    pub async fn code_entered(&self, jid: &str, code: &str) -> Result<CodeVerdict, TurnError> {
        let ev = lesson::Event::CompletionCodeEntered {
            code: code.to_owned(),
        };
        let Some((first, turn)) = self.decide(jid, ev).await? else {
            return Ok(CodeVerdict::NoSession);
        };
        Ok(match first {
            Ok(actions) => {
                let refused = actions.iter().find_map(|a| match a {
                    Action::RefuseCode { attempts_left } => Some(*attempts_left),
                    _ => None,
                });
                match refused {
                    Some(0) => CodeVerdict::Voided,
                    Some(n) => CodeVerdict::Refused { attempts_left: n },
                    None if actions.contains(&Action::AcceptCode) => {
                        CodeVerdict::Accepted(turn.grade.unwrap_or(GradeNote::NoOutcomeService))
                    }
                    None => CodeVerdict::NotYet,
                }
            }
            Err(LessonError::AlreadyCompleted) => CodeVerdict::AlreadyDone,
            Err(LessonError::SessionOver) => CodeVerdict::NoSession,
            Err(_) => CodeVerdict::NotYet,
        })
    }

    /// The learner chose a shared secret on the course page.
    pub async fn secret_entered(
        &self,
        jid: &str,
        secret: &str,
    ) -> Result<SecretVerdict, TurnError> {
        let ev = lesson::Event::SecretReceived {
            secret: secret.to_owned(),
        };
        let Some((first, _)) = self.decide(jid, ev).await? else {
            return Ok(SecretVerdict::NoSession);
        };
        Ok(match first {
            Ok(actions) => actions
                .iter()
                .find_map(|a| match a {
                    Action::RefuseSecret(w) => Some(SecretVerdict::Refused(*w)),
                    _ => None,
                })
                .unwrap_or(SecretVerdict::Stored),
            Err(LessonError::SessionOver) => SecretVerdict::NoSession,
            Err(_) => SecretVerdict::AlreadyVerified,
        })
    }
}

/// What the course page shows of a session's lesson: its stage, derived from the lesson's
/// own state (the only place the code and its attempts are kept).
pub fn lesson_stage(session: &Session) -> Option<Stage> {
    stage_of(session).ok()
}

/// Completion-code attempts left, when a code has been given and not yet entered.
pub fn code_attempts_left(session: &Session) -> Option<u8> {
    match lesson_stage(session)? {
        Stage::Verified(f) => Some(f.attempts_left),
        _ => None,
    }
}
