//! The transitions of the lesson.

use super::secret::{check_secret, completion_code};
use super::{
    strip_markup, Action, EndReason, Env, Event, Finished, LessonError, Msg, Param, Progress,
    SmpBy, Stage,
};

mod finished;
mod omemo;
use finished::{completed, verified};

type Step = Result<(Stage, Vec<Action>), LessonError>;

/// Handles one event: the next stage and the actions, or why the event is impossible.
pub fn step(stage: &Stage, event: &Event, env: &Env) -> Step {
    let impossible = || LessonError::Impossible {
        stage: stage.name(),
        event: event.name(),
    };
    match stage {
        Stage::Ended(_) => Err(LessonError::SessionOver),
        _ if *event == Event::Reset => Ok(reset(stage)),
        _ if *event == Event::Kill => Ok(ended_from_outside(
            stage,
            Msg::EndedByOperator,
            EndReason::Operator,
        )),
        Stage::Verified(f) => verified(f, event),
        Stage::Completed(f) => completed(f, event),
        Stage::Omemo(s) => omemo::step(s, event, env),
        Stage::Waiting(p) | Stage::Plaintext(p) | Stage::Encrypted(p) | Stage::Verifying(p, _) => {
            learning(stage, p.clone(), event, env).ok_or_else(impossible)?
        }
    }
}

/// The stage before verification with new progress.
fn with(stage: &Stage, p: Progress) -> Stage {
    match stage {
        Stage::Waiting(_) => Stage::Waiting(p),
        Stage::Plaintext(_) => Stage::Plaintext(p),
        Stage::Encrypted(_) => Stage::Encrypted(p),
        Stage::Verifying(_, by) => Stage::Verifying(p, *by),
        other => other.clone(),
    }
}

fn is_private(stage: &Stage) -> bool {
    matches!(stage, Stage::Encrypted(_) | Stage::Verifying(..))
}

fn expire(actions_before: Vec<Action>) -> Step {
    let mut actions = actions_before;
    actions.extend([
        Action::ShowStatus(Msg::ExpiredStatus),
        Action::EndOtr,
        Action::EndSession,
    ]);
    Ok((Stage::Ended(EndReason::Expired), actions))
}

/// A teacher's reset, at any stage: the learner hears of it, OTR ends (the client shows that
/// the private conversation ended), and the session is over; the course page starts the next.
fn reset(stage: &Stage) -> (Stage, Vec<Action>) {
    ended_from_outside(stage, Msg::ResetByTeacher, EndReason::Reset)
}

/// The session ended by someone else than the learner (a teacher, the operator): `msg` says
/// so, OTR ends, and whoever ended it removes the session.
fn ended_from_outside(stage: &Stage, msg: Msg, why: EndReason) -> (Stage, Vec<Action>) {
    let mut actions = vec![Action::say(msg)];
    if stage.protocol() == crate::Protocol::Otr {
        actions.push(Action::EndOtr);
    }
    (Stage::Ended(why), actions)
}

fn warning(minutes_left: u64) -> Action {
    Action::Say {
        msg: Msg::Warning,
        params: vec![("n", Param::Count(minutes_left))],
    }
}

/// What to ask once OTR is private: SMP (started by the bot if allowed) or a secret first.
fn ask_for_smp(mut p: Progress, env: &Env, mut actions: Vec<Action>) -> (Stage, Vec<Action>) {
    if !p.secret_set {
        actions.push(Action::say(Msg::AskSecretFirst));
        (Stage::Encrypted(p), actions)
    } else if env.may_start_smp {
        p.warned = false;
        actions.extend([
            Action::say(Msg::BotStartsSmp),
            Action::StartSmp { question: None },
        ]);
        (Stage::Verifying(p, SmpBy::Bot), actions)
    } else {
        actions.push(Action::say(Msg::AskSmp));
        (Stage::Encrypted(p), actions)
    }
}

