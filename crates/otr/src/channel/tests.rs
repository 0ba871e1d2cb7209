//! Engine-to-engine tests of the channel API.

use super::*;
use crate::keys::tests::test_key;

pub(crate) fn account(name: &str, policy: Policy) -> Account {
    let mut a = Account::new(name, test_key()).unwrap();
    a.policy = policy;
    a
}

pub(crate) struct Side {
    pub account: Account,
    pub channel: Channel,
    pub events: Vec<Event>,
}

impl Side {
    pub fn new(name: &str, policy: Policy) -> Side {
        Side {
            account: account(name, policy),
            channel: Channel::new(),
            events: Vec::new(),
        }
    }
}

fn injects(out: &Output) -> Vec<String> {
    out.wire.clone()
}

/// Delivers `first` to `b`, then ping-pongs wire messages until both are quiet.
pub(crate) fn pump(a: &mut Side, b: &mut Side, first: Output, now: u64) {
    let mut to_b = first.wire;
    let mut to_a = Vec::new();
    for _ in 0..50 {
        if to_a.is_empty() && to_b.is_empty() {
            return;
        }
        for m in core::mem::take(&mut to_b) {
            let out = b.channel.read(&b.account, &m, now);
            to_a.extend(out.wire);
            b.events.extend(out.events);
        }
        for m in core::mem::take(&mut to_a) {
            let out = a.channel.read(&a.account, &m, now);
            to_b.extend(out.wire);
            a.events.extend(out.events);
        }
    }
    panic!("conversation did not settle");
}

fn gone_secure(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::GoneSecure { .. }))
        .count()
}

fn received(events: &[Event]) -> Vec<(String, bool)> {
    events
        .iter()
        .filter_map(|e| {
            if let Event::Message {
                text, encrypted, ..
            } = e
            {
                Some((text.clone(), *encrypted))
            } else {
                None
            }
        })
        .collect()
}

fn secure_pair(pa: Policy, pb: Policy) -> (Side, Side) {
    let (mut a, mut b) = (Side::new("a@x", pa), Side::new("b@x", pb));
    let q = a.channel.init(&a.account);
    pump(&mut a, &mut b, q, 1);
    assert_eq!(gone_secure(&a.events), 1, "{:?}", a.events);
    assert_eq!(gone_secure(&b.events), 1, "{:?}", b.events);
    (a, b)
}

#[test]
fn query_start_v3_and_v2_then_talk_both_ways() {
    for (policy, version) in [
        (Policy::MANUAL, Version::V3),
        (Policy::ALLOW_V2, Version::V2),
    ] {
        let (mut a, mut b) = secure_pair(policy, policy);
        assert!(a
            .events
            .iter()
            .any(|e| matches!(e, Event::GoneSecure { version: v, .. } if *v == version)));
        assert!(a
            .events
            .iter()
            .any(|e| matches!(e, Event::UnverifiedFingerprint { new: true, .. })));
        for i in 0..4 {
            let out = a.channel.write(&a.account, &format!("hi {i}"), 2);
            pump(&mut a, &mut b, out, 2);
            let out = b.channel.write(&b.account, &format!("yo {i}"), 2);
            pump(&mut b, &mut a, out, 2);
        }
        assert_eq!(
            received(&b.events).last().unwrap(),
            &("hi 3".to_owned(), true)
        );
        assert_eq!(
            received(&a.events).last().unwrap(),
            &("yo 3".to_owned(), true)
        );
        // Fragmented messages both ways.
        a.account.max_message_size = 120;
        b.account.max_message_size = 150;
        let long = "x".repeat(700);
        let out = a.channel.write(&a.account, &long, 3);
        assert!(injects(&out).len() > 5);
        pump(&mut a, &mut b, out, 3);
        let out = b.channel.write(&b.account, &long, 3);
        pump(&mut b, &mut a, out, 3);
        assert_eq!(received(&a.events).last().unwrap().0, long);
        assert_eq!(received(&b.events).last().unwrap().0, long);
        // Ending from one side.
        let out = a.channel.finish(&a.account, 4);
        pump(&mut a, &mut b, out, 4);
        assert!(b.events.iter().any(|e| matches!(
            e,
            Event::GoneInsecure {
                ended: Ended::ByPeer,
                ..
            }
        )));
        assert_eq!(
            b.channel.write(&b.account, "still there?", 5),
            Output::of(Event::Problem(Problem::ConnectionEnded))
        );
        assert!(!a.channel.is_encrypted());
    }
}

