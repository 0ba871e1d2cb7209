//! The teacher keeps nothing for JIDs that are not whitelisted and no per-JID state after a
//! turn: hostile traffic cannot grow the store or the teacher's memory.

use super::teach::{Teacher, Teaching};
use crate::i18n::Catalogs;
use crate::store::{default_dsa_key, KeyPool, Store, Timeouts, WhitelistEntry, WhitelistSource};
use crate::xmpp::link::Command;
use crate::xmpp::stanza::Outgoing;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc;
use tokio_xmpp::jid::Jid;

fn pool_key() -> Vec<u8> {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(default_dsa_key).clone()
}

pub(super) struct Rig {
    pub teacher: Teacher,
    pub store: Store,
    pub said: mpsc::Receiver<Command>,
    _pool: Arc<KeyPool>,
    _dir: tempfile::TempDir,
}

pub(super) fn rig() -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let key = pool_key();
    let pool = Arc::new(KeyPool::start(store.clone(), 1, Arc::new(move || key.clone())).unwrap());
    let (tx, said) = mpsc::channel(4096);
    let cfg = Teaching {
        bot_jid: "bot@example.org".into(),
        default_locale: "en_GB".into(),
        default_secret: Some("correct horse battery".into()),
        globals: Vec::new(),
        timeouts: Timeouts {
            warning: 600,
            session: 1200,
        },
        may_start_smp: false,
        per_char: None,
        protocol: crate::lesson::Protocol::Otr,
    };
    let teacher = Teacher::new(
        store.clone(),
        pool.clone(),
        Arc::new(Catalogs::empty()),
        cfg,
        tx,
    )
    .expect("the teacher");
    Rig {
        teacher,
        store,
        said,
        _pool: pool,
        _dir: dir,
    }
}

fn jid(s: &str) -> Jid {
    s.parse().unwrap()
}

/// Hostile bodies a stranger might send: plain text, OTR-looking garbage, fragments, a query.
fn hostile(i: usize) -> String {
    match i % 6 {
        0 => "hello".into(),
        1 => format!("?OTR:{}", "%%%not base64".repeat(i % 50 + 1)),
        2 => "?OTR:AAMC".into(),
        3 => format!(
            "?OTR|{:08x}|00000000,00001,00009,{},",
            0x100 + i,
            "A".repeat(1000)
        ),
        4 => "?OTRv23?".into(),
        _ => format!("?OTR,1,2,{},", "B".repeat(i)),
    }
}

#[tokio::test]
async fn strangers_leave_no_session_no_lock_and_get_no_reply() {
    let mut r = rig();
    for i in 0..300 {
        let from = jid(&format!("stranger{i}@evil.example/r{i}"));
        r.teacher.on_chat(from, hostile(i)).await;
    }
    assert_eq!(r.store.session_count(), 0, "no session for a stranger");
    for i in 0..300 {
        let bare = format!("stranger{i}@evil.example");
        assert!(r.store.channel_state(&bare).unwrap().is_none());
        assert!(r.store.otr_key(&bare).unwrap().is_none());
    }
    assert_eq!(r.teacher.turns_in_flight(), 0, "no per-JID lock kept");
    assert!(r.said.try_recv().is_err(), "nothing said to strangers");
}

#[tokio::test]
async fn a_learner_turn_leaves_no_lock_behind() {
    let mut r = rig();
    let learner = "learner@example.org";
    r.store
        .whitelist_add(
            learner,
            &WhitelistEntry {
                locale: "en_GB".into(),
                source: WhitelistSource::Cli,
                added_at: 0,
            },
        )
        .unwrap();
    for i in 0..20 {
        r.teacher
            .on_chat(jid(&format!("{learner}/r")), hostile(i))
            .await;
    }
    assert_eq!(r.store.session_count(), 1);
    assert_eq!(r.teacher.turns_in_flight(), 0, "locks go with the turn");
    let mut replies = 0;
    while let Ok(c) = r.said.try_recv() {
        if matches!(c, Command::Send(Outgoing::Chat { .. })) {
            replies += 1;
        }
    }
    assert!(replies > 0, "the learner was answered");
}

#[tokio::test]
async fn concurrent_messages_from_one_learner_leave_one_session_and_no_lock() {
    let r = rig();
    let learner = "busy@example.org";
    r.store
        .whitelist_add(
            learner,
            &WhitelistEntry {
                locale: "en_GB".into(),
                source: WhitelistSource::Cli,
                added_at: 0,
            },
        )
        .unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let t = r.teacher.clone();
            tokio::spawn(async move { t.on_chat(jid("busy@example.org/r"), hostile(i)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(r.teacher.turns_in_flight(), 0);
    assert_eq!(r.store.session_count(), 1);
}

#[tokio::test]
async fn the_main_loop_queues_without_waiting_and_drops_refusals_when_full() {
    let (tx, mut rx) = mpsc::channel(2);
    let refusal = |i: usize| {
        Command::Send(Outgoing::Unsubscribed(
            format!("s{i}@evil.example").parse().unwrap(),
        ))
    };
    // Nobody drains the queue: neither call waits (they are not async).
    super::queue(&tx, (0..5).map(refusal).collect(), true);
    super::queue(&tx, (5..8).map(refusal).collect(), false);
    let mut got = Vec::new();
    while got.len() < 5 {
        let c = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
            .await
            .expect("the queued commands arrive")
            .expect("open");
        got.push(c);
    }
    let want: Vec<Command> = [0, 1, 5, 6, 7].into_iter().map(refusal).collect();
    assert_eq!(
        got, want,
        "refusals beyond the queue dropped, the rest sent in order"
    );
    assert!(rx.try_recv().is_err());
}
