//! The lesson machine with arbitrary event sequences.
//!
//! Checked, besides "never panics": an ended session accepts nothing; a completion code is
//! only given after a successful SMP and a grade only for that code; SMP is only started or
//! answered with a stored secret; stored secrets are strong; every message the lesson says
//! renders in every locale (and in an unknown one) with no placeholder left unfilled.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use otrbot::i18n::Catalogs;
use otrbot::lesson::secret::{check_secret, code_matches, CODE_BYTES};
use otrbot::i18n::speech::render;
use otrbot::lesson::{step, Action, Env, Event, LessonError, Stage};

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
}

#[derive(Arbitrary, Debug)]
struct Input {
    secret_set: bool,
    may_start_smp: bool,
    code_attempts: u8,
    has_help_url: bool,
    random: [u8; CODE_BYTES],
    events: Vec<Ev>,
}

const GLOBALS: [(&str, &str); 3] = [
    ("project_name", "Privacy 101"),
    ("bot_alias", "Otto"),
    ("help_url", "https://help.example.org/"),
];
const PLACEHOLDERS: [&str; 8] = [
    "{n}",
    "{code}",
    "{reason}",
    "{min}",
    "{max}",
    "{help_url}",
    "{bot_alias}",
    "{project_name}",
];

fn catalogs() -> &'static (Catalogs, Vec<String>) {
    static C: OnceLock<(Catalogs, Vec<String>)> = OnceLock::new();
    C.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../locales");
        let c = Catalogs::load(&dir).expect("the committed catalogues load");
        let mut locales = c.locales();
        assert!(locales.len() >= 3, "{locales:?}");
        locales.push("fr_FR".into());
        (c, locales)
    })
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
    let (cats, locales) = catalogs();
    let env = Env {
        may_start_smp: input.may_start_smp,
        code_attempts: input.code_attempts,
        has_help_url: input.has_help_url,
        random: input.random,
    };
    let mut stage = Stage::start(input.secret_set);
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
        if let Stage::Verified(f) = &next {
            if !matches!(before, Stage::Verified(_)) {
                assert_eq!(event, Event::CorrectSecretReceived, "code without SMP");
                assert!(matches!(before, Stage::Verifying(..)));
                given = Some(f.code.clone());
            }
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
                    assert!(matches!(before, Stage::Verified(_)));
                }
                Action::AcceptCode => assert!(matches!(next, Stage::Completed(_))),
                Action::StoreSecret(s) => assert!(check_secret(s).is_ok(), "weak secret stored"),
                Action::StartSmp { .. } => {
                    assert!(env.may_start_smp);
                    assert_eq!(secret_set(&next), Some(true), "SMP without a secret");
                }
                Action::RespondSmp => {
                    assert_eq!(secret_set(&before), Some(true), "answered without a secret")
                }
                Action::Say { msg, params } => {
                    for locale in locales {
                        let text = render(cats, locale, *msg, params, &GLOBALS);
                        assert!(!text.trim().is_empty(), "{msg:?} in {locale} is empty");
                        for p in PLACEHOLDERS {
                            assert!(!text.contains(p), "{msg:?} in {locale}: {p} left in {text}");
                        }
                    }
                }
                _ => {}
            }
        }
        match (&before, &next) {
            (Stage::Verified(_) | Stage::Completed(_), _) => {}
            (_, Stage::Verified(_)) => assert_eq!(event, Event::CorrectSecretReceived),
            (_, Stage::Completed(_)) => panic!("completed without a code: {before:?}"),
            _ => {}
        }
        stage = next;
    }
});
