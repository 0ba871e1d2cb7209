//! Round trips for every tree of the store, and the schema-version checks at open.

mod support;

use otrbot::store::{
    self, codec, Attempts, DeadlineKind, Error, GradeRequest, LtiBinding, SecretBytes, Session,
    Store, Timeouts, WhitelistEntry, WhitelistSource,
};
use std::collections::BTreeMap;

const T: Timeouts = Timeouts {
    warning: 1500,
    session: 1800,
};

fn full_session(now: u64) -> Session {
    Session {
        stage: "awaiting_smp".into(),
        lesson_state: vec![1, 2, 3, 0, 255],
        locale: "nl_NL".into(),
        created_at: now - 100,
        last_activity: now,
        shared_secret: Some(SecretBytes::new(b"correct horse".to_vec())),
        attempts: Attempts { smp: 3, secret: 1 },
        lti: Some(LtiBinding {
            consumer_key: "course-key".into(),
            resource_link_id: "rl-1".into(),
            context_id: Some("ctx-9".into()),
            user_id: "u-42".into(),
            outcome_service_url: Some("https://lms.example.org/outcomes".into()),
            result_sourcedid: Some("sourced-1".into()),
            return_url: None,
            roles: vec!["Learner".into(), "Student".into()],
        }),
    }
}

#[test]
fn whitelist_round_trip_and_seed() {
    let d = tempfile::tempdir().unwrap();
    let s = support::store::open_retrying(d.path());
    let e = WhitelistEntry {
        locale: "de".into(),
        source: WhitelistSource::Lti,
        added_at: 7,
    };
    assert!(s.whitelist_add("a@example.org", &e).unwrap());
    assert!(!s.whitelist_add("a@example.org", &e).unwrap());
    let mut seed = BTreeMap::new();
    seed.insert("b@example.org".to_string(), "en_GB".to_string());
    assert_eq!(s.seed_whitelist(&seed, 10).unwrap(), (1, 0));
    assert_eq!(s.seed_whitelist(&seed, 11).unwrap(), (0, 0));
    drop(s);

    let s = support::store::open_retrying(d.path());
    assert_eq!(s.whitelist_get("a@example.org").unwrap(), Some(e.clone()));
    let list = s.whitelist().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].0, "b@example.org");
    assert_eq!(list[1].1.source, WhitelistSource::Settings);
    assert_eq!(list[1].1.added_at, 10);
    // Dropped from the settings: removed; other sources stay.
    assert_eq!(s.seed_whitelist(&BTreeMap::new(), 12).unwrap(), (0, 1));
    assert_eq!(s.whitelist().unwrap(), vec![("a@example.org".into(), e)]);
    assert!(s.whitelist_remove("a@example.org").unwrap());
    assert!(!s.whitelist_remove("a@example.org").unwrap());
}

#[test]
fn sessions_keys_channels_deadlines_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let now = 1_000_000;
    let s = support::store::open_retrying(d.path());
    s.pool_add(&SecretBytes::new(b"key-1".to_vec())).unwrap();
    s.pool_add(&SecretBytes::new(b"key-2".to_vec())).unwrap();
    assert_eq!(s.pool_len(), 2);
    let sess = full_session(now);
    let rec = s.create_session("l@example.org", &sess, T).unwrap();
    assert_eq!(rec.deadlines.warn_at, Some(now + 1500));
    assert_eq!(rec.deadlines.expire_at, now + 1800);
    assert_eq!(s.pool_len(), 1);
    s.save_channel_state("l@example.org", b"state-1").unwrap();
    drop(s);

    let s = support::store::open_retrying(d.path());
    let got = s.session("l@example.org").unwrap().unwrap();
    assert_eq!(got, rec);
    assert_eq!(got.session, sess);
    // The first pool key (lowest id) went to the session.
    assert_eq!(
        s.otr_key("l@example.org").unwrap().unwrap().expose(),
        b"key-1"
    );
    assert_eq!(
        s.channel_state("l@example.org").unwrap().unwrap().expose(),
        b"state-1"
    );
    assert_eq!(s.sessions().unwrap().len(), 1);
    // The deadline index holds exactly the session's two deadlines.
    assert!(s.due(now + 1499).unwrap().is_empty());
    let due = s.due(now + 1500).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].kind, DeadlineKind::Warn);
    assert_eq!(due[0].jid, "l@example.org");
    let due = s.due(u64::MAX).unwrap();
    assert_eq!(due.len(), 1, "the warning is dropped when expiry is due");
    assert_eq!(due[0].kind, DeadlineKind::Expire);
    // Update keeps deadlines.
    let up = s
        .update_session("l@example.org", |x| x.stage = "done".into())
        .unwrap();
    assert_eq!(up.session.stage, "done");
    assert_eq!(up.deadlines, rec.deadlines);
    assert!(matches!(
        s.update_session("x@example.org", |_| {}),
        Err(Error::NoSession(_))
    ));
    assert!(matches!(
        s.save_channel_state("x@example.org", b"s"),
        Err(Error::NoSession(_))
    ));
}

