//! The transitions of the OMEMO lesson: plain text → OMEMO on (not verified) → a message for
//! the bot's true device only (the learner refused the impostor) → the code, as in the OTR
//! lesson.

use super::finished::{check_code, CodeCheck};
use super::{warning, Step};
use crate::omemo::mentions_fingerprint;
use crate::secret::completion_code;
use crate::{
    strip_markup, Action, BotDevices, EndReason, Env, Event, Finished, LessonError, Msg,
    OmemoProgress, OmemoStage, Param, Stage,
};

/// Handles one event of the OMEMO lesson.
pub(super) fn step(stage: &OmemoStage, event: &Event, env: &Env) -> Step {
    match stage {
        OmemoStage::Verified(f) => verified(f, event),
        OmemoStage::Completed(f) => completed(f, event),
        OmemoStage::Waiting(p) | OmemoStage::Plaintext(p) | OmemoStage::Unverified(p) => {
            learning(stage, p.clone(), event, env)
        }
    }
}

fn impossible(stage: &OmemoStage, event: &Event) -> LessonError {
    LessonError::Impossible {
        stage: stage.name(),
        event: event.name(),
    }
}

/// The same stage before verification with new progress.
fn at(stage: &OmemoStage, p: OmemoProgress) -> Stage {
    Stage::Omemo(match stage {
        OmemoStage::Waiting(_) => OmemoStage::Waiting(p),
        OmemoStage::Plaintext(_) => OmemoStage::Plaintext(p),
        _ => OmemoStage::Unverified(p),
    })
}

fn expire() -> Step {
    Ok((
        Stage::Ended(EndReason::Expired),
        vec![
            Action::say(Msg::Expired),
            Action::ShowStatus(Msg::ExpiredStatus),
            Action::EndSession,
        ],
    ))
}

/// Events before the true device is verified.
fn learning(stage: &OmemoStage, mut p: OmemoProgress, event: &Event, env: &Env) -> Step {
    let mut acts = Vec::new();
    if !matches!(
        event,
        Event::Warn { .. } | Event::Expire | Event::Subscribed
    ) {
        p.warned = false;
        acts.push(Action::ResetTimers);
    }
    match event {
        Event::Subscribed => {
            if matches!(stage, OmemoStage::Waiting(_)) && !p.greeted {
                p.greeted = true;
                acts.push(Action::say(Msg::Greeting));
            }
            Ok((at(stage, p), acts))
        }
        Event::Warn { minutes_left } => {
            if p.warned {
                return Ok((Stage::Omemo(stage.clone()), Vec::new()));
            }
            p.warned = true;
            Ok((at(stage, p), vec![warning(*minutes_left)]))
        }
        Event::Expire => expire(),
        Event::MessageReceived {
            text,
            encrypted: false,
        } => {
            let text = strip_markup(text);
            if text.is_empty() {
                return Ok((at(stage, p), acts));
            }
            typed_fingerprint(&text, env, &mut p, &mut acts);
            let next = match stage {
                OmemoStage::Waiting(_) => {
                    acts.extend([
                        Action::say(Msg::OmemoPlaintextHello),
                        Action::say(Msg::OmemoHints),
                    ]);
                    OmemoStage::Plaintext(p)
                }
                OmemoStage::Plaintext(_) => {
                    p.reminders += 1;
                    acts.extend([
                        Action::say(Msg::OmemoPlaintextReminder),
                        Action::say(Msg::OmemoHints),
                    ]);
                    if env.has_help_url && p.reminders >= 2 {
                        acts.push(Action::say(Msg::MoreHelp));
                    }
                    OmemoStage::Plaintext(p)
                }
                _ => {
                    acts.push(Action::say(Msg::OmemoPlainWhileOn));
                    OmemoStage::Unverified(p)
                }
            };
            Ok((Stage::Omemo(next), acts))
        }
        Event::OmemoReceived {
            text,
            devices,
            learner_devices,
        } => {
            typed_fingerprint(&strip_markup(text), env, &mut p, &mut acts);
            if *learner_devices >= 2 && !p.devices_noted {
                p.devices_noted = true;
                acts.push(Action::Say {
                    msg: Msg::OmemoSeveralDevices,
                    params: vec![("n", Param::Count(u64::from(*learner_devices)))],
                });
            }
            let first = !matches!(stage, OmemoStage::Unverified(_));
            match devices {
                BotDevices::TrueOnly => {
                    let code = completion_code(env.random);
                    acts.push(Action::Say {
                        msg: Msg::OmemoVerified,
                        params: vec![("code", Param::Plain(code.clone()))],
                    });
                    let f = Finished {
                        code,
                        attempts_left: env.code_attempts.max(1),
                        encrypted: true,
                        warned: false,
                    };
                    return Ok((Stage::Omemo(OmemoStage::Verified(f)), acts));
                }
                BotDevices::Both if first => acts.extend([
                    Action::say(Msg::OmemoUnverified),
                    Action::say(Msg::OmemoVerifyHints),
                ]),
                BotDevices::Both => {
                    p.impostor_trusted += 1;
                    acts.push(Action::say(Msg::OmemoImpostorTrusted));
                    if p.impostor_trusted == 2 {
                        acts.push(Action::say(Msg::OmemoVerifyHints));
                    }
                    if env.has_help_url && p.impostor_trusted >= 2 {
                        acts.push(Action::say(Msg::MoreHelp));
                    }
                }
                BotDevices::ImpostorOnly => {
                    p.true_distrusted += 1;
                    acts.push(Action::say(Msg::OmemoTrueDistrusted));
                }
            }
            Ok((Stage::Omemo(OmemoStage::Unverified(p)), acts))
        }
        Event::OmemoUnreadable => {
            acts.push(Action::say(Msg::OmemoUnreadable));
            Ok((at(stage, p), acts))
        }
        Event::CompletionCodeEntered { .. } => Err(LessonError::NoCodeYet),
        // No shared secret, no OTR, no SMP in this lesson.
        _ => Err(impossible(stage, event)),
    }
}

