//! The lesson machine (both lessons, OTR and OMEMO) with arbitrary event sequences.
//!
//! Checked, besides "never panics": an ended session accepts nothing; a completion code is
//! only given after a successful SMP (OTR) or a message for the bot's true device only
//! (OMEMO), and a grade only for that code; SMP is only started or
//! answered with a stored secret; stored secrets are strong; every message the lesson says
//! comes with a value for each `{placeholder}` of its text (the operator's format strings
//! aside), so that it renders with none left unfilled. That every translation keeps the
//! placeholders of its msgid is the catalogues' test (tests/i18n_catalogues.rs).
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use lesson::secret::{check_secret, code_matches, CODE_BYTES};
use lesson::{step, Action, BotDevices, Env, Event, LessonError, Msg, Param, Protocol, Stage, Text};

#[derive(Arbitrary, Debug, Clone)]
enum Ev {
    Subscribed,
    OtrEnabled,
    OtrDisabled,
    OtrAlreadySetup,
    OtrFailed,
    SmpStarted,
    SmpQuestionUsed,
    SmpAborted,
    CorrectSecretReceived,
    IncorrectSecretReceived,
    UnsafeSecretReceived,
    MessageReceived {
        text: String,
        encrypted: bool,
    },
    SecretReceived {
        secret: String,
    },
    /// The code the lesson gave (when `exact`), else what was typed.
    CompletionCodeEntered {
        code: String,
        exact: bool,
    },
    Warn {
        minutes_left: u64,
    },
    Expire,
    Reset,
    Kill,
    OmemoReceived {
        text: String,
        devices: u8,
        learner_devices: u32,
    },
    OmemoUnreadable,
}

#[derive(Arbitrary, Debug)]
struct Input {
    omemo: bool,
    secret_set: bool,
    may_start_smp: bool,
    code_attempts: u8,
    has_help_url: bool,
    random: [u8; CODE_BYTES],
    events: Vec<Ev>,
}

/// The operator's format strings, filled in by the application.
const GLOBALS: [&str; 3] = ["project_name", "bot_alias", "help_url"];

/// The names of the `{placeholders}` in `text`.
fn placeholders(text: &str) -> Vec<&str> {
    text.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
        .collect()
}