#[test]
fn otr_timers_are_due_once_moved_and_go_with_the_session() {
    let d = tempfile::tempdir().unwrap();
    let now = 1_000_000;
    let s = support::store::open_retrying(d.path());
    s.pool_add(&SecretBytes::new(b"key-1".to_vec())).unwrap();
    s.create_session("l@example.org", &full_session(now), T)
        .unwrap();
    // No session, no timer.
    s.set_otr_timer("x@example.org", Some(now + 60)).unwrap();
    s.set_otr_timer("l@example.org", Some(now + 60)).unwrap();
    let timers = |at: u64| -> Vec<(String, u64)> {
        s.due(at)
            .unwrap()
            .into_iter()
            .filter(|d| d.kind == DeadlineKind::OtrTimer)
            .map(|d| (d.jid, d.at))
            .collect()
    };
    assert!(timers(now + 59).is_empty());
    assert_eq!(timers(now + 60), [("l@example.org".to_owned(), now + 60)]);
    // Moved: only the new time is indexed; cleared: nothing.
    s.set_otr_timer("l@example.org", Some(now + 90)).unwrap();
    assert!(timers(now + 89).is_empty());
    assert_eq!(timers(now + 90), [("l@example.org".to_owned(), now + 90)]);
    s.set_otr_timer("l@example.org", None).unwrap();
    assert!(timers(now + 1000).is_empty());
    // Ending the session ends its timer.
    s.set_otr_timer("l@example.org", Some(now + 120)).unwrap();
    s.remove_session("l@example.org").unwrap();
    assert!(timers(u64::MAX - 1).is_empty());
}

#[test]
fn key_pool_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let s = support::store::open_retrying(d.path());
    let key = store::default_dsa_key();
    s.pool_add(&SecretBytes::new(key.clone())).unwrap();
    drop(s);
    let s = support::store::open_retrying(d.path());
    assert_eq!(s.pool_len(), 1);
    s.create_session("k@example.org", &Session::new("start", "en_GB", 5), T)
        .unwrap();
    let got = s.otr_key("k@example.org").unwrap().unwrap();
    assert_eq!(got.expose(), key.as_slice());
    assert_eq!(
        store::keypool::decode_dsa_key(got.expose()).unwrap()[1].len(),
        20
    );
    assert!(matches!(
        s.create_session("j@example.org", &Session::new("start", "en_GB", 5), T),
        Err(Error::PoolEmpty)
    ));
}

#[test]
fn an_omemo_session_takes_no_key_and_never_waits_for_the_pool() {
    let d = tempfile::tempdir().unwrap();
    let s = support::store::open_retrying(d.path());
    s.pool_add(&SecretBytes::new(store::default_dsa_key()))
        .unwrap();
    // With a key ready, none is taken; with none ready, the session is made all the same.
    let rec = s
        .create_session_without_key("o@example.org", &Session::new("start", "en_GB", 5), T)
        .unwrap();
    assert_eq!(s.pool_len(), 1);
    assert_eq!(s.otr_key("o@example.org").unwrap(), None);
    assert_eq!(s.session("o@example.org").unwrap(), Some(rec));
    assert!(matches!(
        s.create_session_without_key("o@example.org", &Session::new("b", "de", 6), T),
        Err(Error::SessionExists(_))
    ));
    s.create_session("k@example.org", &Session::new("start", "en_GB", 5), T)
        .unwrap();
    s.create_session_without_key("p@example.org", &Session::new("start", "en_GB", 5), T)
        .unwrap();
    assert_eq!(s.pool_len(), 0);
    // It ends like any other, with its deadlines.
    assert!(s.remove_session("o@example.org").unwrap().is_some());
    assert_eq!(s.session("o@example.org").unwrap(), None);
}

