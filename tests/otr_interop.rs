//! Interop of the project's OTR engine with real libotr 4.1.1 (through the test peer).

mod support;

use otrbot::otr::{Account, Channel, Ended, Event, Policy, Problem, Version};
use support::engine::{injects, run, Bot, BOT};
use support::libotr::{policy, MsgState, Peer};

impl Bot {
    fn messages(&self) -> Vec<(String, bool)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Message {
                    text, encrypted, ..
                } => Some((text.clone(), *encrypted)),
                _ => None,
            })
            .collect()
    }

    fn gone_secure(&self) -> Vec<Version> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::GoneSecure { version, .. } => Some(*version),
                _ => None,
            })
            .collect()
    }
}

fn lib_with(pol: u32) -> Peer {
    let mut lib = Peer::with_key("alice");
    lib.policy(pol);
    lib
}

fn versions() -> [(u32, Version); 2] {
    [
        (policy::ALLOW_V2 | policy::ALLOW_V3, Version::V3),
        (policy::ALLOW_V2, Version::V2),
    ]
}

fn assert_secure(bot: &Bot, lib: &mut Peer, version: Version) {
    assert_eq!(bot.gone_secure().last(), Some(&version), "{:?}", bot.events);
    assert!(bot.channel.is_encrypted());
    let st = lib.status(BOT);
    assert_eq!(st.msgstate, MsgState::Encrypted);
    assert_eq!(st.version, u32::from(version == Version::V3) + 2);
}

fn talk(bot: &mut Bot, lib: &mut Peer, text: &str) {
    let o = lib.send(BOT, text.as_bytes());
    run(bot, lib, Vec::new(), o.inject);
    assert_eq!(bot.messages().last(), Some(&(text.to_owned(), true)));
    let ev = bot.channel.write(&bot.account, text, bot.now);
    let o = run(bot, lib, injects(&ev), Vec::new());
    assert_eq!(o.delivered_text(), vec![text.to_owned()], "{o:?}");
}

#[test]
fn libotr_queries_then_messages_both_ways() {
    for (pol, version) in versions() {
        let mut lib = lib_with(pol);
        let mut bot = Bot::new(Policy::MANUAL);
        let q = lib.query(BOT);
        let o = run(&mut bot, &mut lib, Vec::new(), q.inject);
        assert!(o.gone_secure());
        assert_secure(&bot, &mut lib, version);
        // Both sides see the right fingerprints.
        let lib_fp = lib.fingerprint();
        assert!(bot.events.iter().any(
            |e| matches!(e, Event::GoneSecure { fingerprint, .. } if fingerprint.0 == lib_fp)
        ));
        assert!(bot
            .events
            .iter()
            .any(|e| matches!(e, Event::UnverifiedFingerprint { new: true, .. })));
        for i in 0..5 {
            talk(&mut bot, &mut lib, &format!("message {i} ünïcode"));
        }
    }
}

#[test]
fn engine_queries_then_messages_both_ways() {
    for (pol, version) in versions() {
        let mut lib = lib_with(pol);
        let mut bot = Bot::new(Policy::MANUAL);
        let q = bot.channel.init(&bot.account);
        run(&mut bot, &mut lib, injects(&q), Vec::new());
        assert_secure(&bot, &mut lib, version);
        talk(&mut bot, &mut lib, "hello libotr");
    }
}

#[test]
fn whitespace_tag_starts_either_way() {
    for (pol, version) in versions() {
        // The engine tags, libotr starts the AKE.
        let mut lib = lib_with(pol | policy::WHITESPACE_START_AKE);
        let mut bot = Bot::new(Policy::OPPORTUNISTIC);
        let ev = bot.channel.write(&bot.account, "plain hello", bot.now);
        let o = run(&mut bot, &mut lib, injects(&ev), Vec::new());
        assert_eq!(o.delivered_text(), vec!["plain hello".to_owned()]);
        assert_secure(&bot, &mut lib, version);
        // libotr tags, the engine starts the AKE.
        let mut lib = lib_with(pol | policy::SEND_WHITESPACE_TAG);
        let mut bot = Bot::new(Policy::OPPORTUNISTIC);
        let o = lib.send(BOT, b"tagged hi");
        run(&mut bot, &mut lib, Vec::new(), o.inject);
        assert_eq!(bot.messages()[0], ("tagged hi".to_owned(), false));
        assert_secure(&bot, &mut lib, version);
    }
}

