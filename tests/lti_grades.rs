//! Grade passback against a pretend LMS (tests/lti_lms.py) that checks the OAuth signature
//! with oauthlib and the body hash with hashlib; and an LMS that is down at first, with the
//! store reopened (a bot restart) before it comes up.

mod lti_common;

use lti_common::*;
use otrbot::lti::outcome::{self, Backoff};
use otrbot::store::{GradeRequest, Store};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

fn consumers(secret: &str) -> BTreeMap<String, String> {
    let mut c = BTreeMap::new();
    c.insert(KEY.to_owned(), secret.to_owned());
    c
}

fn grade(url: &str, sourcedid: &str) -> GradeRequest {
    GradeRequest {
        url: url.into(),
        sourcedid: sourcedid.into(),
        score: 1.0,
        consumer_key: KEY.into(),
        attempts: 0,
        next_try: 0,
        last_error: None,
    }
}

fn quick() -> Backoff {
    Backoff {
        base: Duration::from_secs(1),
        max: Duration::from_secs(2),
        poll: Duration::from_millis(200),
        timeout: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn signed_grade_is_accepted_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("lms.log");
    let server = lms(0, SECRET, &log);
    let store = Store::open(&dir.path().join("data")).unwrap();
    // A query on the outcome URL is signed too; XML specials in the sourcedid are escaped.
    let url = format!("http://127.0.0.1:{}/outcomes?course=1", server.port);
    store.grade_enqueue(&grade(&url, "c1:l1:<u&1>")).unwrap();
    let sent = outcome::send_due(&store, &consumers(SECRET), None, quick(), now()).await;
    assert_eq!(sent, 1);
    assert!(store.grades().unwrap().is_empty());
    let got = received(&log);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["ok"], true, "{got:?}");
    // The LMS reads the XML: the sourcedId it gets is the one queued, escaping undone.
    assert_eq!(got[0]["sourcedid"], "c1:l1:<u&1>");
    assert_eq!(got[0]["score"], "1");
}

#[tokio::test]
async fn refused_grade_stays_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("lms.log");
    let server = lms(0, "the LMS knows another secret", &log);
    let store = Store::open(&dir.path().join("data")).unwrap();
    let url = format!("http://127.0.0.1:{}/outcomes", server.port);
    let id = store.grade_enqueue(&grade(&url, "s1")).unwrap();
    let t = now();
    assert_eq!(
        outcome::send_due(&store, &consumers(SECRET), None, quick(), t).await,
        0
    );
    let got = received(&log);
    assert_eq!(got[0]["why"], "bad signature");
    let (gid, g) = store.grades().unwrap().remove(0);
    assert_eq!(gid, id);
    assert_eq!(g.attempts, 1);
    assert!(g.next_try > t);
    assert!(g.last_error.unwrap().contains("401"));
    // `sessions list` shows it for a session bound to that launch.
    let mut s = otrbot::store::Session::new("started", "en_GB", t);
    s.lti = Some(otrbot::store::LtiBinding {
        consumer_key: KEY.into(),
        outcome_service_url: Some(url.clone()),
        result_sourcedid: Some("s1".into()),
        ..Default::default()
    });
    store
        .pool_add(&otrbot::store::SecretBytes::new(vec![1; 8]))
        .unwrap();
    store
        .create_session(
            "a@example.org",
            &s,
            otrbot::store::Timeouts {
                warning: 10,
                session: 20,
            },
        )
        .unwrap();
    let (resp, _) =
        otrbot::bot::admin::handle(&store, &otrbot::bot::admin::Request::SessionsList, t);
    let json = serde_json::to_string(&resp).unwrap();
    assert!(json.contains("\"grade_pending\":{\"attempts\":1"), "{json}");
    assert!(json.contains("HTTP 401"), "{json}");
}

/// The LMS is down; the sender fails and backs off; the bot stops (store closed) and starts
/// again (store reopened); the LMS comes up; the grade arrives exactly once.
#[tokio::test]
async fn grade_survives_a_restart_and_arrives_when_the_lms_is_up() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("lms.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/outcomes");
    {
        let store = Store::open(&data).unwrap();
        store.grade_enqueue(&grade(&url, "c1:l1:u9")).unwrap();
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = tokio::spawn(outcome::run_sender(
            store.clone(),
            consumers(SECRET),
            None,
            quick(),
            Arc::new(Notify::new()),
            stop_rx,
        ));
        let t0 = Instant::now();
        loop {
            let g = store.grades().unwrap();
            if g[0].1.attempts >= 2 {
                assert!(
                    g[0].1.last_error.as_deref().unwrap().contains("refused"),
                    "{g:?}"
                );
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "sender did not retry"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop_tx.send(true).unwrap();
        task.await.unwrap();
        store.flush().unwrap();
    }
    // Restart: a new store handle on the same directory, the LMS now up on that port.
    let server = lms(port, SECRET, &log);
    let store = Store::open(&data).unwrap();
    assert_eq!(
        store.grades().unwrap().len(),
        1,
        "the grade survived the restart"
    );
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(outcome::run_sender(
        store.clone(),
        consumers(SECRET),
        None,
        quick(),
        Arc::new(Notify::new()),
        stop_rx,
    ));
    let t0 = Instant::now();
    while !store.grades().unwrap().is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "grade not delivered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    let got = received(&server.log);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["ok"], true);
    assert_eq!(got[0]["sourcedid"], "c1:l1:u9");
}

/// An LMS that accepts connections and never answers (each kept open), counting them.
fn hung_lms() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(s);
        }
    });
    (port, count)
}

/// One LMS hangs: another LMS's grade, queued after it, arrives at once; the hung grade's
/// try ends at the configured timeout and its retry counts from the end of that try.
#[tokio::test]
async fn a_hung_lms_holds_back_no_other_lms() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("lms.log");
    let good = lms(0, SECRET, &log);
    let (hung_port, connections) = hung_lms();
    let store = Store::open(&dir.path().join("data")).unwrap();
    let hung_url = format!("http://127.0.0.1:{hung_port}/outcomes");
    let hung = store
        .grade_enqueue(&grade(&hung_url, "course-a:u1"))
        .unwrap();
    let good_url = format!("http://127.0.0.1:{}/outcomes", good.port);
    store
        .grade_enqueue(&grade(&good_url, "course-b:u2"))
        .unwrap();
    let backoff = Backoff {
        base: Duration::from_secs(3),
        max: Duration::from_secs(60),
        poll: Duration::from_millis(100),
        timeout: Duration::from_secs(3),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let started = now();
    let t0 = Instant::now();
    let task = tokio::spawn(outcome::run_sender(
        store.clone(),
        consumers(SECRET),
        None,
        backoff,
        Arc::new(Notify::new()),
        stop_rx,
    ));
    while received(&log).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "the good LMS's grade waited for the hung one"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(received(&log)[0]["ok"], true);
    // The hung try ends at the timeout and is not retried at once.
    let failed = loop {
        let g = store.grades().unwrap();
        assert_eq!(g.len(), 1, "{g:?}");
        if g[0].1.attempts == 1 {
            break g.into_iter().next().unwrap();
        }
        assert!(t0.elapsed() < Duration::from_secs(8), "no timeout: {g:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed.0, hung);
    assert!(
        failed
            .1
            .last_error
            .as_deref()
            .unwrap()
            .contains("no answer within"),
        "{failed:?}"
    );
    assert!(
        failed.1.next_try >= started + 3 + 3 - 1,
        "retry counted from before the try: next {} started {started}",
        failed.1.next_try
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the hung LMS was tried again at once"
    );
    stop_tx.send(true).unwrap();
    task.await.unwrap();
}
