//! Multi-tree updates are all-or-nothing: failed or aborted ones leave no trace.

mod support;

use otrbot::store::{
    self, DeadlineKind, Error, SecretBytes, Session, Store, Timeouts, WhitelistEntry,
    WhitelistSource,
};
use std::collections::HashSet;
use std::sync::Arc;

const T: Timeouts = Timeouts {
    warning: 100,
    session: 200,
};
const JID: &str = "l@example.org";

fn store_with_keys(n: usize) -> (tempfile::TempDir, Store) {
    let d = tempfile::tempdir().unwrap();
    let s = support::store::open_retrying(d.path());
    for i in 0..n {
        s.pool_add(&SecretBytes::new(format!("key-{i}").into_bytes()))
            .unwrap();
    }
    (d, s)
}

/// Every (time, jid, kind) in the deadline index, read through `due` at each possible time.
fn index(s: &Store, times: &[u64]) -> Vec<(u64, String, DeadlineKind)> {
    let mut all = Vec::new();
    for &t in times {
        for d in s.due(t).unwrap() {
            if d.at == t {
                all.push((d.at, d.jid, d.kind));
            }
        }
    }
    all
}

#[test]
fn creating_a_session_twice_changes_nothing() {
    let (_d, s) = store_with_keys(2);
    s.create_session(JID, &Session::new("a", "en_GB", 1000), T)
        .unwrap();
    let before = s.session(JID).unwrap();
    let r = s.create_session(JID, &Session::new("b", "de", 5000), T);
    assert!(matches!(r, Err(Error::SessionExists(_))));
    assert_eq!(s.session(JID).unwrap(), before);
    assert_eq!(s.pool_len(), 1, "no key was taken by the failed create");
    assert_eq!(s.otr_key(JID).unwrap().unwrap().expose(), b"key-0");
    assert_eq!(
        index(&s, &[1100, 1200, 5100, 5200]),
        vec![
            (1100, JID.to_owned(), DeadlineKind::Warn),
            (1200, JID.to_owned(), DeadlineKind::Expire)
        ]
    );
}

#[test]
fn no_key_no_session() {
    let (_d, s) = store_with_keys(0);
    let r = s.create_session(JID, &Session::new("a", "en_GB", 1000), T);
    assert!(matches!(r, Err(Error::PoolEmpty)));
    assert!(s.session(JID).unwrap().is_none());
    assert!(s.due(u64::MAX).unwrap().is_empty());
}

#[test]
fn touch_moves_both_deadlines() {
    let (_d, s) = store_with_keys(1);
    s.create_session(JID, &Session::new("a", "en_GB", 1000), T)
        .unwrap();
    let d = s.touch(JID, 1050, T).unwrap();
    assert_eq!((d.warn_at, d.expire_at), (Some(1150), 1250));
    assert_eq!(
        index(&s, &[1100, 1150, 1200, 1250]),
        vec![
            (1150, JID.to_owned(), DeadlineKind::Warn),
            (1250, JID.to_owned(), DeadlineKind::Expire)
        ]
    );
    assert_eq!(s.session(JID).unwrap().unwrap().session.last_activity, 1050);
    assert!(matches!(
        s.touch("x@example.org", 1, T),
        Err(Error::NoSession(_))
    ));
}

#[test]
fn warning_is_marked_once_and_expiry_only_when_due() {
    let (_d, s) = store_with_keys(1);
    s.create_session(JID, &Session::new("a", "en_GB", 1000), T)
        .unwrap();
    assert!(!s.mark_warned(JID, 1099).unwrap(), "not due yet");
    let s = Arc::new(s);
    let winners: usize = (0..8)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || s.mark_warned(JID, 1100).unwrap())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| usize::from(h.join().unwrap()))
        .sum();
    assert_eq!(winners, 1, "exactly one caller gives the warning");
    assert_eq!(
        index(&s, &[1100, 1200]),
        vec![(1200, JID.to_owned(), DeadlineKind::Expire)]
    );
    assert_eq!(s.session(JID).unwrap().unwrap().deadlines.warn_at, None);
    assert!(s.expire_if_due(JID, 1199).unwrap().is_none());
    assert!(s.session(JID).unwrap().is_some());
}