/// The teaching moment of a fingerprint typed into the chat.
fn typed_fingerprint(text: &str, env: &Env, p: &mut OmemoProgress, acts: &mut Vec<Action>) {
    if mentions_fingerprint(text, &env.omemo_fingerprints) {
        p.fingerprint_typed += 1;
        acts.push(Action::say(Msg::OmemoFingerprintInChat));
    }
}

/// Events once the true device is verified and the code given.
fn verified(f: &Finished, event: &Event) -> Step {
    let mut f = f.clone();
    let mut acts = Vec::new();
    if !matches!(
        event,
        Event::Warn { .. } | Event::Expire | Event::Subscribed
    ) {
        f.warned = false;
        acts.push(Action::ResetTimers);
    }
    let done = |f: &Finished| Action::Say {
        msg: Msg::DoneWithCode,
        params: vec![("code", Param::Plain(f.code.clone()))],
    };
    match event {
        Event::Subscribed => return Ok((Stage::Omemo(OmemoStage::Verified(f)), Vec::new())),
        Event::Warn { minutes_left } => {
            if f.warned {
                return Ok((Stage::Omemo(OmemoStage::Verified(f)), Vec::new()));
            }
            f.warned = true;
            return Ok((
                Stage::Omemo(OmemoStage::Verified(f)),
                vec![warning(*minutes_left)],
            ));
        }
        Event::Expire => return expire(),
        Event::MessageReceived {
            text,
            encrypted: false,
        } => {
            if !strip_markup(text).is_empty() {
                // The code is not repeated where the servers can read it.
                f.encrypted = false;
                acts.push(Action::say(Msg::DoneEnterCode));
            }
        }
        Event::OmemoReceived { devices, .. } => {
            // Only a message the impostor could not read earns the code again.
            f.encrypted = *devices == BotDevices::TrueOnly;
            match devices {
                BotDevices::TrueOnly => acts.push(done(&f)),
                BotDevices::Both => acts.extend([
                    Action::say(Msg::OmemoImpostorTrusted),
                    Action::say(Msg::DoneEnterCode),
                ]),
                BotDevices::ImpostorOnly => acts.extend([
                    Action::say(Msg::OmemoTrueDistrusted),
                    Action::say(Msg::DoneEnterCode),
                ]),
            }
        }
        Event::OmemoUnreadable => acts.push(Action::say(Msg::OmemoUnreadable)),
        Event::SecretReceived { .. } => return Err(LessonError::AlreadyVerified),
        Event::CompletionCodeEntered { code } => {
            return Ok(match check_code(f, code, Msg::OmemoCodeAttemptsExhausted) {
                CodeCheck::Accepted(f, a) => {
                    acts.extend(a);
                    (Stage::Omemo(OmemoStage::Completed(f)), acts)
                }
                CodeCheck::Refused(f, a) => {
                    acts.extend(a);
                    (Stage::Omemo(OmemoStage::Verified(f)), acts)
                }
                // A new code needs a new message for the true device only.
                CodeCheck::Void { actions, .. } => {
                    acts.extend(actions);
                    let again = OmemoProgress::default();
                    (Stage::Omemo(OmemoStage::Unverified(again)), acts)
                }
            });
        }
        _ => return Err(impossible(&OmemoStage::Verified(f), event)),
    }
    Ok((Stage::Omemo(OmemoStage::Verified(f)), acts))
}

