//! The teacher's unit tests over the in-memory ports: no sled, no connection; the learner is
//! the OTR engine itself.

use super::memory::{Logged, Memory};
use super::*;
use crate::i18n::Catalogs;
use crate::lesson::Stage;
use crate::otr::message::{classify, Body, Classified, Message};
use crate::otr::{Account, Channel, Policy, PrivateKey};
use crate::store::{
    default_dsa_key, DeadlineKind, Due, SecretBytes, Session, Timeouts, WhitelistEntry,
    WhitelistSource,
};
use crate::xmpp::stanza::Outgoing;
use std::sync::OnceLock;

const BOT: &str = "bot@example.org";
const LEARNER: &str = "learner@example.org";
/// The teacher's clock at the start of every test.
const NOW: u64 = 1_800_000_000;
const TIMEOUTS: Timeouts = Timeouts {
    warning: 1500,
    session: 1800,
};

/// One DSA key made once per test binary (key generation is slow without optimisation).
fn key() -> Vec<u8> {
    static KEY: OnceLock<Vec<u8>> = OnceLock::new();
    KEY.get_or_init(default_dsa_key).clone()
}

/// A teacher over fresh memory with the learner whitelisted and one key for their session.
fn teacher() -> (Teacher, Memory) {
    let mem = Memory::default();
    {
        let mut st = mem.state();
        st.whitelist.insert(
            LEARNER.into(),
            WhitelistEntry {
                locale: "en_GB".into(),
                source: WhitelistSource::Cli,
                added_at: 0,
            },
        );
        st.spare_keys.push(SecretBytes::new(key()));
        st.now = NOW;
    }
    let cfg = Teaching::with_defaults(BOT, TIMEOUTS);
    let t = Teacher::with_parts(mem.parts(), Arc::new(Catalogs::empty()), cfg);
    (t, mem)
}

fn from() -> Jid {
    format!("{LEARNER}/phone").parse().unwrap()
}

/// The chat bodies the bot sent since the log was last drained, with the learner's channel
/// state that was durable when each left.
fn sent(mem: &Memory) -> Vec<(String, Option<SecretBytes>)> {
    let log = std::mem::take(&mut mem.state().log);
    log.into_iter()
        .filter_map(|e| match e {
            Logged::Sent {
                command: Command::Send(Outgoing::Chat { body, .. }),
                durable,
            } => Some((body, durable)),
            _ => None,
        })
        .collect()
}

/// The key ids and counter of an OTR data message, if `body` is one.
fn data_counter(body: &str) -> Option<(u32, u32, [u8; 8])> {
    let Ok(Classified::Encoded(bytes)) = classify(body) else {
        return None;
    };
    match Message::parse(&bytes).ok()?.body {
        Body::Data(d) => Some((d.sender_keyid, d.recipient_keyid, d.ctr)),
        _ => None,
    }
}

/// The learner starts OTR and the two relay until quiet; every bot message with its
/// durable state.
async fn go_private(
    t: &Teacher,
    mem: &Memory,
) -> (Account, Channel, Vec<(String, Option<SecretBytes>)>) {
    let mut account = Account::new(LEARNER, PrivateKey::generate().unwrap()).unwrap();
    account.policy = Policy::MANUAL;
    let mut channel = Channel::new();
    let mut all = Vec::new();
    let mut to_bot = vec!["hello".to_owned()];
    to_bot.extend(channel.init(&account).wire);
    for _ in 0..10 {
        for m in std::mem::take(&mut to_bot) {
            t.on_chat(from(), m).await;
        }
        for (m, durable) in sent(mem) {
            to_bot.extend(channel.read(&account, &m, 1).wire);
            all.push((m, durable));
        }
        if to_bot.is_empty() {
            break;
        }
    }
    assert!(channel.is_encrypted(), "OTR went private");
    (account, channel, all)
}

#[tokio::test]
async fn nothing_is_sent_before_the_state_it_came_from_is_saved() {
    let (t, mem) = teacher();
    let (_, _, said) = go_private(&t, &mem).await;
    let mut data = 0;
    for (body, durable) in &said {
        let Some(sent) = data_counter(body) else {
            continue;
        };
        data += 1;
        // A crash right after this message left: the bot restarts from the durable state and
        // writes again. It must not encrypt with the same keys and counter.
        let durable = durable
            .as_ref()
            .expect("a state was durable before a data message left");
        let mut otr = crate::bot::otr_state::OtrState::decode(durable.expose()).unwrap();
        let account = otr.account.clone();
        let again = otr.channel.write(&account, "after the crash", 2).wire;
        // (A state from before the message may not even be private yet.)
        let again = again.iter().find_map(|m| data_counter(m));
        let again = again.expect("the durable state is the private one the message came from");
        assert_ne!(again, sent, "key ids and counter reused after a crash");
    }
    assert!(data >= 2, "the lesson spoke in private: {said:?}");
}