#[test]
fn whitespace_tag_and_error_start() {
    let (mut a, mut b) = (
        Side::new("a@x", Policy::OPPORTUNISTIC),
        Side::new("b@x", Policy::OPPORTUNISTIC),
    );
    let out = a.channel.write(&a.account, "hello", 1);
    assert!(injects(&out)[0].starts_with("hello \t"));
    pump(&mut a, &mut b, out, 1);
    assert_eq!(received(&b.events)[0], ("hello".to_owned(), false));
    assert_eq!(gone_secure(&a.events) + gone_secure(&b.events), 2);

    let (mut a, mut b) = (
        Side::new("a@x", Policy::OPPORTUNISTIC),
        Side::new("b@x", Policy::OPPORTUNISTIC),
    );
    pump(
        &mut a,
        &mut b,
        Output::sending("?OTR Error: who are you".into()),
        1,
    );
    assert!(b.events.contains(&Event::Problem(Problem::ReceivedError(
        "who are you".into()
    ))));
    assert_eq!(gone_secure(&a.events) + gone_secure(&b.events), 2);
}

#[test]
fn simultaneous_start_settles_on_one_session() {
    let (mut a, mut b) = (
        Side::new("a@x", Policy::MANUAL),
        Side::new("b@x", Policy::MANUAL),
    );
    let qa = a.channel.init(&a.account);
    let qb = b.channel.init(&b.account);
    let ca = a.channel.read(&a.account, &injects(&qb)[0], 1);
    let cb = b.channel.read(&b.account, &injects(&qa)[0], 1);
    pump(&mut a, &mut b, ca, 1);
    pump(&mut b, &mut a, cb, 1);
    assert!(a.channel.is_encrypted() && b.channel.is_encrypted());
    let out = a.channel.write(&a.account, "after race", 2);
    pump(&mut a, &mut b, out, 2);
    assert_eq!(received(&b.events).last().unwrap().0, "after race");
}

#[test]
fn require_encryption_holds_then_sends() {
    let (mut a, mut b) = (
        Side::new("a@x", Policy::ALWAYS),
        Side::new("b@x", Policy::ALWAYS),
    );
    let out = a.channel.write(&a.account, "secret", 1);
    assert!(out
        .events
        .contains(&Event::Problem(Problem::EncryptionRequired)));
    assert!(injects(&out)[0].starts_with("?OTRv23?"));
    pump(&mut a, &mut b, out, 1);
    assert_eq!(received(&b.events), vec![("secret".to_owned(), true)]);
}

#[test]
fn heartbeat_after_silence_and_replay_rejected() {
    let (mut a, mut b) = secure_pair(Policy::MANUAL, Policy::MANUAL);
    let out = a.channel.write(&a.account, "ping", 1000);
    let msg = injects(&out)[0].clone();
    let ev = b.channel.read(&b.account, &msg, 1000);
    assert_eq!(
        injects(&ev).len(),
        1,
        "heartbeat sent after 60 s of silence"
    );
    let ev2 = b.channel.read(&b.account, &msg, 1001);
    assert!(matches!(
        ev2.events[0],
        Event::Problem(Problem::Unreadable(OtrError::Replay))
    ));
    let hb = a.channel.read(&a.account, &injects(&ev)[0], 1000);
    assert!(received(&hb.events).is_empty(), "heartbeats are not shown");
}

