//! Every stage × every event: a transition or a typed error, never a panic; invariants of
//! the actions; stages survive serialisation.

use lesson::secret::SecretWeakness;
use lesson::{
    step, Action, EndReason, Env, Event, Finished, LessonError, Msg, Param, Progress, SmpBy, Stage,
    Text,
};

fn progress(secret_set: bool) -> Progress {
    Progress {
        secret_set,
        ..Progress::default()
    }
}

fn finished(encrypted: bool, attempts_left: u8) -> Finished {
    Finished {
        code: "ABCD-EFGH".into(),
        attempts_left,
        encrypted,
        warned: false,
    }
}

fn all_stages() -> Vec<Stage> {
    let mut v = Vec::new();
    for s in [false, true] {
        v.push(Stage::Waiting(progress(s)));
        v.push(Stage::Plaintext(progress(s)));
        v.push(Stage::Encrypted(progress(s)));
        v.push(Stage::Verifying(progress(s), SmpBy::Bot));
        v.push(Stage::Verifying(progress(s), SmpBy::Learner));
        v.push(Stage::Verified(finished(s, 3)));
        v.push(Stage::Completed(finished(s, 3)));
    }
    v.push(Stage::Waiting(Progress {
        warned: true,
        ..progress(true)
    }));
    v.push(Stage::Verified(finished(true, 1)));
    v.push(Stage::Ended(EndReason::Expired));
    v
}

fn all_events() -> Vec<Event> {
    let msg = |t: &str, e| Event::MessageReceived {
        text: t.into(),
        encrypted: e,
    };
    vec![
        Event::Subscribed,
        Event::OtrEnabled,
        Event::OtrDisabled,
        Event::OtrAlreadySetup,
        Event::OtrFailed,
        Event::SmpStarted,
        Event::SmpQuestionUsed,
        Event::SmpAborted,
        Event::CorrectSecretReceived,
        Event::IncorrectSecretReceived,
        Event::UnsafeSecretReceived,
        msg("hello", false),
        msg("hello", true),
        msg("<font>hi<br></font>", false),
        msg("<br/>", true),
        msg("", false),
        msg(&"x".repeat(100_000), true),
        Event::SecretReceived {
            secret: "purple cow".into(),
        },
        Event::SecretReceived {
            secret: "123".into(),
        },
        Event::SecretReceived {
            secret: String::new(),
        },
        Event::CompletionCodeEntered {
            code: "abcd efgh".into(),
        },
        Event::CompletionCodeEntered {
            code: "WRONG-CODE".into(),
        },
        Event::CompletionCodeEntered {
            code: "\u{0}\u{ffff}".into(),
        },
        Event::Warn { minutes_left: 5 },
        Event::Warn { minutes_left: 0 },
        Event::Expire,
        Event::OmemoReceived {
            text: "hi".into(),
            devices: lesson::BotDevices::TrueOnly,
            learner_devices: 2,
        },
        Event::OmemoUnreadable,
    ]
}

fn envs() -> Vec<Env> {
    let base = Env {
        random: [1, 2, 3, 4, 5, 6, 7, 8],
        ..Env::default()
    };
    vec![
        base.clone(),
        Env {
            may_start_smp: true,
            has_help_url: true,
            ..base.clone()
        },
        Env {
            code_attempts: 0,
            ..base
        },
    ]
}

const GLOBALS: [&str; 3] = ["project_name", "bot_alias", "help_url"];

fn placeholders(s: &str) -> Vec<String> {
    let mut v = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        let Some(j) = rest[i..].find('}') else { break };
        v.push(rest[i + 1..i + j].to_owned());
        rest = &rest[i + j..];
    }
    v
}

fn check_invariants(before: &Stage, event: &Event, after: &Stage, actions: &[Action]) {
    let ctx = format!("{} + {:?} -> {}", before.name(), event, after.name());
    for a in actions {
        match a {
            Action::Say { msg, params } => {
                let text = match msg.text() {
                    Text::One(t) => t,
                    Text::Plural(t, _) => t,
                };
                for p in placeholders(text) {
                    assert!(
                        GLOBALS.contains(&p.as_str()) || params.iter().any(|(k, _)| *k == p),
                        "{ctx}: {msg:?} lacks {{{p}}}"
                    );
                }
                if let Text::Plural(..) = msg.text() {
                    assert!(params
                        .iter()
                        .any(|(k, v)| *k == "n" && matches!(v, Param::Count(_))));
                }
                // A completion code is only ever sent inside OTR.
                if params.iter().any(|(k, _)| *k == "code") {
                    let private = match (before, after) {
                        (_, Stage::Verified(f)) => f.encrypted,
                        (Stage::Verifying(..), _) => true,
                        _ => false,
                    };
                    assert!(private, "{ctx}: code sent outside OTR");
                }
                if *msg == Msg::MoreHelp {
                    assert!(GLOBALS.contains(&"help_url"));
                }
            }
            Action::StartSmp { .. } | Action::RespondSmp => {
                assert!(
                    matches!(after, Stage::Verifying(..)),
                    "{ctx}: SMP outside Verifying"
                );
            }
            Action::PostGrade(g) => {
                assert_eq!(*g, 1.0);
                assert!(matches!(before, Stage::Verified(_)), "{ctx}");
                assert!(matches!(after, Stage::Completed(_)), "{ctx}");
            }
            Action::ResetTimers => {
                assert!(
                    !matches!(event, Event::Warn { .. } | Event::Expire),
                    "{ctx}"
                );
            }
            _ => {}
        }
    }
    let ends = actions.contains(&Action::EndSession);
    assert_eq!(
        ends,
        after.is_over(),
        "{ctx}: EndSession iff the stage ends"
    );
    if let Event::Expire = event {
        assert!(after.is_over(), "{ctx}");
    }
}

