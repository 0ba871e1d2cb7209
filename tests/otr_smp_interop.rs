//! SMP and the extra symmetric key between the project's OTR engine and real libotr 4.1.1.

mod support;

use otrbot::otr::smp::{SmpEvent, SmpOutcome};
use otrbot::otr::{Channel, Event, Fingerprint, Policy};
use support::engine::{injects, run, Bot, BOT};
use support::libotr::{policy, Event as LibEvent, Peer};

/// A bot and a libotr peer in an encrypted session of the version the policy allows.
fn secure_pair(pol: u32) -> (Bot, Peer) {
    let mut bot = Bot::new(Policy::MANUAL);
    let mut lib = Peer::with_key("alice");
    lib.policy(pol);
    let q = lib.query(BOT).inject;
    run(&mut bot, &mut lib, Vec::new(), q);
    assert!(bot.channel.is_encrypted());
    (bot, lib)
}

fn lib_fp(lib: &mut Peer) -> Fingerprint {
    Fingerprint(lib.fingerprint())
}

/// The SMP events the bot reported since `from`, with their percentages.
fn smp_events(bot: &Bot, from: usize) -> Vec<(SmpEvent, u8)> {
    bot.events[from..]
        .iter()
        .filter_map(|e| match e {
            Event::Smp { event, percent, .. } => Some((event.clone(), *percent)),
            _ => None,
        })
        .collect()
}

fn last_outcome(bot: &Bot) -> Option<SmpOutcome> {
    smp_events(bot, 0)
        .iter()
        .rev()
        .find_map(|(e, _)| e.outcome())
}

const BOTH: [u32; 2] = [policy::ALLOW_V2 | policy::ALLOW_V3, policy::ALLOW_V2];

#[test]
fn engine_starts_smp_right_secret() {
    for pol in BOTH {
        let (mut bot, mut lib) = secure_pair(pol);
        let fp = lib_fp(&mut lib);
        assert!(!bot.channel.is_trusted(&fp));
        let ev = bot
            .channel
            .smp_verify(&bot.account, b"blue moon", None, bot.now);
        assert_eq!(
            smp_events(
                &Bot {
                    events: ev.events.clone(),
                    ..dummy(&bot)
                },
                0
            ),
            vec![(SmpEvent::InProgress(20), 20)]
        );
        let o = run(&mut bot, &mut lib, injects(&ev), Vec::new());
        assert!(o.has_smp("OTRL_SMPEVENT_ASK_FOR_SECRET"), "{o:?}");
        let start = bot.events.len();
        let o = lib.smp_respond(BOT, b"blue moon");
        let o = {
            let mut all = o.clone();
            all.extend(run(&mut bot, &mut lib, Vec::new(), o.inject));
            all
        };
        assert!(o.has_smp("OTRL_SMPEVENT_SUCCESS"), "{o:?}");
        let ev = smp_events(&bot, start);
        assert_eq!(ev.first(), Some(&(SmpEvent::InProgress(60), 60)));
        assert_eq!(ev.last(), Some(&(SmpEvent::Success, 100)));
        assert_eq!(last_outcome(&bot), Some(SmpOutcome::Verified));
        assert!(bot.channel.is_trusted(&fp));
        assert!(bot
            .channel
            .sessions()
            .iter()
            .any(|s| s.current && s.trusted));
    }
}

/// A bot with no events, to reuse the event filters on a returned event list.
fn dummy(bot: &Bot) -> Bot {
    Bot {
        account: bot.account.clone(),
        channel: Channel::new(),
        events: Vec::new(),
        now: 0,
    }
}

#[test]
fn libotr_starts_smp_with_question_right_secret() {
    for pol in BOTH {
        let (mut bot, mut lib) = secure_pair(pol);
        let o = lib.smp_start(BOT, b"42", Some(b"The answer?"));
        run(&mut bot, &mut lib, Vec::new(), o.inject);
        assert_eq!(
            smp_events(&bot, 0),
            vec![(SmpEvent::AskForAnswer("The answer?".into()), 25)]
        );
        let ev = bot.channel.smp_verify(&bot.account, b"42", None, bot.now);
        let o = run(&mut bot, &mut lib, injects(&ev), Vec::new());
        bot.events.extend(ev.events);
        assert!(o.has_smp("OTRL_SMPEVENT_SUCCESS"), "{o:?}");
        assert_eq!(last_outcome(&bot), Some(SmpOutcome::Verified));
        assert!(bot.channel.is_trusted(&lib_fp(&mut lib)));
        assert!(lib.status(BOT).trusted);
    }
}

