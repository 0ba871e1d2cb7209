//! Scripted walks through the whole lesson, one per persona of issue 6, with every reply
//! rendered in en_GB, nl_NL and de_DE from the committed catalogues.

use otrbot::i18n::speech::render;
use otrbot::i18n::Catalogs;
use otrbot::lesson::{
    step, Action, EndReason, Env, Event, LessonError, Msg, Param, Progress, Stage,
};
use std::path::Path;

struct Walk {
    stage: Stage,
    env: Env,
    catalogs: Catalogs,
    log: Vec<Action>,
}

impl Walk {
    fn new(env: Env) -> Walk {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
        Walk {
            stage: Stage::start(false),
            env,
            catalogs: Catalogs::load(&dir).unwrap(),
            log: Vec::new(),
        }
    }

    /// Applies an event; returns the actions, checking every Say renders fully everywhere.
    fn on(&mut self, event: Event) -> Vec<Action> {
        let (next, actions) = step(&self.stage, &event, &self.env)
            .unwrap_or_else(|e| panic!("{} + {event:?}: {e}", self.stage.name()));
        for a in &actions {
            if let Action::Say { msg, params } = a {
                for locale in ["en_GB", "nl_NL", "de_DE"] {
                    let globals = [
                        ("project_name", "Privacy 101"),
                        ("bot_alias", "Otto"),
                        ("help_url", "https://help.example/otr"),
                    ];
                    let s = render(&self.catalogs, locale, *msg, params, &globals);
                    assert!(
                        !s.contains('{') && !s.contains('}'),
                        "{locale} {msg:?}: {s}"
                    );
                    if locale != "en_GB" {
                        let en = render(&self.catalogs, "en_GB", *msg, params, &globals);
                        assert_ne!(s, en, "{locale} {msg:?} is not translated");
                    }
                }
            }
        }
        self.stage = next;
        self.log.extend(actions.clone());
        actions
    }

    fn says(&mut self, event: Event) -> Vec<Msg> {
        said(&self.on(event))
    }
}

fn said(actions: &[Action]) -> Vec<Msg> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Say { msg, .. } => Some(*msg),
            _ => None,
        })
        .collect()
}

fn plain(t: &str) -> Event {
    Event::MessageReceived {
        text: t.into(),
        encrypted: false,
    }
}

fn private(t: &str) -> Event {
    Event::MessageReceived {
        text: t.into(),
        encrypted: true,
    }
}

fn secret(s: &str) -> Event {
    Event::SecretReceived { secret: s.into() }
}

fn code(c: &str) -> Event {
    Event::CompletionCodeEntered { code: c.into() }
}

fn env() -> Env {
    Env {
        random: [9, 8, 7, 6, 5, 4, 3, 2],
        ..Env::default()
    }
}

/// Up to a private, unverified conversation with a secret set.
fn to_encrypted(w: &mut Walk) {
    assert_eq!(w.says(Event::Subscribed), [Msg::Greeting]);
    assert_eq!(w.says(secret("purple cow")), [Msg::SecretStored]);
    assert_eq!(
        w.says(plain("<FONT>hello</FONT>")),
        [Msg::PlaintextHello, Msg::OtrHints]
    );
    assert_eq!(w.says(Event::OtrEnabled), [Msg::OtrSecure, Msg::AskSmp]);
    assert_eq!(w.stage.name(), "encrypted");
}

/// The code the lesson now holds (given in chat with SMP's success).
fn issued_code(stage: &Stage) -> String {
    match stage {
        Stage::Verified(f) => f.code.clone(),
        other => panic!("no completion code in {other:?}"),
    }
}