#[test]
fn state_round_trips_through_bincode_mid_conversation() {
    let (mut a, mut b) = secure_pair(Policy::MANUAL, Policy::MANUAL);
    let out = a.channel.write(&a.account, "one", 1);
    pump(&mut a, &mut b, out, 1);
    let cfg = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&b.channel, cfg).unwrap();
    let (restored, _): (Channel, usize) = bincode::serde::decode_from_slice(&bytes, cfg).unwrap();
    assert_eq!(restored, b.channel);
    b.channel = restored;
    let acct = bincode::serde::encode_to_vec(&b.account, cfg).unwrap();
    let (acct, _): (Account, usize) = bincode::serde::decode_from_slice(&acct, cfg).unwrap();
    b.account = acct;
    let out = b.channel.write(&b.account, "two", 2);
    pump(&mut b, &mut a, out, 2);
    assert_eq!(received(&a.events).last().unwrap().0, "two");
}

#[test]
fn instance_tag_rules() {
    let (mut a, mut b) = secure_pair(Policy::MANUAL, Policy::MANUAL);
    let out = a.channel.write(&a.account, "for b", 1);
    let wire = injects(&out)[0].clone();
    let mut bytes = crate::wire::base64_decode(&wire[5..wire.len() - 1]).unwrap();
    // Receiver tag changed: for another instance of b.
    bytes[10] ^= 0x01;
    let ev = b.channel.read(&b.account, &armor(&bytes), 1);
    assert_eq!(ev, Output::of(Event::Problem(Problem::ForOtherInstance)));
    // Receiver 0 on a data message is malformed.
    bytes[7..11].copy_from_slice(&[0; 4]);
    assert!(matches!(
        b.channel.read(&b.account, &armor(&bytes), 1).events[0],
        Event::Problem(Problem::Malformed(OtrError::InstanceTag))
    ));
    // Sender below 0x100 is malformed.
    bytes[3..7].copy_from_slice(&[0, 0, 0, 0xff]);
    assert!(matches!(
        b.channel.read(&b.account, &armor(&bytes), 1).events[0],
        Event::Problem(Problem::Malformed(OtrError::InstanceTag))
    ));
    let _ = &mut a;
}

#[test]
fn random_and_mutated_input_never_panics_in_any_state() {
    let (mut a, mut b) = (
        Side::new("a@x", Policy::OPPORTUNISTIC),
        Side::new("b@x", Policy::OPPORTUNISTIC),
    );
    // Collect real messages of every kind as seeds.
    let mut seeds: Vec<String> = Vec::new();
    let mut to_b = injects(&a.channel.init(&a.account));
    for _ in 0..6 {
        let mut to_a = Vec::new();
        for m in to_b.drain(..) {
            seeds.push(m.clone());
            to_a.extend(injects(&b.channel.read(&b.account, &m, 1)));
        }
        for m in to_a {
            seeds.push(m.clone());
            to_b.extend(injects(&a.channel.read(&a.account, &m, 1)));
        }
    }
    seeds.extend(injects(&a.channel.write(&a.account, "data", 1)));
    seeds.push("?OTR|00000100|00000200,00001,00002,abc,".into());
    let mut state = 0x2545f4914f6cdd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut fresh = Side::new("c@x", Policy::OPPORTUNISTIC);
    for i in 0..3000 {
        let seed = &seeds[(next() as usize) % seeds.len()];
        let text = if seed.starts_with("?OTR:") && seed.ends_with('.') {
            let mut bytes = crate::wire::base64_decode(&seed[5..seed.len() - 1]).unwrap();
            for _ in 0..(next() % 3 + 1) {
                let pos = (next() as usize) % bytes.len();
                bytes[pos] = next() as u8;
            }
            bytes.truncate(
                (next() as usize) % (bytes.len() + 1) + if i % 2 == 0 { bytes.len() } else { 0 },
            );
            armor(&bytes)
        } else {
            let mut s = seed.clone().into_bytes();
            let pos = (next() as usize) % s.len().max(1);
            s.insert(pos, (next() % 128) as u8);
            String::from_utf8_lossy(&s).into_owned()
        };
        for side in [&mut a, &mut b, &mut fresh] {
            let _ = side.channel.read(&side.account, &text, 2);
        }
    }
}