#[test]
fn wrong_secret_fails_both_ways() {
    // The engine starts (with a question), libotr answers wrongly.
    let (mut bot, mut lib) = secure_pair(policy::ALLOW_V2 | policy::ALLOW_V3);
    let ev = bot
        .channel
        .smp_verify(&bot.account, b"secret", Some("Our word?"), bot.now);
    let o = run(&mut bot, &mut lib, injects(&ev), Vec::new());
    assert!(o.events.iter().any(|e| matches!(e,
        LibEvent::Smp { kind, question: Some(q), .. }
            if kind == "OTRL_SMPEVENT_ASK_FOR_ANSWER" && q == b"Our word?")));
    let o = lib.smp_respond(BOT, b"Secret");
    let mut o2 = o.clone();
    o2.extend(run(&mut bot, &mut lib, Vec::new(), o.inject));
    assert!(o2.has_smp("OTRL_SMPEVENT_FAILURE"), "{o2:?}");
    assert_eq!(last_outcome(&bot), Some(SmpOutcome::Failed));
    assert!(!bot.channel.is_trusted(&lib_fp(&mut lib)));
    // libotr starts, the engine answers wrongly.
    let o = lib.smp_start(BOT, b"one", None);
    run(&mut bot, &mut lib, Vec::new(), o.inject);
    assert_eq!(
        smp_events(&bot, 0).last(),
        Some(&(SmpEvent::AskForSecret, 25))
    );
    let ev = bot.channel.smp_verify(&bot.account, b"two", None, bot.now);
    let o = run(&mut bot, &mut lib, injects(&ev), Vec::new());
    bot.events.extend(ev.events);
    assert!(o.has_smp("OTRL_SMPEVENT_FAILURE"), "{o:?}");
    assert_eq!(last_outcome(&bot), Some(SmpOutcome::Failed));
    assert!(!bot.channel.is_trusted(&lib_fp(&mut lib)));
    // A right secret afterwards still works (the state was reset).
    let ev = bot
        .channel
        .smp_verify(&bot.account, b"three", None, bot.now);
    run(&mut bot, &mut lib, injects(&ev), Vec::new());
    let o = lib.smp_respond(BOT, b"three");
    run(&mut bot, &mut lib, Vec::new(), o.inject);
    assert_eq!(last_outcome(&bot), Some(SmpOutcome::Verified));
}

#[test]
fn abort_midway_from_either_side() {
    // libotr aborts after the engine started.
    let (mut bot, mut lib) = secure_pair(policy::ALLOW_V2 | policy::ALLOW_V3);
    let ev = bot.channel.smp_verify(&bot.account, b"x", None, bot.now);
    run(&mut bot, &mut lib, injects(&ev), Vec::new());
    assert!(bot
        .channel
        .sessions()
        .iter()
        .any(|s| s.current && s.smp_in_progress));
    let o = lib.smp_abort(BOT);
    run(&mut bot, &mut lib, Vec::new(), o.inject);
    assert_eq!(last_outcome(&bot), Some(SmpOutcome::Aborted));
    assert!(bot.channel.sessions().iter().all(|s| !s.smp_in_progress));
    // The engine aborts after libotr started and the engine was asked.
    let o = lib.smp_start(BOT, b"y", None);
    run(&mut bot, &mut lib, Vec::new(), o.inject);
    assert_eq!(
        smp_events(&bot, 0).last(),
        Some(&(SmpEvent::AskForSecret, 25))
    );
    let ev = bot.channel.smp_abort(&bot.account, bot.now);
    assert!(ev.events.iter().any(|e| matches!(
        e,
        Event::Smp {
            event: SmpEvent::Aborted,
            ..
        }
    )));
    let o = run(&mut bot, &mut lib, injects(&ev), Vec::new());
    assert!(o.has_smp("OTRL_SMPEVENT_ABORT"), "{o:?}");
    // The engine aborts in the middle of its own exchange (after message 2 arrived).
    let ev = bot.channel.smp_verify(&bot.account, b"z", None, bot.now);
    run(&mut bot, &mut lib, injects(&ev), Vec::new());
    let o = lib.smp_respond(BOT, b"z");
    // Deliver libotr's message 2 only, then abort instead of finishing.
    for m in o.inject {
        let ev = bot
            .channel
            .read(&bot.account, &String::from_utf8(m).unwrap(), bot.now);
        bot.events.extend(ev.events);
    }
    let ev = bot.channel.smp_abort(&bot.account, bot.now);
    let o = run(&mut bot, &mut lib, injects(&ev), Vec::new());
    assert!(o.has_smp("OTRL_SMPEVENT_ABORT"), "{o:?}");
    assert!(!bot.channel.is_trusted(&lib_fp(&mut lib)));
}

#[test]
fn symmetric_key_agreed_in_both_directions() {
    for pol in BOTH {
        let (mut bot, mut lib) = secure_pair(pol);
        // The engine creates it.
        let (key, ev) = bot
            .channel
            .create_symkey(&bot.account, 0x0102_0304, b"file.txt", bot.now)
            .unwrap();
        let o = run(&mut bot, &mut lib, injects(&ev), Vec::new());
        assert!(
            o.events.iter().any(|e| matches!(e,
                LibEvent::Symkey { usage, usedata, key: k, .. }
                    if *usage == 0x0102_0304 && usedata == b"file.txt" && k[..] == key[..])),
            "{o:?}"
        );
        // libotr creates it.
        let (key, o) = lib.symkey(BOT, 7, b"");
        run(&mut bot, &mut lib, Vec::new(), o.inject);
        assert!(bot.events.iter().any(|e| matches!(e,
            Event::Symkey { key: k, use_: 7, use_data, .. } if *k == key && use_data.is_empty())));
        // Without a private conversation there is no key.
        let _ = bot.channel.finish(&bot.account, bot.now);
        assert!(bot
            .channel
            .create_symkey(&bot.account, 1, b"", bot.now)
            .is_err());
    }
}