/// Events after the grade was posted: polite replies, no more grading.
fn completed(f: &Finished, event: &Event) -> Step {
    let same = Stage::Omemo(OmemoStage::Completed(f.clone()));
    match event {
        Event::MessageReceived { text, .. } if !strip_markup(text).is_empty() => {
            Ok((same, vec![Action::ResetTimers, Action::say(Msg::Completed)]))
        }
        Event::OmemoReceived { .. } => {
            Ok((same, vec![Action::ResetTimers, Action::say(Msg::Completed)]))
        }
        Event::OmemoUnreadable => Ok((
            same,
            vec![Action::ResetTimers, Action::say(Msg::OmemoUnreadable)],
        )),
        Event::CompletionCodeEntered { .. } | Event::SecretReceived { .. } => {
            Err(LessonError::AlreadyCompleted)
        }
        Event::Expire => Ok((Stage::Ended(EndReason::Expired), vec![Action::EndSession])),
        Event::Subscribed | Event::Warn { .. } | Event::MessageReceived { .. } => {
            Ok((same, Vec::new()))
        }
        _ => Err(impossible(&OmemoStage::Completed(f.clone()), event)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::step;

    fn said(actions: &[Action]) -> Vec<Msg> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Say { msg, .. } => Some(*msg),
                _ => None,
            })
            .collect()
    }

    fn omemo(text: &str, devices: BotDevices) -> Event {
        Event::OmemoReceived {
            text: text.into(),
            devices,
            learner_devices: 1,
        }
    }

    fn start() -> Stage {
        Stage::start_with(crate::Protocol::Omemo, false)
    }

    #[test]
    fn plain_then_both_then_true_only_gives_the_code() {
        let env = Env {
            random: [1, 2, 3, 4, 5, 6, 7, 8],
            ..Env::default()
        };
        let hi = Event::MessageReceived {
            text: "hello".into(),
            encrypted: false,
        };
        let (s, a) = step(&start(), &hi, &env).unwrap();
        assert_eq!(s.name(), "omemo_plaintext");
        assert_eq!(said(&a), [Msg::OmemoPlaintextHello, Msg::OmemoHints]);
        let (s, a) = step(&s, &omemo("hi", BotDevices::Both), &env).unwrap();
        assert_eq!(s.name(), "omemo_unverified");
        assert_eq!(said(&a), [Msg::OmemoUnverified, Msg::OmemoVerifyHints]);
        let (s, a) = step(&s, &omemo("again", BotDevices::Both), &env).unwrap();
        assert_eq!(said(&a), [Msg::OmemoImpostorTrusted]);
        let (s, a) = step(&s, &omemo("", BotDevices::ImpostorOnly), &env).unwrap();
        assert_eq!(said(&a), [Msg::OmemoTrueDistrusted]);
        let (s, a) = step(&s, &omemo("now?", BotDevices::TrueOnly), &env).unwrap();
        assert!(a.contains(&Action::Say {
            msg: Msg::OmemoVerified,
            params: vec![("code", Param::Plain("1234-5678".into()))]
        }));
        assert!(s.is_verified());
        assert_eq!(s.finished().unwrap().code, "1234-5678");
        assert_eq!(s.protocol(), crate::Protocol::Omemo);
        // The code again only for the true device alone.
        let (s, a) = step(&s, &omemo("code?", BotDevices::Both), &env).unwrap();
        assert_eq!(said(&a), [Msg::OmemoImpostorTrusted, Msg::DoneEnterCode]);
        let (s, a) = step(&s, &omemo("code?", BotDevices::TrueOnly), &env).unwrap();
        assert_eq!(said(&a), [Msg::DoneWithCode]);
        let code = Event::CompletionCodeEntered {
            code: "1234-5678".into(),
        };
        let (s, a) = step(&s, &code, &env).unwrap();
        assert!(s.is_completed());
        assert!(a.contains(&Action::PostGrade(1.0)));
        assert_eq!(step(&s, &code, &env), Err(LessonError::AlreadyCompleted));
    }

    #[test]
    fn a_typed_fingerprint_and_several_devices_are_taught_once_each() {
        let fp = "57bcac63cd75ea1190d5a3be2bb8a1ccaf0ab0f4c32f33cce1e2d8d2bbd1d044";
        let env = Env {
            omemo_fingerprints: vec![fp.into()],
            ..Env::default()
        };
        let ev = Event::OmemoReceived {
            text: "is it 57BCAC63 CD75EA11?".into(),
            devices: BotDevices::Both,
            learner_devices: 2,
        };
        let (s, a) = step(&start(), &ev, &env).unwrap();
        assert_eq!(
            said(&a),
            [
                Msg::OmemoFingerprintInChat,
                Msg::OmemoSeveralDevices,
                Msg::OmemoUnverified,
                Msg::OmemoVerifyHints
            ]
        );
        let (_, a) = step(&s, &ev, &env).unwrap();
        assert_eq!(
            said(&a),
            [Msg::OmemoFingerprintInChat, Msg::OmemoImpostorTrusted]
        );
    }

    #[test]
    fn otr_events_and_secrets_are_impossible_and_the_last_wrong_code_voids_it() {
        let env = Env {
            code_attempts: 1,
            ..Env::default()
        };
        for ev in [
            Event::OtrEnabled,
            Event::SmpStarted,
            Event::SecretReceived {
                secret: "a long enough secret".into(),
            },
        ] {
            assert!(step(&start(), &ev, &env).is_err(), "{ev:?}");
        }
        let (s, _) = step(&start(), &omemo("x", BotDevices::TrueOnly), &env).unwrap();
        let wrong = Event::CompletionCodeEntered {
            code: "0000-0001".into(),
        };
        let (s, a) = step(&s, &wrong, &env).unwrap();
        assert_eq!(s.name(), "omemo_unverified");
        assert_eq!(said(&a), [Msg::OmemoCodeAttemptsExhausted]);
    }

    #[test]
    fn expiry_ends_without_otr() {
        let (s, a) = step(&start(), &Event::Expire, &Env::default()).unwrap();
        assert_eq!(s, Stage::Ended(EndReason::Expired));
        assert!(!a.contains(&Action::EndOtr));
        assert!(a.contains(&Action::EndSession));
    }

    #[test]
    fn an_unreadable_message_earns_nothing_and_asks_for_it_again() {
        let env = Env::default();
        let hi = Event::MessageReceived {
            text: "hello".into(),
            encrypted: false,
        };
        let (s, _) = step(&start(), &hi, &env).unwrap();
        let (after, a) = step(&s, &Event::OmemoUnreadable, &env).unwrap();
        assert_eq!(after, s, "the stage does not move");
        assert_eq!(said(&a), [Msg::OmemoUnreadable]);
        assert!(a.contains(&Action::ResetTimers));
        let (s, _) = step(&s, &omemo("hi", BotDevices::TrueOnly), &env).unwrap();
        let (after, a) = step(&s, &Event::OmemoUnreadable, &env).unwrap();
        assert_eq!(after, s, "the code stays as it was");
        assert_eq!(said(&a), [Msg::OmemoUnreadable]);
    }
}