#[test]
fn ping_forgets_stale_ake_and_fragments() {
    // An AKE started at t=100 and never answered is forgotten after AKE_TIMEOUT.
    let mut a = Side::new("a@test", Policy::MANUAL);
    let _ = a.channel.read(&a.account, "?OTRv3?", 100);
    assert!(a.channel.sessions[&0].ake != AkeState::None);
    assert_eq!(a.channel.poll_timeout(), Some(100 + AKE_TIMEOUT));
    a.channel.handle_timeout(100 + AKE_TIMEOUT - 1);
    assert!(a.channel.sessions[&0].ake != AkeState::None);
    a.channel.handle_timeout(100 + AKE_TIMEOUT);
    assert_eq!(a.channel.sessions[&0].ake, AkeState::None);
    // A partial fragmented message is dropped after FRAGMENT_TIMEOUT.
    let _ = a.channel.read(&a.account, "?OTR,1,2,?OTR:AAM,", 200);
    assert!(!a.channel.sessions[&0].fragments.is_empty());
    a.channel.handle_timeout(200 + FRAGMENT_TIMEOUT);
    assert!(a.channel.sessions[&0].fragments.is_empty());
    assert_eq!(a.channel.poll_timeout(), None);
}

#[test]
fn sessions_listing_and_selection() {
    let (mut a, _b) = secure_pair(Policy::MANUAL, Policy::MANUAL);
    let current = a.channel.current_session();
    let list = a.channel.sessions();
    let cur: Vec<_> = list.iter().filter(|s| s.current).collect();
    assert_eq!(cur.len(), 1);
    assert_eq!(cur[0].instance, current);
    assert!(cur[0].encrypted && cur[0].fingerprint.is_some() && !cur[0].trusted);
    assert!(a.channel.select_session(Some(0xdead_beef)).is_err());
    // Selecting the master session (plaintext) makes writes go in the clear.
    if current != 0 && a.channel.sessions.contains_key(&0) {
        a.channel.select_session(Some(0)).unwrap();
        assert_eq!(a.channel.current_session(), 0);
        assert!(!a.channel.is_encrypted());
        a.channel.select_session(None).unwrap();
    }
    assert_eq!(a.channel.current_session(), current);
}

#[test]
fn smp_between_engines_with_and_without_question() {
    let (mut a, mut b) = secure_pair(Policy::MANUAL, Policy::MANUAL);
    let ev = a.channel.smp_verify(&a.account, b"pw", Some("q?"), 5);
    pump(&mut a, &mut b, ev, 5);
    assert!(
        b.events.iter().any(|e| matches!(e,
        Event::Smp { event: crate::smp::SmpEvent::AskForAnswer(q), percent: 25, .. } if q == "q?"))
    );
    let ev = b.channel.smp_verify(&b.account, b"pw", None, 6);
    pump(&mut b, &mut a, ev, 6);
    let done = |events: &[Event]| {
        events.iter().rev().find_map(|e| match e {
            Event::Smp { event, .. } => event.outcome(),
            _ => None,
        })
    };
    assert_eq!(done(&a.events), Some(crate::smp::SmpOutcome::Verified));
    assert_eq!(done(&b.events), Some(crate::smp::SmpOutcome::Verified));
    assert!(a.channel.sessions().iter().any(|s| s.current && s.trusted));
    // SMP needs an encrypted session, and is reset when it ends.
    let ev = a.channel.smp_verify(&a.account, b"pw", None, 7);
    assert!(a.channel.sessions().iter().any(|s| s.smp_in_progress));
    drop(ev);
    let _ = a.channel.finish(&a.account, 8);
    assert!(a.channel.sessions().iter().all(|s| !s.smp_in_progress));
    assert_eq!(
        a.channel.smp_verify(&a.account, b"pw", None, 9),
        Output::of(Event::Problem(Problem::NotEncrypted))
    );
}

