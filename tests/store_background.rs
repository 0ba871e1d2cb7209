//! The key-pool filler and the scanner, on a real runtime.

use otrbot::store::{scanner, DeadlineKind, KeyPool, Session, Store, Timeouts};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const T: Timeouts = Timeouts {
    warning: 100,
    session: 200,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_pool_makes_a_learner_wait_but_stalls_nobody() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    let made = Arc::new(AtomicU64::new(0));
    let gen = {
        let made = made.clone();
        Arc::new(move || {
            // A slow key, like DSA parameter generation.
            std::thread::sleep(Duration::from_millis(150));
            format!("key-{}", made.fetch_add(1, Ordering::SeqCst)).into_bytes()
        })
    };
    let pool = Arc::new(KeyPool::start(store.clone(), 1, gen).unwrap());

    // A heartbeat on the runtime: it must keep ticking while learners wait for keys.
    let beats = Arc::new(AtomicU64::new(0));
    let hb = {
        let beats = beats.clone();
        tokio::spawn(async move {
            let mut i = tokio::time::interval(Duration::from_millis(10));
            // Skip, not burst: a blocked runtime shows as missing beats.
            i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                i.tick().await;
                beats.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    let start = Instant::now();
    let learners: Vec<_> = (0..4)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let jid = format!("l{i}@example.org");
                pool.create_session(&jid, &Session::new("start", "en_GB", 1000), T)
                    .await
                    .map(|_| jid)
            })
        })
        .collect();
    let mut jids = Vec::new();
    for l in learners {
        jids.push(l.await.unwrap().unwrap());
    }
    let took = start.elapsed();
    hb.abort();
    // Four keys at 150 ms each, one at a time: about 600 ms, during which the runtime ran on.
    assert!(took >= Duration::from_millis(450), "{took:?}");
    let expected = took.as_millis() as u64 / 10;
    let got = beats.load(Ordering::SeqCst);
    assert!(
        got * 2 >= expected,
        "heartbeat stalled: {got} of ~{expected}"
    );
    let keys: std::collections::HashSet<Vec<u8>> = jids
        .iter()
        .map(|j| store.otr_key(j).unwrap().unwrap().expose().to_vec())
        .collect();
    assert_eq!(keys.len(), 4);
    // The filler refills to its target afterwards.
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.pool_len() < 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.pool_len(), 1);
    let pool = Arc::into_inner(pool).unwrap();
    tokio::task::spawn_blocking(move || pool.stop())
        .await
        .unwrap();
    assert!(made.load(Ordering::SeqCst) >= 5);
}

#[tokio::test]
async fn scanner_pass_sends_what_is_due_and_prunes_nonces() {
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap();
    for i in 0..3 {
        store
            .pool_add(&otrbot::store::SecretBytes::new(vec![i]))
            .unwrap();
    }
    for (i, at) in [1000u64, 1050, 2000].iter().enumerate() {
        store
            .create_session(
                &format!("l{i}@example.org"),
                &Session::new("s", "en_GB", *at),
                T,
            )
            .unwrap();
    }
    store.nonce_check_and_store("ck", "n", 1100, 1000).unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    assert_eq!(scanner::scan_once(&store, 1150, &tx).await, 2);
    let got: Vec<_> = [rx.recv().await.unwrap(), rx.recv().await.unwrap()]
        .into_iter()
        .map(|d| (d.jid, d.kind))
        .collect();
    assert_eq!(
        got,
        vec![
            ("l0@example.org".to_string(), DeadlineKind::Warn),
            ("l1@example.org".to_string(), DeadlineKind::Warn)
        ]
    );
    assert_eq!(store.nonce_count(), 0, "expired nonce pruned");
    // Until the receiver acts, the same deadlines are due again (at least once delivery).
    assert!(store.mark_warned("l0@example.org", 1150).unwrap());
    assert_eq!(scanner::scan_once(&store, 1150, &tx).await, 1);
}