/// Events before verification. `None` means impossible in this stage.
fn learning(stage: &Stage, mut p: Progress, event: &Event, env: &Env) -> Option<Step> {
    let private = is_private(stage);
    let mut acts = Vec::new();
    if !matches!(
        event,
        Event::Warn { .. } | Event::Expire | Event::Subscribed
    ) {
        p.warned = false;
        acts.push(Action::ResetTimers);
    }
    let ok = |s: Stage, a: Vec<Action>| Some(Ok((s, a)));
    match event {
        Event::Subscribed => {
            let a = if matches!(stage, Stage::Waiting(_)) {
                vec![Action::say(Msg::Greeting)]
            } else {
                Vec::new()
            };
            ok(stage.clone(), a)
        }
        Event::Warn { minutes_left } => {
            if p.warned {
                return ok(stage.clone(), Vec::new());
            }
            p.warned = true;
            ok(with(stage, p), vec![warning(*minutes_left)])
        }
        Event::Expire => Some(expire(vec![Action::say(Msg::Expired)])),
        Event::Reset => Some(Ok(reset(stage))),
        Event::Kill => Some(Ok(ended_from_outside(
            stage,
            Msg::EndedByOperator,
            EndReason::Operator,
        ))),
        Event::MessageReceived { text, encrypted } => {
            let text = strip_markup(text);
            if text.is_empty() {
                return ok(with(stage, p), acts);
            }
            match (stage, *encrypted) {
                (Stage::Waiting(_), false) => {
                    acts.push(Action::say(Msg::PlaintextHello));
                    acts.push(Action::say(Msg::OtrHints));
                    ok(Stage::Plaintext(p), acts)
                }
                (Stage::Plaintext(_), false) => {
                    p.reminders += 1;
                    acts.push(Action::say(Msg::PlaintextReminder));
                    acts.push(Action::say(Msg::OtrHints));
                    if env.has_help_url && p.reminders >= 2 {
                        acts.push(Action::say(Msg::MoreHelp));
                    }
                    ok(Stage::Plaintext(p), acts)
                }
                (Stage::Encrypted(_), true) => {
                    if p.secret_set && env.may_start_smp {
                        let (s, a) = ask_for_smp(p, env, acts);
                        return ok(s, a);
                    }
                    acts.push(Action::say(if p.secret_set {
                        Msg::AskSmp
                    } else {
                        Msg::AskSecretFirst
                    }));
                    ok(Stage::Encrypted(p), acts)
                }
                (Stage::Encrypted(_) | Stage::Verifying(..), false) => {
                    acts.push(Action::say(Msg::UnencryptedWhileOtr));
                    ok(with(stage, p), acts)
                }
                (Stage::Verifying(..), true) => {
                    acts.push(Action::say(Msg::SmpInProgress));
                    ok(with(stage, p), acts)
                }
                // Encrypted text without OTR being private cannot happen.
                _ => None,
            }
        }
        Event::OtrEnabled | Event::OtrAlreadySetup => {
            if private {
                // A refresh: a running SMP exchange does not survive a new AKE.
                acts.push(Action::say(Msg::OtrStillSecure));
                if matches!(stage, Stage::Verifying(..)) {
                    acts.push(Action::say(Msg::SmpAborted));
                }
                let (s, a) = ask_for_smp(p, env, acts);
                return ok(s, a);
            }
            acts.push(Action::say(if *event == Event::OtrEnabled {
                Msg::OtrSecure
            } else {
                Msg::OtrAutomatic
            }));
            let (s, a) = ask_for_smp(p, env, acts);
            ok(s, a)
        }
        Event::OtrFailed => {
            acts.push(Action::say(Msg::OtrFailed));
            ok(with(stage, p), acts)
        }
        Event::OtrDisabled => {
            if !private {
                return ok(with(stage, p), acts);
            }
            p.interrupted = true;
            // The learner's side has ended: the bot ends its own too, or its explanation
            // could not be sent (OTR refuses to write into a finished conversation).
            acts.push(Action::EndOtr);
            acts.push(Action::say(Msg::OtrEnded));
            acts.push(Action::say(Msg::OtrHints));
            ok(Stage::Plaintext(p), acts)
        }
        Event::SmpStarted | Event::SmpQuestionUsed => {
            if !private {
                return None;
            }
            if !p.secret_set {
                acts.extend([Action::AbortSmp, Action::say(Msg::SmpNoSecret)]);
                return ok(Stage::Encrypted(p), acts);
            }
            if *event == Event::SmpQuestionUsed {
                acts.push(Action::say(Msg::SmpQuestion));
            }
            acts.push(Action::RespondSmp);
            ok(Stage::Verifying(p, SmpBy::Learner), acts)
        }
        Event::SmpAborted => match stage {
            Stage::Verifying(..) => {
                acts.push(Action::say(Msg::SmpAborted));
                if env.may_start_smp {
                    acts.push(Action::say(Msg::BotWillRetry));
                }
                ok(Stage::Encrypted(p), acts)
            }
            // Our own abort coming back, or the learner cancelling nothing.
            Stage::Encrypted(_) => ok(Stage::Encrypted(p), acts),
            _ => None,
        },
        Event::CorrectSecretReceived => {
            if !matches!(stage, Stage::Verifying(..)) {
                return None;
            }
            let code = completion_code(env.random);
            acts.push(Action::Say {
                msg: Msg::SmpSucceeded,
                params: vec![("code", Param::Plain(code.clone()))],
            });
            let f = Finished {
                code,
                attempts_left: env.code_attempts.max(1),
                encrypted: true,
                warned: false,
            };
            ok(Stage::Verified(f), acts)
        }
        Event::IncorrectSecretReceived => {
            if !matches!(stage, Stage::Verifying(..)) {
                return None;
            }
            p.smp_failures += 1;
            acts.push(Action::say(Msg::SmpFailed));
            if env.may_start_smp {
                acts.push(Action::say(Msg::BotWillRetry));
            }
            ok(Stage::Encrypted(p), acts)
        }
        Event::UnsafeSecretReceived => {
            p.secret_set = false;
            if matches!(stage, Stage::Verifying(..)) {
                acts.push(Action::AbortSmp);
            }
            acts.extend([Action::VoidSecret, Action::say(Msg::SecretInChat)]);
            let next = match stage {
                Stage::Verifying(..) => Stage::Encrypted(p),
                Stage::Waiting(_) => Stage::Plaintext(p),
                _ => with(stage, p),
            };
            ok(next, acts)
        }
        Event::SecretReceived { secret } => {
            if let Err(weak) = check_secret(secret) {
                let mut params = vec![("reason", Param::Text(weak.msgid().into()))];
                params.extend(weak.params().into_iter().map(|(k, v)| (k, Param::Plain(v))));
                acts.extend([
                    Action::RefuseSecret(weak),
                    Action::Say {
                        msg: Msg::SecretRefused,
                        params,
                    },
                ]);
                return ok(with(stage, p), acts);
            }
            acts.push(Action::StoreSecret(secret.clone()));
            p.secret_set = true;
            match stage {
                Stage::Encrypted(_) => {
                    acts.push(Action::say(Msg::SecretStored));
                    let (s, a) = ask_for_smp(p, env, acts);
                    ok(s, a)
                }
                Stage::Verifying(..) => {
                    acts.push(Action::say(Msg::SecretStoredNextTime));
                    ok(with(stage, p), acts)
                }
                _ => {
                    acts.push(Action::say(Msg::SecretStored));
                    ok(with(stage, p), acts)
                }
            }
        }
        Event::CompletionCodeEntered { .. } => Some(Err(LessonError::NoCodeYet)),
        // The OTR lesson does not read OMEMO (the bot routes by the session's lesson).
        Event::OmemoReceived { .. } | Event::OmemoUnreadable => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(actions: &[Action]) -> Vec<Msg> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Say { msg, .. } => Some(*msg),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn hello_in_plain_text_then_reminder() {
        let env = Env::default();
        let hi = Event::MessageReceived {
            text: "hello".into(),
            encrypted: false,
        };
        let (s, a) = step(&Stage::start(false), &hi, &env).unwrap();
        assert_eq!(s.name(), "plaintext");
        assert_eq!(said(&a), [Msg::PlaintextHello, Msg::OtrHints]);
        assert_eq!(a[0], Action::ResetTimers);
        let (s, a) = step(&s, &hi, &env).unwrap();
        assert_eq!(said(&a), [Msg::PlaintextReminder, Msg::OtrHints]);
        assert!(matches!(s, Stage::Plaintext(Progress { reminders: 1, .. })));
    }

    #[test]
    fn success_gives_a_code_from_the_random_bytes() {
        let env = Env {
            random: [0, 1, 2, 3, 4, 5, 6, 7],
            code_attempts: 4,
            ..Env::default()
        };
        let verifying = Stage::Verifying(
            Progress {
                secret_set: true,
                ..Progress::default()
            },
            SmpBy::Learner,
        );
        let (s, a) = step(&verifying, &Event::CorrectSecretReceived, &env).unwrap();
        assert!(a.iter().any(
            |x| matches!(x, Action::Say { msg: Msg::SmpSucceeded, params }
            if params.contains(&("code", Param::Plain("0123-4567".into()))))
        ));
        match s {
            Stage::Verified(f) => {
                assert_eq!(
                    (f.code.as_str(), f.attempts_left, f.encrypted),
                    ("0123-4567", 4, true)
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_reset_is_told_ends_otr_and_the_session_at_any_stage() {
        let done = crate::Finished {
            code: "0123-4567".into(),
            attempts_left: 4,
            encrypted: true,
            warned: false,
        };
        for stage in [
            Stage::start(false),
            Stage::Encrypted(Progress::default()),
            Stage::Verified(done.clone()),
            Stage::Completed(done),
        ] {
            let (s, a) = step(&stage, &Event::Reset, &Env::default()).unwrap();
            assert_eq!(s, Stage::Ended(EndReason::Reset), "{}", stage.name());
            assert_eq!(a, [Action::say(Msg::ResetByTeacher), Action::EndOtr]);
        }
        let omemo = Stage::start_with(crate::Protocol::Omemo, false);
        let (s, a) = step(&omemo, &Event::Reset, &Env::default()).unwrap();
        assert_eq!(s, Stage::Ended(EndReason::Reset));
        assert_eq!(a, [Action::say(Msg::ResetByTeacher)], "no OTR to end");
        assert_eq!(
            step(&s, &Event::Reset, &Env::default()),
            Err(LessonError::SessionOver)
        );
        let (s, a) = step(&Stage::start(false), &Event::Kill, &Env::default()).unwrap();
        assert_eq!(s, Stage::Ended(EndReason::Operator));
        assert_eq!(a, [Action::say(Msg::EndedByOperator), Action::EndOtr]);
    }

    #[test]
    fn expiry_says_so_shows_the_status_then_ends() {
        let (s, a) = step(&Stage::start(true), &Event::Expire, &Env::default()).unwrap();
        assert_eq!(s, Stage::Ended(EndReason::Expired));
        assert_eq!(
            a,
            [
                Action::say(Msg::Expired),
                Action::ShowStatus(Msg::ExpiredStatus),
                Action::EndOtr,
                Action::EndSession
            ]
        );
    }

    #[test]
    fn otr_ended_by_the_learner_is_ended_by_the_bot_before_it_explains() {
        let env = Env::default();
        let p = Progress {
            secret_set: true,
            ..Progress::default()
        };
        let (s, a) = step(&Stage::Encrypted(p), &Event::OtrDisabled, &env).unwrap();
        assert_eq!(s.name(), "plaintext");
        let at = |x: &Action| a.iter().position(|y| y == x);
        let (end, say) = (at(&Action::EndOtr), at(&Action::say(Msg::OtrEnded)));
        assert!(end.is_some() && end < say, "{a:?}");
    }

    #[test]
    fn smp_without_otr_is_impossible() {
        let err = step(&Stage::start(true), &Event::SmpStarted, &Env::default()).unwrap_err();
        assert_eq!(
            err,
            LessonError::Impossible {
                stage: "waiting",
                event: "smp_started"
            }
        );
    }
}
