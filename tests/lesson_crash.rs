//! Crash consistency of the lesson's decisions, on the real code path: the bot's `Teacher`
//! runs a step (SMP succeeds and the code is given; the code is entered on the course page)
//! over a store that stops writing after `n` writes, as if the process died there
//! (`Store::crash_after_writes`, feature `failpoints`); then the store is reopened, as after
//! a restart, and a new `Teacher` answers the course page. For every `n`, the page and the
//! chat agree: a code the stage holds is accepted, a completed lesson has its grade queued,
//! and nothing is half written.

#![cfg(feature = "failpoints")]

mod support;

use otrbot::bot::teach::{Teacher, Teaching};
use otrbot::i18n::Catalogs;
use otrbot::lesson::{self, Finished, Progress, SmpBy, Stage};
use otrbot::lti::CodeVerdict;
use otrbot::store::{self, GradeNote, KeyPool, LtiBinding, SecretBytes, Session, Store, Timeouts};
use std::path::Path;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc;

const JID: &str = "learner@example.org";
const T: Timeouts = Timeouts {
    warning: 1500,
    session: 1800,
};

/// One real pool key for every run (DSA key generation takes a while).
fn key() -> &'static [u8] {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(store::default_dsa_key)
}

fn encode(stage: &Stage) -> Vec<u8> {
    bincode::serde::encode_to_vec(stage, bincode::config::standard()).unwrap()
}

fn stage_in(store: &Store) -> Stage {
    let s = store.session(JID).unwrap().expect("the session survives");
    bincode::serde::decode_from_slice(&s.session.lesson_state, bincode::config::standard())
        .unwrap()
        .0
}

/// A store with the learner's session at `stage`, bound to a launch that takes grades.
fn store_at(dir: &Path, stage: &Stage) -> Store {
    let store = Store::open(dir).unwrap();
    store.pool_add(&SecretBytes::new(key().to_vec())).unwrap();
    let mut s = Session::new(stage.name(), "en_GB", otrbot::clock::unix_now());
    s.lesson_state = encode(stage);
    s.shared_secret = Some(SecretBytes::new(b"purple otters".to_vec()));
    s.lti = Some(LtiBinding {
        consumer_key: "lms".into(),
        resource_link_id: "link".into(),
        user_id: "u1".into(),
        outcome_service_url: Some("https://lms.example.org/outcomes".into()),
        result_sourcedid: Some("s-1".into()),
        roles: vec!["Learner".into()],
        ..Default::default()
    });
    store.create_session(JID, &s, T).unwrap();
    store
}

/// A teacher over `store` whose chat goes nowhere (what it says is dropped).
fn teacher(store: &Store) -> Teacher {
    let pool = Arc::new(KeyPool::start(store.clone(), 0, Arc::new(Vec::new)).unwrap());
    let catalogs = Arc::new(
        Catalogs::load(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/locales"))).unwrap(),
    );
    let (xmpp, mut rx) = mpsc::channel(64);
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    Teacher::new(
        store.clone(),
        pool,
        catalogs,
        Teaching::with_defaults("bot@example.org", T),
        xmpp,
    )
    .expect("the teacher")
}

fn verifying() -> Stage {
    Stage::Verifying(
        Progress {
            secret_set: true,
            ..Progress::default()
        },
        SmpBy::Learner,
    )
}

#[tokio::test]
async fn a_crash_while_the_code_is_given_leaves_a_code_the_page_accepts() {
    let mut crashed_before_done = 0;
    for n in 0..6 {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = store_at(dir.path(), &verifying());
            store.crash_after_writes(n);
            let bare = JID.parse().unwrap();
            let r = teacher(&store)
                .on_event(&bare, lesson::Event::CorrectSecretReceived)
                .await;
            if r.is_err() {
                crashed_before_done += 1;
            }
            store.flush().unwrap();
        }
        // The restart (sled's own threads may still be letting go of the first handle).
        let store = support::store::open_retrying(dir.path());
        match stage_in(&store) {
            Stage::Verified(f) => {
                let verdict = teacher(&store).code_entered(JID, &f.code).await.unwrap();
                assert_eq!(verdict, CodeVerdict::Accepted(GradeNote::Queued), "n={n}");
                assert_eq!(store.grades().unwrap().len(), 1, "n={n}");
                assert_eq!(stage_in(&store).name(), "completed", "n={n}");
            }
            Stage::Verifying(..) => {
                assert_eq!(n, 0, "only a crash before the first write leaves no code");
                let verdict = teacher(&store)
                    .code_entered(JID, "ABCD-EFGH")
                    .await
                    .unwrap();
                assert_eq!(verdict, CodeVerdict::NotYet, "n={n}");
            }
            other => panic!("n={n}: {other:?}"),
        }
    }
    assert!(crashed_before_done > 0, "the crash points were reached");
}

#[tokio::test]
async fn a_crash_while_the_code_is_checked_leaves_the_grade_with_the_stage() {
    let code = "K7QM-3XPA";
    let verified = Stage::Verified(Finished {
        code: code.into(),
        attempts_left: 5,
        encrypted: true,
        warned: false,
    });
    for n in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let store = store_at(dir.path(), &verified);
            store.crash_after_writes(n);
            let r = teacher(&store).code_entered(JID, code).await;
            store.flush().unwrap();
            r
        };
        let store = support::store::open_retrying(dir.path());
        let grades = store.grades().unwrap();
        match stage_in(&store) {
            Stage::Completed(_) => {
                assert_eq!(grades.len(), 1, "n={n}: completed without its grade");
                assert_eq!(first.unwrap(), CodeVerdict::Accepted(GradeNote::Queued));
            }
            Stage::Verified(f) => {
                assert!(grades.is_empty(), "n={n}: a grade without completion");
                assert_eq!(f.attempts_left, 5, "n={n}");
                assert!(
                    first.is_err(),
                    "n={n}: the page was told something that is not so"
                );
                // Entered again after the restart: accepted, one grade.
                let again = teacher(&store).code_entered(JID, code).await.unwrap();
                assert_eq!(again, CodeVerdict::Accepted(GradeNote::Queued));
                assert_eq!(store.grades().unwrap().len(), 1);
            }
            other => panic!("n={n}: {other:?}"),
        }
    }
}
