//! The transitions once the bot is verified: the completion code, in chat and on the page.

use super::{expire, warning, Step};
use crate::secret::code_matches;
use crate::{
    strip_markup, Action, EndReason, Event, Finished, LessonError, Msg, Param, Progress, Stage,
};

/// The code repeated in private, or only a pointer to the page in plain text.
fn done_reply(f: &Finished) -> Action {
    if f.encrypted {
        Action::Say {
            msg: Msg::DoneWithCode,
            params: vec![("code", Param::Plain(f.code.clone()))],
        }
    } else {
        Action::say(Msg::DoneEnterCode)
    }
}

/// What a completion code entered on the page came to.
pub(super) enum CodeCheck {
    /// The right code: the grade goes out; the finished state to complete with.
    Accepted(Finished, Vec<Action>),
    /// A wrong code with attempts left.
    Refused(Finished, Vec<Action>),
    /// A wrong code and the last attempt: the code is void (and the secret with it).
    Void {
        /// Whether the conversation was encrypted when the code died.
        encrypted: bool,
        /// What to do.
        actions: Vec<Action>,
    },
}

/// Checks `code` against the one given (either lesson); `exhausted` is said when it dies.
pub(super) fn check_code(mut f: Finished, code: &str, exhausted: Msg) -> CodeCheck {
    if code_matches(code, &f.code) {
        let actions = vec![
            Action::AcceptCode,
            Action::PostGrade(1.0),
            Action::say(Msg::CodeAccepted),
        ];
        return CodeCheck::Accepted(f, actions);
    }
    f.attempts_left = f.attempts_left.saturating_sub(1);
    let mut actions = vec![Action::RefuseCode {
        attempts_left: f.attempts_left,
    }];
    if f.attempts_left > 0 {
        return CodeCheck::Refused(f, actions);
    }
    actions.extend([Action::VoidSecret, Action::say(exhausted)]);
    CodeCheck::Void {
        encrypted: f.encrypted,
        actions,
    }
}

/// Events once the bot is verified and the code given.
pub(super) fn verified(f: &Finished, event: &Event) -> Step {
    let mut f = f.clone();
    let mut acts = Vec::new();
    if !matches!(
        event,
        Event::Warn { .. } | Event::Expire | Event::Subscribed
    ) {
        f.warned = false;
        acts.push(Action::ResetTimers);
    }
    match event {
        Event::Subscribed => return Ok((Stage::Verified(f), Vec::new())),
        Event::Warn { minutes_left } => {
            if f.warned {
                return Ok((Stage::Verified(f), Vec::new()));
            }
            f.warned = true;
            return Ok((Stage::Verified(f), vec![warning(*minutes_left)]));
        }
        Event::Expire => return expire(vec![Action::say(Msg::Expired)]),
        Event::Reset => return Ok(super::reset(&Stage::Verified(f))),
        Event::Kill => {
            return Ok(super::ended_from_outside(
                &Stage::Verified(f),
                Msg::EndedByOperator,
                EndReason::Operator,
            ))
        }
        Event::MessageReceived { text, encrypted } => {
            if !strip_markup(text).is_empty() {
                f.encrypted = *encrypted;
                acts.push(done_reply(&f));
            }
        }
        Event::OtrEnabled | Event::OtrAlreadySetup => f.encrypted = true,
        Event::OtrDisabled => {
            if f.encrypted {
                f.encrypted = false;
                acts.extend([
                    Action::EndOtr,
                    Action::say(Msg::OtrEndedDone),
                    done_reply(&f),
                ]);
            }
        }
        Event::SmpStarted | Event::SmpQuestionUsed => {
            if !f.encrypted {
                return Err(LessonError::Impossible {
                    stage: "verified",
                    event: event.name(),
                });
            }
            acts.extend([Action::AbortSmp, done_reply(&f)]);
        }
        Event::SmpAborted | Event::OtrFailed => {}
        Event::CorrectSecretReceived | Event::IncorrectSecretReceived => {
            return Err(LessonError::Impossible {
                stage: "verified",
                event: event.name(),
            })
        }
        Event::UnsafeSecretReceived => {
            acts.extend([Action::VoidSecret, Action::say(Msg::SecretInChatDone)]);
        }
        Event::SecretReceived { .. } => return Err(LessonError::AlreadyVerified),
        Event::OmemoReceived { .. } | Event::OmemoUnreadable => {
            return Err(LessonError::Impossible {
                stage: "verified",
                event: event.name(),
            })
        }
        Event::CompletionCodeEntered { code } => {
            match check_code(f, code, Msg::CodeAttemptsExhausted) {
                CodeCheck::Accepted(f, a) => {
                    acts.extend(a);
                    return Ok((Stage::Completed(f), acts));
                }
                CodeCheck::Refused(refused, a) => {
                    acts.extend(a);
                    return Ok((Stage::Verified(refused), acts));
                }
                CodeCheck::Void { encrypted, actions } => {
                    // The code is void. Guessing stops here: a new code needs a new secret on
                    // the course page and a new verification (the exercise once more).
                    acts.extend(actions);
                    let again = Progress::default();
                    let next = if encrypted {
                        Stage::Encrypted(again)
                    } else {
                        Stage::Plaintext(again)
                    };
                    return Ok((next, acts));
                }
            }
        }
    }
    Ok((Stage::Verified(f), acts))
}

/// Events after the grade was posted: polite replies, no more grading.
pub(super) fn completed(f: &Finished, event: &Event) -> Step {
    let same = Stage::Completed(f.clone());
    match event {
        Event::MessageReceived { text, .. } if !strip_markup(text).is_empty() => {
            Ok((same, vec![Action::ResetTimers, Action::say(Msg::Completed)]))
        }
        Event::UnsafeSecretReceived => Ok((
            same,
            vec![Action::VoidSecret, Action::say(Msg::SecretInChatDone)],
        )),
        Event::SmpStarted | Event::SmpQuestionUsed => {
            Ok((same, vec![Action::AbortSmp, Action::say(Msg::Completed)]))
        }
        Event::CompletionCodeEntered { .. } | Event::SecretReceived { .. } => {
            Err(LessonError::AlreadyCompleted)
        }
        Event::CorrectSecretReceived | Event::IncorrectSecretReceived => {
            Err(LessonError::Impossible {
                stage: "completed",
                event: event.name(),
            })
        }
        // Nothing left to teach: the session just runs out quietly.
        Event::Expire => Ok((
            Stage::Ended(EndReason::Expired),
            vec![Action::EndOtr, Action::EndSession],
        )),
        _ => Ok((same, Vec::new())),
    }
}