#[tokio::test]
async fn a_stranger_gets_no_answer_and_no_session() {
    let (t, mem) = teacher();
    let stranger: Jid = "mallory@example.org/x".parse().unwrap();
    t.on_chat(stranger, "hello".into()).await;
    let st = mem.state();
    assert!(st.log.is_empty(), "{:?}", st.log);
    assert!(st.sessions.is_empty());
    assert_eq!(st.spare_keys.len(), 1, "no key spent");
}

#[tokio::test]
async fn plain_text_is_answered_in_plain_text_and_the_session_keeps_its_key() {
    let (t, mem) = teacher();
    t.on_chat(from(), "hello".into()).await;
    let said = sent(&mem);
    assert_eq!(said.len(), 2, "the reply and how to start OTR: {said:?}");
    assert!(said[1].0.starts_with("How to start OTR:"), "{said:?}");
    assert!(
        said[0]
            .0
            .starts_with("Hello! Your message reached me as plain text"),
        "{said:?}"
    );
    let st = mem.state();
    assert!(st.spare_keys.is_empty() && st.keys.contains_key(LEARNER));
    assert_eq!(st.sessions[LEARNER].session.stage, "plaintext");
}

#[tokio::test]
async fn the_warning_is_given_once_and_expiry_takes_session_and_key() {
    let (t, mem) = teacher();
    t.on_chat(from(), "hello".into()).await;
    sent(&mem);
    let deadlines = mem.state().sessions[LEARNER].deadlines;
    let warn = Due {
        jid: LEARNER.into(),
        kind: DeadlineKind::Warn,
        at: deadlines.warn_at.unwrap(),
    };
    // Due long ago.
    {
        let mut st = mem.state();
        let rec = st.sessions.get_mut(LEARNER).unwrap();
        rec.deadlines.warn_at = Some(1);
        rec.deadlines.expire_at = 2;
    }
    t.on_due(warn.clone()).await;
    t.on_due(warn).await;
    let warnings: Vec<_> = sent(&mem)
        .into_iter()
        .filter(|(b, _)| b.starts_with("Are you still there?"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    t.on_due(Due {
        jid: LEARNER.into(),
        kind: DeadlineKind::Expire,
        at: 2,
    })
    .await;
    let st = mem.state();
    assert!(st.sessions.is_empty() && st.keys.is_empty() && st.durable.is_empty());
}

#[test]
fn a_session_from_the_course_page_starts_the_lesson() {
    let mut s = Session::new("waiting", "en_GB", 0);
    assert_eq!(stage_of(&s).unwrap(), Stage::start(false));
    s.shared_secret = Some(SecretBytes::new(b"purple otters".to_vec()));
    assert_eq!(stage_of(&s).unwrap(), Stage::start(true));
    let later = Stage::start(true);
    s.lesson_state = bincode::serde::encode_to_vec(&later, bincode::config::standard()).unwrap();
    assert_eq!(stage_of(&s).unwrap(), later);
    s.lesson_state = vec![0xff];
    assert!(matches!(stage_of(&s), Err(TurnError::Lesson(_))));
}

#[tokio::test]
async fn a_stale_ake_is_forgotten_when_its_timer_is_due_without_the_learner() {
    let (t, mem) = teacher();
    let mut account = Account::new(LEARNER, PrivateKey::generate().unwrap()).unwrap();
    account.policy = Policy::MANUAL;
    let mut channel = Channel::new();
    // The learner's client asks for OTR; the bot answers with a DH-Commit and waits.
    for m in channel.init(&account).wire {
        t.on_chat(from(), m).await;
    }
    let said = sent(&mem);
    assert!(
        said.iter().any(|(m, _)| m.starts_with("?OTR:AAMC")),
        "DH-Commit: {said:?}"
    );
    let at = *mem
        .state()
        .timers
        .get(LEARNER)
        .expect("the AKE set a timer");
    assert!(at > NOW, "{at}");
    let pending = |mem: &Memory| {
        let st = mem.state();
        let state = st.written.get(LEARNER).unwrap();
        let otr = crate::bot::otr_state::OtrState::decode(state.expose()).unwrap();
        otr.channel.poll_timeout()
    };
    assert_eq!(pending(&mem), Some(at));
    // Not yet due: nothing changes.
    let due = Due {
        jid: LEARNER.into(),
        kind: DeadlineKind::OtrTimer,
        at,
    };
    t.on_due(due.clone()).await;
    assert_eq!(pending(&mem), Some(at), "kept until due");
    // The learner never answers; once due, the scanner's turn forgets the AKE (its DH secret)
    // and clears the timer, and says nothing.
    mem.state().now = at;
    t.on_due(due).await;
    assert_eq!(pending(&mem), None, "the stale AKE is gone from the store");
    assert!(!mem.state().timers.contains_key(LEARNER));
    assert!(sent(&mem).is_empty());
}