#[test]
fn expiry_removes_everything_of_the_session() {
    let (_d, s) = store_with_keys(2);
    let lti = WhitelistEntry {
        locale: "en_GB".into(),
        source: WhitelistSource::Lti,
        added_at: 1,
    };
    let cli = WhitelistEntry {
        source: WhitelistSource::Cli,
        ..lti.clone()
    };
    s.whitelist_add(JID, &lti).unwrap();
    s.whitelist_add("op@example.org", &cli).unwrap();
    s.create_session(JID, &Session::new("a", "en_GB", 1000), T)
        .unwrap();
    s.create_session("op@example.org", &Session::new("a", "en_GB", 1000), T)
        .unwrap();
    s.save_channel_state(JID, b"st").unwrap();
    s.save_channel_state("op@example.org", b"st").unwrap();

    let gone = s.expire_if_due(JID, 1200).unwrap().unwrap();
    assert_eq!(gone.session.stage, "a");
    assert!(s.session(JID).unwrap().is_none());
    assert!(s.otr_key(JID).unwrap().is_none());
    assert!(s.channel_state(JID).unwrap().is_none());
    assert!(s.whitelist_get(JID).unwrap().is_none(), "LTI entry removed");
    assert!(s.expire_if_due(JID, 1200).unwrap().is_none(), "idempotent");
    // A late save cannot bring back state for a session that is gone.
    assert!(matches!(
        s.save_channel_state(JID, b"late"),
        Err(Error::NoSession(_))
    ));
    assert!(s.channel_state(JID).unwrap().is_none());

    s.remove_session("op@example.org").unwrap().unwrap();
    assert!(
        s.whitelist_get("op@example.org").unwrap().is_some(),
        "an operator's entry stays"
    );
    assert!(s.due(u64::MAX).unwrap().is_empty());
    assert_eq!(s.session_count(), 0);
}

#[test]
fn an_abort_midway_leaves_nothing_half_done() {
    // Ending a session writes to five trees; a bad whitelist record makes the transaction
    // abort after the deadline, session, key and channel removals were staged.
    let (d, s) = store_with_keys(1);
    s.whitelist_add(
        JID,
        &WhitelistEntry {
            locale: "en_GB".into(),
            source: WhitelistSource::Lti,
            added_at: 1,
        },
    )
    .unwrap();
    s.create_session(JID, &Session::new("a", "en_GB", 1000), T)
        .unwrap();
    s.save_channel_state(JID, b"state").unwrap();
    drop(s);
    {
        let db = support::store::open_sled_retrying(d.path());
        db.open_tree(store::trees::WHITELIST)
            .unwrap()
            .insert(JID, &[store::codec::SCHEMA_VERSION as u8, 9, 9][..])
            .unwrap();
        db.flush().unwrap();
    }
    let s = support::store::open_retrying(d.path());
    assert!(matches!(
        s.remove_session(JID),
        Err(Error::Decode {
            tree: "whitelist",
            ..
        })
    ));
    assert!(s.session(JID).unwrap().is_some());
    assert_eq!(s.otr_key(JID).unwrap().unwrap().expose(), b"key-0");
    assert_eq!(s.channel_state(JID).unwrap().unwrap().expose(), b"state");
    assert_eq!(
        index(&s, &[1100, 1200]),
        vec![
            (1100, JID.to_owned(), DeadlineKind::Warn),
            (1200, JID.to_owned(), DeadlineKind::Expire)
        ]
    );
}

#[test]
fn concurrent_creates_share_the_pool_without_double_handing() {
    let (_d, s) = store_with_keys(40);
    let s = Arc::new(s);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut made = Vec::new();
                for i in 0..10 {
                    let jid = format!("u{t}-{i}@example.org");
                    match s.create_session(&jid, &Session::new("a", "en_GB", 1000), T) {
                        Ok(_) => made.push(jid),
                        Err(Error::PoolEmpty) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                made
            })
        })
        .collect();
    let made: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert_eq!(made.len(), 40, "every key used, none twice");
    assert_eq!(s.pool_len(), 0);
    let keys: HashSet<Vec<u8>> = made
        .iter()
        .map(|j| s.otr_key(j).unwrap().unwrap().expose().to_vec())
        .collect();
    assert_eq!(keys.len(), 40, "each session has its own key");
    assert_eq!(s.session_count(), 40);
    assert_eq!(s.due(1200).unwrap().len(), 40);
}