#[test]
fn every_stage_and_event_transitions_or_gives_a_typed_error() {
    let mut ok = 0;
    let mut errors = 0;
    for env in envs() {
        for stage in all_stages() {
            for event in all_events() {
                match step(&stage, &event, &env) {
                    Ok((after, actions)) => {
                        ok += 1;
                        check_invariants(&stage, &event, &after, &actions);
                    }
                    Err(e) => {
                        errors += 1;
                        assert!(!e.to_string().is_empty());
                        if stage.is_over() {
                            assert_eq!(e, LessonError::SessionOver);
                        }
                    }
                }
            }
        }
    }
    assert!(ok > 300 && errors > 50, "ok {ok}, errors {errors}");
}

#[test]
fn impossible_events_are_refused() {
    let env = Env::default();
    let cases: Vec<(Stage, Event, LessonError)> = vec![
        (
            Stage::Waiting(progress(true)),
            Event::SmpStarted,
            LessonError::Impossible {
                stage: "waiting",
                event: "smp_started",
            },
        ),
        (
            Stage::Plaintext(progress(true)),
            Event::CorrectSecretReceived,
            LessonError::Impossible {
                stage: "plaintext",
                event: "correct_secret_received",
            },
        ),
        (
            Stage::Encrypted(progress(true)),
            Event::IncorrectSecretReceived,
            LessonError::Impossible {
                stage: "encrypted",
                event: "incorrect_secret_received",
            },
        ),
        (
            Stage::Plaintext(progress(true)),
            Event::MessageReceived {
                text: "hi".into(),
                encrypted: true,
            },
            LessonError::Impossible {
                stage: "plaintext",
                event: "message_received",
            },
        ),
        (
            Stage::Encrypted(progress(true)),
            Event::CompletionCodeEntered { code: "x".into() },
            LessonError::NoCodeYet,
        ),
        (
            Stage::Verified(finished(true, 3)),
            Event::SecretReceived {
                secret: "purple cow".into(),
            },
            LessonError::AlreadyVerified,
        ),
        (
            Stage::Completed(finished(true, 3)),
            Event::CompletionCodeEntered {
                code: "ABCD-EFGH".into(),
            },
            LessonError::AlreadyCompleted,
        ),
        (
            Stage::Ended(EndReason::Expired),
            Event::Expire,
            LessonError::SessionOver,
        ),
    ];
    for (stage, event, want) in cases {
        assert_eq!(
            step(&stage, &event, &env),
            Err(want),
            "{} {:?}",
            stage.name(),
            event
        );
    }
}

#[test]
fn stages_survive_json_and_bincode() {
    for stage in all_stages() {
        let json = serde_json::to_string(&stage).unwrap();
        assert_eq!(serde_json::from_str::<Stage>(&json).unwrap(), stage);
        let cfg = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&stage, cfg).unwrap();
        let (back, _): (Stage, usize) = bincode::serde::decode_from_slice(&bytes, cfg).unwrap();
        assert_eq!(back, stage);
        assert!(!stage.name().is_empty());
    }
}

#[test]
fn debug_never_shows_secrets_or_codes() {
    let e = Event::SecretReceived {
        secret: "purple cow".into(),
    };
    assert!(!format!("{e:?}").contains("purple"));
    let e = Event::CompletionCodeEntered {
        code: "ABCD-EFGH".into(),
    };
    assert!(!format!("{e:?}").contains("ABCD"));
    let e = Event::MessageReceived {
        text: "my secret".into(),
        encrypted: true,
    };
    assert!(!format!("{e:?}").contains("secret"));
}

#[test]
fn weak_secret_is_refused_in_chat_and_on_the_page() {
    let (stage, actions) = step(
        &Stage::Plaintext(progress(false)),
        &Event::SecretReceived {
            secret: "abc".into(),
        },
        &Env::default(),
    )
    .unwrap();
    assert_eq!(stage, Stage::Plaintext(progress(false)));
    assert!(actions.contains(&Action::RefuseSecret(SecretWeakness::TooShort { min: 6 })));
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::Say {
            msg: Msg::SecretRefused,
            ..
        }
    )));
    assert!(!actions.iter().any(|a| matches!(a, Action::StoreSecret(_))));
}

#[test]
fn a_failed_handshake_is_explained_until_the_bot_is_verified() {
    let env = Env::default();
    for stage in all_stages() {
        let Ok((after, actions)) = step(&stage, &Event::OtrFailed, &env) else {
            assert!(matches!(stage, Stage::Ended(_)), "{stage:?}");
            continue;
        };
        assert_eq!(after.name(), stage.name(), "a failed AKE changes no stage");
        let explained = actions.contains(&Action::say(Msg::OtrFailed));
        let learning = !matches!(stage, Stage::Verified(_) | Stage::Completed(_));
        assert_eq!(explained, learning, "{stage:?}: {actions:?}");
    }
}