#[test]
fn nonces_round_trip_and_prune() {
    let d = tempfile::tempdir().unwrap();
    let s = support::store::open_retrying(d.path());
    assert!(s.nonce_check_and_store("ck", "n1", 100, 10).unwrap());
    assert!(s.nonce_check_and_store("ck", "n2", 200, 10).unwrap());
    // Same nonce, other consumer: distinct.
    assert!(s.nonce_check_and_store("ck2", "n1", 100, 10).unwrap());
    // The key is length-prefixed: ("ck", "2n1") is not ("ck2", "n1").
    assert!(s.nonce_check_and_store("ck", "2n1", 100, 10).unwrap());
    drop(s);
    let s = support::store::open_retrying(d.path());
    assert!(
        !s.nonce_check_and_store("ck", "n1", 150, 50).unwrap(),
        "replay"
    );
    assert_eq!(s.nonce_count(), 4);
    assert_eq!(s.prune_nonces(99).unwrap(), 0);
    assert_eq!(s.prune_nonces(100).unwrap(), 3);
    assert_eq!(s.nonce_count(), 1);
    // Once pruned (expired), the nonce may be recorded again.
    assert!(s.nonce_check_and_store("ck", "n1", 300, 150).unwrap());
    assert_eq!(s.prune_nonces(250).unwrap(), 1);
    assert_eq!(s.nonce_count(), 1);
}

#[test]
fn grade_outbox_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let s = support::store::open_retrying(d.path());
    let g = GradeRequest {
        url: "https://lms.example.org/outcomes".into(),
        sourcedid: "sid".into(),
        score: 1.0,
        consumer_key: "ck".into(),
        attempts: 0,
        next_try: 50,
        last_error: None,
    };
    let id1 = s.grade_enqueue(&g).unwrap();
    // Another learner's grade (one grade per result is kept: see store::lti's tests).
    let id2 = s
        .grade_enqueue(&GradeRequest {
            sourcedid: "sid2".into(),
            next_try: 80,
            ..g.clone()
        })
        .unwrap();
    assert!(id2 > id1);
    drop(s);
    let s = support::store::open_retrying(d.path());
    assert_eq!(s.grades().unwrap()[0], (id1, g.clone()));
    assert_eq!(s.grades_due(60).unwrap().len(), 1);
    let r = s.grade_retry(id1, 120, "HTTP 503").unwrap();
    assert_eq!(r.attempts, 1);
    assert_eq!(r.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(s.grades_due(100).unwrap()[0].0, id2);
    assert!(s.grade_done(id2).unwrap());
    assert!(!s.grade_done(id2).unwrap());
    assert!(matches!(s.grade_retry(id2, 1, "x"), Err(Error::NoGrade(_))));
    assert_eq!(s.grades().unwrap().len(), 1);
}

#[test]
fn schema_mismatch_is_a_clear_error() {
    let d = tempfile::tempdir().unwrap();
    drop(support::store::open_retrying(d.path()));
    {
        let db = support::store::open_sled_retrying(d.path());
        let meta = db.open_tree(store::trees::META).unwrap();
        meta.insert(store::trees::SCHEMA_KEY, &99u32.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    match Store::open(d.path()) {
        Err(e @ Error::SchemaMismatch { found: 99, .. }) => {
            assert!(e.to_string().contains("schema version 99"), "{e}");
            assert!(
                e.to_string()
                    .contains(&format!("reads version {}", codec::SCHEMA_VERSION)),
                "{e}"
            );
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("opened a store of another schema"),
    }
}

#[test]
fn data_without_a_version_is_refused() {
    let d = tempfile::tempdir().unwrap();
    {
        let db = support::store::open_sled_retrying(d.path());
        db.open_tree(store::trees::SESSIONS)
            .unwrap()
            .insert("a@example.org", &b"whatever"[..])
            .unwrap();
        db.flush().unwrap();
    }
    assert!(matches!(Store::open(d.path()), Err(Error::NoSchemaVersion)));
}

#[test]
fn records_of_another_version_or_garbage_are_typed_errors() {
    let d = tempfile::tempdir().unwrap();
    {
        let s = support::store::open_retrying(d.path());
        s.whitelist_add(
            "ok@example.org",
            &WhitelistEntry {
                locale: "de".into(),
                source: WhitelistSource::Cli,
                added_at: 1,
            },
        )
        .unwrap();
    }
    {
        let db = support::store::open_sled_retrying(d.path());
        let wl = db.open_tree(store::trees::WHITELIST).unwrap();
        let mut v = wl.get("ok@example.org").unwrap().unwrap().to_vec();
        v[0] = (codec::SCHEMA_VERSION + 1) as u8;
        wl.insert("old@example.org", v).unwrap();
        wl.insert(
            "bad@example.org",
            &[codec::SCHEMA_VERSION as u8, 200, 7][..],
        )
        .unwrap();
        db.flush().unwrap();
    }
    let s = support::store::open_retrying(d.path());
    assert!(s.whitelist_get("ok@example.org").unwrap().is_some());
    assert!(matches!(
        s.whitelist_get("old@example.org"),
        Err(Error::SchemaMismatch { .. })
    ));
    assert!(matches!(
        s.whitelist_get("bad@example.org"),
        Err(Error::Decode {
            tree: "whitelist",
            ..
        })
    ));
    assert!(s.whitelist().is_err());
}