#[test]
fn made_up_instance_tags_cannot_grow_the_channel() {
    let (mut a, mut b) = secure_pair(Policy::MANUAL, Policy::MANUAL);
    let ours = a.account.instance_tag;
    // Fragments and DH-Commits from ever new instance tags: at most MAX_INSTANCES sessions.
    for tag in 0x1000..0x1000 + 500u32 {
        let frag = format!("?OTR|{tag:08x}|{ours:08x},00001,00009,{},", "A".repeat(100));
        let _ = a.channel.read(&a.account, &frag, 10 + u64::from(tag));
        assert!(a.channel.sessions.len() <= MAX_INSTANCES);
    }
    for _ in 0..(2 * MAX_INSTANCES) {
        let mut c = Side::new("c@x", Policy::MANUAL);
        let commit = injects(&c.channel.read(&c.account, "?OTRv3?", 5000));
        assert_eq!(commit.len(), 1);
        let ev = a.channel.read(&a.account, &commit[0], 5000);
        assert!(!injects(&ev).is_empty(), "a DH-Key answers the commit");
        assert!(a.channel.sessions.len() <= MAX_INSTANCES);
    }
    // A data message from an unknown instance makes no session at all.
    let before = a.channel.sessions.len();
    let wire = injects(&b.channel.write(&b.account, "hi", 6000)).remove(0);
    let Ok(message::Classified::Encoded(mut bytes)) = message::classify(&wire) else {
        panic!("an encoded data message: {wire}");
    };
    bytes[3..7].copy_from_slice(&0xbeefu32.to_be_bytes());
    let _ = a.channel.read(&a.account, &armor(&bytes), 6000);
    assert!(a.channel.sessions.len() <= before);
    // The private session with b is kept (private sessions go last) and still works.
    assert!(a.channel.is_encrypted());
    let ev = a.channel.read(
        &a.account,
        &injects(&b.channel.write(&b.account, "still here", 6001))[0],
        6001,
    );
    assert_eq!(received(&ev.events), vec![("still here".to_owned(), true)]);
}

#[test]
fn untrusted_fingerprints_are_bounded_and_trusted_ones_kept() {
    let mut a = Side::new("a@x", Policy::MANUAL);
    let trusted = crate::keys::Fingerprint([0xee; 20]);
    a.channel.trust(trusted, true);
    for i in 0..200u8 {
        a.channel
            .remember_fingerprint(crate::keys::Fingerprint([i; 20]));
        let untrusted = a.channel.fingerprints.values().filter(|t| !**t).count();
        assert!(untrusted <= MAX_UNTRUSTED_FINGERPRINTS);
    }
    assert!(a.channel.is_trusted(&trusted));
    assert!(a
        .channel
        .fingerprints
        .contains_key(&crate::keys::Fingerprint([199; 20])));
}

/// The stored form of a channel is pinned byte for byte: applications keep channels with
/// bincode, so a change of field order or type would make their stored state unreadable.
#[test]
fn stored_form_is_pinned() {
    let mut c = Channel::new();
    c.trust(Fingerprint([1; 20]), true);
    c.trust(Fingerprint([2; 20]), false);
    c.offer = Offer::Sent;
    c.pending.push("held".to_owned());
    c.selected = Some(0x100);
    let s = c.sessions.entry(0x100).or_default();
    s.msg = MsgState::Finished;
    s.last_recv = 5;
    s.last_sent = 6;
    s.fragment_at = 7;
    s.ake_at = 300;
    let f = fragment::parse("?OTR|00000100|00000200,00001,00002,abc,").unwrap();
    assert_eq!(s.fragments.add(&f), None);
    c.sessions.entry(0).or_default();
    let cfg = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&c, cfg).unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, GOLDEN);
    let (back, _): (Channel, usize) = bincode::serde::decode_from_slice(&bytes, cfg).unwrap();
    assert_eq!(back, c);
}

const GOLDEN: &str = "020000000000000000000000fb00010002050601020361626307fb2c01000201010101010101010101010101010101010101010102020202020202020202020202020202020202020001010468656c6401fb0001";