/// Panics unless every placeholder of `msg` (and of a nested `Param::Text`) has a value.
fn check_params(msg: Msg, params: &[(&'static str, Param)], env: &Env) {
    let texts = match msg.text() {
        Text::One(t) => vec![t],
        Text::Plural(one, many) => vec![one, many],
    };
    let nested = params.iter().filter_map(|(_, p)| match p {
        Param::Text(t) => Some(t.as_str()),
        _ => None,
    });
    for text in texts.into_iter().chain(nested) {
        for name in placeholders(text) {
            let given = params.iter().any(|(k, _)| *k == name);
            assert!(
                given || GLOBALS.contains(&name),
                "{msg:?}: no value for {{{name}}} in {text:?}: {params:?}"
            );
            if name == "help_url" {
                assert!(env.has_help_url, "{msg:?} points to a help URL the operator has not set");
            }
        }
    }
}

fn to_event(e: &Ev, given: Option<&str>) -> Event {
    match e.clone() {
        Ev::Subscribed => Event::Subscribed,
        Ev::OtrEnabled => Event::OtrEnabled,
        Ev::OtrDisabled => Event::OtrDisabled,
        Ev::OtrAlreadySetup => Event::OtrAlreadySetup,
        Ev::OtrFailed => Event::OtrFailed,
        Ev::SmpStarted => Event::SmpStarted,
        Ev::SmpQuestionUsed => Event::SmpQuestionUsed,
        Ev::SmpAborted => Event::SmpAborted,
        Ev::CorrectSecretReceived => Event::CorrectSecretReceived,
        Ev::IncorrectSecretReceived => Event::IncorrectSecretReceived,
        Ev::UnsafeSecretReceived => Event::UnsafeSecretReceived,
        Ev::MessageReceived { text, encrypted } => Event::MessageReceived { text, encrypted },
        Ev::SecretReceived { secret } => Event::SecretReceived { secret },
        Ev::CompletionCodeEntered { code, exact } => Event::CompletionCodeEntered {
            code: match (exact, given) {
                (true, Some(g)) => g.to_owned(),
                _ => code,
            },
        },
        Ev::Warn { minutes_left } => Event::Warn { minutes_left },
        Ev::Expire => Event::Expire,
        Ev::Reset => Event::Reset,
        Ev::Kill => Event::Kill,
        Ev::OmemoReceived {
            text,
            devices,
            learner_devices,
        } => Event::OmemoReceived {
            text,
            devices: match devices % 3 {
                0 => BotDevices::TrueOnly,
                1 => BotDevices::Both,
                _ => BotDevices::ImpostorOnly,
            },
            learner_devices,
        },
        Ev::OmemoUnreadable => Event::OmemoUnreadable,
    }
}

fn secret_set(stage: &Stage) -> Option<bool> {
    match stage {
        Stage::Waiting(p) | Stage::Plaintext(p) | Stage::Encrypted(p) | Stage::Verifying(p, _) => {
            Some(p.secret_set)
        }
        _ => None,
    }
}

fuzz_target!(|input: Input| {
    let env = Env {
        may_start_smp: input.may_start_smp,
        code_attempts: input.code_attempts,
        has_help_url: input.has_help_url,
        random: input.random,
        omemo_fingerprints: vec![
            "57bcac63cd75ea1190d5a3be2bb8a1ccaf0ab0f4c32f33cce1e2d8d2bbd1d044".into(),
        ],
    };
    let protocol = if input.omemo { Protocol::Omemo } else { Protocol::Otr };
    let mut stage = Stage::start_with(protocol, input.secret_set);
    // The completion code given in chat, once SMP has succeeded.
    let mut given: Option<String> = None;
    for e in input.events.iter().take(64) {
        let event = to_event(e, given.as_deref());
        let before = stage.clone();
        let result = step(&stage, &event, &env);
        if before.is_over() {
            assert_eq!(result, Err(LessonError::SessionOver));
            continue;
        }
        let Ok((next, actions)) = result else {
            continue;
        };
        if !before.is_over() && !next.is_over() {
            assert_eq!(before.protocol(), next.protocol(), "a session changed its lesson");
        }
        if next.is_verified() && !before.is_verified() {
            match protocol {
                Protocol::Otr => {
                    assert_eq!(event, Event::CorrectSecretReceived, "code without SMP");
                    assert!(matches!(before, Stage::Verifying(..)));
                }
                Protocol::Omemo => assert!(
                    matches!(event, Event::OmemoReceived { devices: BotDevices::TrueOnly, .. }),
                    "code without a message for the true device only: {event:?}"
                ),
            }
            given = next.finished().map(|f| f.code.clone());
        }
        for a in &actions {
            match a {
                Action::PostGrade(g) => {
                    assert_eq!(*g, 1.0);
                    let Event::CompletionCodeEntered { code } = &event else {
                        panic!("grade without a code: {event:?}");
                    };
                    let issued = given.as_deref().expect("grade before a code was given");
                    assert!(code_matches(code, issued), "grade for a wrong code");
                    assert!(before.is_verified());
                }
                Action::AcceptCode => assert!(next.is_completed()),
                Action::StoreSecret(s) => assert!(check_secret(s).is_ok(), "weak secret stored"),
                Action::StartSmp { question } => {
                    if let Some(q) = question {
                        check_params(*q, &[], &env);
                    }
                    assert!(env.may_start_smp);
                    assert_eq!(secret_set(&next), Some(true), "SMP without a secret");
                }
                Action::RespondSmp => {
                    assert_eq!(secret_set(&before), Some(true), "answered without a secret")
                }
                Action::Say { msg, params } => check_params(*msg, params, &env),
                Action::ShowStatus(msg) => check_params(*msg, &[], &env),
                _ => {}
            }
        }
        if next.is_completed() && !before.is_completed() {
            assert!(before.is_verified(), "completed without a code: {before:?}");
        }
        stage = next;
    }
});