#[test]
fn happy_path_learner_runs_smp() {
    let mut w = Walk::new(env());
    to_encrypted(&mut w);
    let a = w.on(Event::SmpStarted);
    assert!(a.contains(&Action::RespondSmp));
    assert_eq!(w.stage.name(), "verifying");
    assert_eq!(w.says(private("ok?")), [Msg::SmpInProgress]);
    let a = w.on(Event::CorrectSecretReceived);
    let c = issued_code(&w.stage);
    assert_eq!(c, "9876-5432");
    assert!(a.iter().any(
        |x| matches!(x, Action::Say { msg: Msg::SmpSucceeded, params }
        if params.contains(&("code", Param::Plain(c.clone()))))
    ));
    assert_eq!(w.says(private("thanks")), [Msg::DoneWithCode]);
    let a = w.on(code(" 9876 5432 "));
    assert!(a.contains(&Action::AcceptCode));
    assert!(a.contains(&Action::PostGrade(1.0)));
    assert_eq!(w.stage.name(), "completed");
    assert_eq!(w.says(private("bye")), [Msg::Completed]);
    assert_eq!(w.says(plain("bye")), [Msg::Completed]);
    assert_eq!(
        step(&w.stage, &code("9876-5432"), &w.env),
        Err(LessonError::AlreadyCompleted)
    );
    let grades = w
        .log
        .iter()
        .filter(|a| matches!(a, Action::PostGrade(_)))
        .count();
    assert_eq!(grades, 1);
}

#[test]
fn bot_starts_smp_when_allowed() {
    let mut w = Walk::new(Env {
        may_start_smp: true,
        ..env()
    });
    w.on(secret("purple cow"));
    w.on(plain("hi"));
    let a = w.on(Event::OtrEnabled);
    assert_eq!(said(&a), [Msg::OtrSecure, Msg::BotStartsSmp]);
    assert!(a.contains(&Action::StartSmp { question: None }));
    let a = w.on(Event::IncorrectSecretReceived);
    assert_eq!(said(&a), [Msg::SmpFailed, Msg::BotWillRetry]);
    let a = w.on(private("ready"));
    assert!(a.contains(&Action::StartSmp { question: None }));
    w.on(Event::CorrectSecretReceived);
    assert_eq!(w.stage.name(), "verified");
}