#[test]
fn error_message_starts_either_way() {
    for (pol, version) in versions() {
        let mut lib = lib_with(pol | policy::ERROR_START_AKE);
        let mut bot = Bot::new(Policy::OPPORTUNISTIC);
        run(
            &mut bot,
            &mut lib,
            vec![b"?OTR Error: please start".to_vec()],
            Vec::new(),
        );
        assert_secure(&bot, &mut lib, version);

        let mut lib = lib_with(pol);
        let mut bot = Bot::new(Policy::OPPORTUNISTIC);
        run(
            &mut bot,
            &mut lib,
            Vec::new(),
            vec![b"?OTR Error: go on".to_vec()],
        );
        assert!(bot
            .events
            .contains(&Event::Problem(Problem::ReceivedError("go on".into()))));
        assert_secure(&bot, &mut lib, version);
    }
}

#[test]
fn fragmented_messages_both_ways() {
    for (pol, version) in versions() {
        let mut lib = lib_with(pol);
        lib.max_size(150);
        let mut bot = Bot::new(Policy::MANUAL);
        bot.account.max_message_size = 140;
        // libotr would also fragment its own query text at commas it cannot reassemble
        // itself (libotr's "%*[^,]" parser), so the engine sends the query; the AKE
        // messages are fragmented both ways.
        let q = bot.channel.init(&bot.account);
        run(&mut bot, &mut lib, injects(&q), Vec::new());
        assert_secure(&bot, &mut lib, version);
        let long: String = (0..1500)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let o = lib.send(BOT, long.as_bytes());
        assert!(o.inject.len() > 5, "libotr fragmented");
        run(&mut bot, &mut lib, Vec::new(), o.inject);
        assert_eq!(bot.messages().last().unwrap().0, long);
        let ev = bot.channel.write(&bot.account, &long, bot.now);
        assert!(injects(&ev).len() > 5 && injects(&ev).iter().all(|f| f.len() <= 140));
        let o = run(&mut bot, &mut lib, injects(&ev), Vec::new());
        assert_eq!(o.delivered_text(), vec![long.clone()]);
    }
}

#[test]
fn simultaneous_start() {
    // In version 2 libotr 4.1.1 answers our DH-Commit with a DH-Key even when its own
    // commit's hash is higher (so does v3 from a new instance's context). Whichever commit
    // wins, both sides settle: each round draws new commits, and the rounds cover both orders
    // (one order failed 2 runs in 5 when a losing commit was answered by a DH-Key).
    for (pol, version) in versions().iter().flat_map(|v| std::iter::repeat_n(*v, 8)) {
        let mut lib = lib_with(pol);
        let mut bot = Bot::new(Policy::MANUAL);
        let ql = lib.query(BOT);
        let qb = bot.channel.init(&bot.account);
        run(&mut bot, &mut lib, injects(&qb), ql.inject);
        assert_secure(&bot, &mut lib, version);
        talk(&mut bot, &mut lib, "after the race");
    }
}