#[test]
fn plain_text_only_gets_reminders_with_hints() {
    let mut w = Walk::new(Env {
        has_help_url: true,
        ..env()
    });
    assert_eq!(w.says(plain("hello")), [Msg::PlaintextHello, Msg::OtrHints]);
    assert_eq!(
        w.says(plain("hello?")),
        [Msg::PlaintextReminder, Msg::OtrHints]
    );
    assert_eq!(
        w.says(plain("what now")),
        [Msg::PlaintextReminder, Msg::OtrHints, Msg::MoreHelp]
    );
    assert_eq!(w.says(plain("<br>")), []);
    match &w.stage {
        Stage::Plaintext(p) => assert_eq!(p.reminders, 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn secret_typed_into_chat_is_voided() {
    let mut w = Walk::new(env());
    to_encrypted(&mut w);
    let a = w.on(Event::UnsafeSecretReceived);
    assert!(a.contains(&Action::VoidSecret));
    assert_eq!(said(&a), [Msg::SecretInChat]);
    // No secret now: the learner's SMP is refused until a new one is set.
    let a = w.on(Event::SmpStarted);
    assert!(a.contains(&Action::AbortSmp));
    assert_eq!(said(&a), [Msg::SmpNoSecret]);
    assert_eq!(w.says(private("now?")), [Msg::AskSecretFirst]);
    assert_eq!(
        w.says(secret("green horse")),
        [Msg::SecretStored, Msg::AskSmp]
    );
    w.on(Event::SmpStarted);
    // Typed in chat during SMP: SMP is aborted too.
    let a = w.on(Event::UnsafeSecretReceived);
    assert!(a.contains(&Action::AbortSmp) && a.contains(&Action::VoidSecret));
    assert_eq!(w.stage.name(), "encrypted");
}

#[test]
fn wrong_then_right_secret() {
    let mut w = Walk::new(env());
    to_encrypted(&mut w);
    w.on(Event::SmpStarted);
    assert_eq!(w.says(Event::IncorrectSecretReceived), [Msg::SmpFailed]);
    assert_eq!(w.stage.name(), "encrypted");
    w.on(Event::SmpStarted);
    w.on(Event::CorrectSecretReceived);
    match &w.stage {
        Stage::Verified(f) => assert_eq!(f.code, "9876-5432"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn smp_with_a_question() {
    let mut w = Walk::new(env());
    to_encrypted(&mut w);
    let a = w.on(Event::SmpQuestionUsed);
    assert_eq!(said(&a), [Msg::SmpQuestion]);
    assert!(a.contains(&Action::RespondSmp));
    w.on(Event::CorrectSecretReceived);
    assert_eq!(w.stage.name(), "verified");
}

#[test]
fn smp_aborted_then_retried() {
    let mut w = Walk::new(env());
    to_encrypted(&mut w);
    w.on(Event::SmpStarted);
    assert_eq!(w.says(Event::SmpAborted), [Msg::SmpAborted]);
    assert_eq!(w.stage.name(), "encrypted");
    // Our own abort echoing back changes nothing.
    assert_eq!(w.says(Event::SmpAborted), []);
    w.on(Event::SmpStarted);
    w.on(Event::CorrectSecretReceived);
    assert_eq!(w.stage.name(), "verified");
}

#[test]
fn otr_ended_mid_lesson_and_restarted() {
    let mut w = Walk::new(env());
    to_encrypted(&mut w);
    w.on(Event::SmpStarted);
    assert_eq!(w.says(Event::OtrDisabled), [Msg::OtrEnded, Msg::OtrHints]);
    assert_eq!(w.stage.name(), "plaintext");
    assert_eq!(
        w.says(plain("oops")),
        [Msg::PlaintextReminder, Msg::OtrHints]
    );
    assert_eq!(w.says(Event::OtrEnabled), [Msg::OtrSecure, Msg::AskSmp]);
    w.on(Event::SmpStarted);
    w.on(Event::CorrectSecretReceived);
    // Ending OTR after success: no code in plain text.
    assert_eq!(
        w.says(Event::OtrDisabled),
        [Msg::OtrEndedDone, Msg::DoneEnterCode]
    );
    assert_eq!(w.says(plain("code?")), [Msg::DoneEnterCode]);
    assert_eq!(w.says(Event::OtrAlreadySetup), []);
    assert_eq!(w.says(private("code?")), [Msg::DoneWithCode]);
}

#[test]
fn client_that_starts_otr_by_itself() {
    let mut w = Walk::new(env());
    assert_eq!(
        w.says(Event::OtrAlreadySetup),
        [Msg::OtrAutomatic, Msg::AskSecretFirst]
    );
    assert_eq!(
        w.says(secret("purple cow")),
        [Msg::SecretStored, Msg::AskSmp]
    );
    assert_eq!(
        w.says(Event::OtrEnabled),
        [Msg::OtrStillSecure, Msg::AskSmp]
    );
}

#[test]
fn idle_warned_then_expired() {
    let mut w = Walk::new(env());
    w.on(plain("hi"));
    let a = w.on(Event::Warn { minutes_left: 5 });
    assert_eq!(
        a,
        [Action::Say {
            msg: Msg::Warning,
            params: vec![("n", Param::Count(5))]
        }]
    );
    assert_eq!(w.says(Event::Warn { minutes_left: 4 }), []);
    // Activity resets the warning.
    let a = w.on(plain("still here"));
    assert!(a.contains(&Action::ResetTimers));
    assert_eq!(w.says(Event::Warn { minutes_left: 1 }), [Msg::Warning]);
    let a = w.on(Event::Expire);
    assert_eq!(said(&a), [Msg::Expired]);
    assert!(a.ends_with(&[Action::EndOtr, Action::EndSession]));
    assert_eq!(w.stage, Stage::Ended(EndReason::Expired));
    assert_eq!(
        step(&w.stage, &plain("hello?"), &w.env),
        Err(LessonError::SessionOver)
    );
    // The warning reads naturally in each language, singular and plural.
    for (locale, one, many) in [
        ("en_GB", "in 1 minute unless", "in 5 minutes unless"),
        ("nl_NL", "over 1 minuut", "over 5 minuten"),
        ("de_DE", "in 1 Minute,", "in 5 Minuten,"),
    ] {
        let r = |n| {
            render(
                &w.catalogs,
                locale,
                Msg::Warning,
                &[("n", Param::Count(n))],
                &[],
            )
        };
        assert!(r(1).contains(one), "{locale}: {}", r(1));
        assert!(r(5).contains(many), "{locale}: {}", r(5));
    }
}

#[test]
fn completion_code_wrong_right_and_exhausted() {
    let mut w = Walk::new(Env {
        code_attempts: 3,
        ..env()
    });
    to_encrypted(&mut w);
    w.on(Event::SmpStarted);
    w.on(Event::CorrectSecretReceived);
    let a = w.on(code("0000-0000"));
    assert!(a.contains(&Action::RefuseCode { attempts_left: 2 }));
    let a = w.on(code("9876-543"));
    assert!(a.contains(&Action::RefuseCode { attempts_left: 1 }));
    let a = w.on(code("9876-5432"));
    assert!(a.contains(&Action::PostGrade(1.0)));

    let mut w = Walk::new(Env {
        code_attempts: 2,
        ..env()
    });
    to_encrypted(&mut w);
    w.on(Event::SmpStarted);
    w.on(Event::CorrectSecretReceived);
    w.on(code("nope"));
    let a = w.on(code("still nope"));
    assert!(a.contains(&Action::RefuseCode { attempts_left: 0 }));
    assert_eq!(said(&a), [Msg::CodeAttemptsExhausted]);
    // The code is void and so is the secret: no session ends, nothing is left stuck.
    assert!(a.contains(&Action::VoidSecret));
    assert!(!a.contains(&Action::EndSession));
    assert_eq!(w.stage, Stage::Encrypted(Progress::default()));
    assert!(!w.log.iter().any(|a| matches!(a, Action::PostGrade(_))));
    assert_eq!(
        step(&w.stage, &code("9876-5432"), &w.env),
        Err(LessonError::NoCodeYet),
        "the old code no longer works"
    );
    // A new secret and a new verification give a new code, with fresh attempts.
    assert_eq!(
        w.says(secret("orange giraffe")),
        [Msg::SecretStored, Msg::AskSmp]
    );
    w.on(Event::SmpStarted);
    w.env.random = [7; otrbot::lesson::secret::CODE_BYTES];
    w.on(Event::CorrectSecretReceived);
    let fresh = issued_code(&w.stage);
    assert_ne!(fresh, "9876-5432");
    let a = w.on(code(&fresh));
    assert!(a.contains(&Action::PostGrade(1.0)));
    // The page's message for what is left.
    let nl = render(
        &w.catalogs,
        "nl_NL",
        Msg::CodeRefused,
        &[("n", Param::Count(1))],
        &[],
    );
    assert_eq!(nl, "Die code klopt niet. Je hebt nog 1 poging over.");
    let de = render(
        &w.catalogs,
        "de_DE",
        Msg::CodeRefused,
        &[("n", Param::Count(3))],
        &[],
    );
    assert_eq!(de, "Dieser Code stimmt nicht. Sie haben noch 3 Versuche.");
}

#[test]
fn weak_secret_explained_in_the_learners_language() {
    let mut w = Walk::new(env());
    let a = w.on(secret("abc"));
    let Some(Action::Say { msg, params }) = a.iter().find(|a| matches!(a, Action::Say { .. }))
    else {
        panic!("no reply")
    };
    let nl = render(&w.catalogs, "nl_NL", *msg, params, &[]);
    assert_eq!(nl, "Het gedeelde geheim dat je op de cursuspagina hebt gekozen, is geweigerd: Dit geheim is te kort: gebruik minstens 6 tekens. Kies een ander geheim.");
    let de = render(&w.catalogs, "de_DE", *msg, params, &[]);
    assert!(de.contains("mindestens 6 Zeichen"), "{de}");
    assert_eq!(w.stage, Stage::start(false));
}