#[test]
fn ending_from_either_side() {
    for (pol, version) in versions() {
        // libotr ends.
        let mut lib = lib_with(pol);
        let mut bot = Bot::new(Policy::MANUAL);
        let q = lib.query(BOT).inject;
        run(&mut bot, &mut lib, Vec::new(), q);
        assert_secure(&bot, &mut lib, version);
        let o = lib.finish(BOT);
        run(&mut bot, &mut lib, Vec::new(), o.inject);
        assert!(bot.events.iter().any(|e| matches!(
            e,
            Event::GoneInsecure {
                ended: Ended::ByPeer,
                ..
            }
        )));
        let out = bot.channel.write(&bot.account, "x", bot.now);
        assert!(out.wire.is_empty(), "{out:?}");
        assert_eq!(out.events, vec![Event::Problem(Problem::ConnectionEnded)]);
        assert!(bot.channel.finish(&bot.account, bot.now).is_empty());
        assert!(!bot.channel.is_encrypted());
        // The engine ends.
        let mut lib = lib_with(pol);
        let mut bot = Bot::new(Policy::MANUAL);
        let q = lib.query(BOT).inject;
        run(&mut bot, &mut lib, Vec::new(), q);
        let ev = bot.channel.finish(&bot.account, bot.now);
        assert!(ev.events.iter().any(|e| matches!(
            e,
            Event::GoneInsecure {
                ended: Ended::ByUs,
                ..
            }
        )));
        run(&mut bot, &mut lib, injects(&ev), Vec::new());
        assert_eq!(lib.status(BOT).msgstate, MsgState::Finished);
    }
}

#[test]
fn peer_restart_with_new_instance_tag() {
    let mut lib = lib_with(policy::ALLOW_V2 | policy::ALLOW_V3);
    let mut bot = Bot::new(Policy::MANUAL);
    let q = lib.query(BOT).inject;
    run(&mut bot, &mut lib, Vec::new(), q);
    let first = bot.channel.current_instance();
    assert_eq!(first, lib.instag());
    talk(&mut bot, &mut lib, "before restart");
    lib.forget();
    let second = lib.instag();
    assert_ne!(first, second);
    bot.now += 10;
    let q = lib.query(BOT).inject;
    run(&mut bot, &mut lib, Vec::new(), q);
    assert_eq!(bot.channel.current_instance(), second);
    assert_secure(&bot, &mut lib, Version::V3);
    talk(&mut bot, &mut lib, "after restart");
}

#[test]
fn channel_survives_serialisation_mid_conversation() {
    for (pol, version) in versions() {
        let mut lib = lib_with(pol);
        let mut bot = Bot::new(Policy::MANUAL);
        let q = lib.query(BOT).inject;
        run(&mut bot, &mut lib, Vec::new(), q);
        assert_secure(&bot, &mut lib, version);
        talk(&mut bot, &mut lib, "before saving");
        let cfg = bincode::config::standard();
        let state = bincode::serde::encode_to_vec(&bot.channel, cfg).unwrap();
        let account = bincode::serde::encode_to_vec(&bot.account, cfg).unwrap();
        let (channel, _): (Channel, usize) =
            bincode::serde::decode_from_slice(&state, cfg).unwrap();
        let (account, _): (Account, usize) =
            bincode::serde::decode_from_slice(&account, cfg).unwrap();
        assert_eq!(channel, bot.channel);
        bot.channel = channel;
        bot.account = account;
        for i in 0..3 {
            talk(&mut bot, &mut lib, &format!("after restoring {i}"));
        }
    }
}

#[test]
fn unreadable_and_replayed_messages_are_refused() {
    let mut lib = lib_with(policy::ALLOW_V2 | policy::ALLOW_V3);
    let mut bot = Bot::new(Policy::MANUAL);
    let q = lib.query(BOT).inject;
    run(&mut bot, &mut lib, Vec::new(), q);
    let o = lib.send(BOT, b"once");
    let wire = String::from_utf8(o.inject[0].clone()).unwrap();
    let first = bot.channel.read(&bot.account, &wire, bot.now);
    assert!(first
        .events
        .iter()
        .any(|e| matches!(e, Event::Message { text, .. } if text == "once")));
    let again = bot.channel.read(&bot.account, &wire, bot.now);
    assert!(again
        .events
        .iter()
        .any(|e| matches!(e, Event::Problem(Problem::Unreadable(_)))));
    // The error we send makes libotr report it.
    let o = run(&mut bot, &mut lib, injects(&again), Vec::new());
    assert!(!o.events.is_empty());
}
