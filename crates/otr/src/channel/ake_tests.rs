//! Engine to engine: a failed AKE is reported and never blocks the next one, a refresh ends a
//! running SMP, and partial fragments are bounded per channel.

use super::tests::{pump, Side};
use super::*;
use crate::fragment;
use crate::message::{classify, Body, Classified, Message};

/// How the peer spoils its half of the first exchange.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// The peer commits, and its Reveal Signature's MAC is wrong.
    RevealSigMac,
    /// The peer commits, and its revealed key lost a leading zero byte (otr.js 0.2.16).
    RevealedKeyShort,
    /// We commit, and the peer's Signature's MAC is wrong.
    SignatureMac,
}

/// `wire` spoiled as `fault` says, if it is the message that fault applies to.
fn spoil(wire: &str, fault: Fault) -> Option<String> {
    let Ok(Classified::Encoded(bytes)) = classify(wire) else {
        return None;
    };
    let mut msg = Message::parse(&bytes).ok()?;
    match (&mut msg.body, fault) {
        (Body::RevealSig { mac, .. }, Fault::RevealSigMac)
        | (Body::Signature { mac, .. }, Fault::SignatureMac) => mac[0] ^= 1,
        (Body::RevealSig { revealed_key, .. }, Fault::RevealedKeyShort) => {
            revealed_key.remove(0);
        }
        _ => return None,
    }
    Some(message::armor(&msg.encode()))
}

/// Relays between `peer` and `us`, spoiling the one message `fault` names; returns our
/// output.
fn failed_exchange(us: &mut Side, peer: &mut Side, fault: Fault, now: u64) -> Output {
    let mut to_us = Vec::new();
    let mut to_peer = Vec::new();
    match fault {
        Fault::RevealSigMac | Fault::RevealedKeyShort => {
            to_peer.extend(us.channel.init(&us.account).wire)
        }
        Fault::SignatureMac => to_us.extend(peer.channel.init(&peer.account).wire),
    }
    let mut ours = Output::default();
    let mut spoiled = false;
    for _ in 0..10 {
        for m in core::mem::take(&mut to_peer) {
            to_us.extend(peer.channel.read(&peer.account, &m, now).wire);
        }
        for m in core::mem::take(&mut to_us) {
            let m = match spoil(&m, fault).filter(|_| !spoiled) {
                Some(bad) => {
                    spoiled = true;
                    bad
                }
                None => m,
            };
            let out = us.channel.read(&us.account, &m, now);
            to_peer.extend(out.wire.iter().cloned());
            ours.append(out);
        }
    }
    assert!(
        spoiled,
        "{fault:?}: the exchange never reached the spoiled message"
    );
    ours
}

fn secure_events(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::GoneSecure { .. }))
        .count()
}

#[test]
fn a_failed_ake_is_reported_and_the_next_one_succeeds_at_once() {
    let faults = [
        Fault::RevealSigMac,
        Fault::RevealedKeyShort,
        Fault::SignatureMac,
    ];
    for policy in [Policy::MANUAL, Policy::ALLOW_V2] {
        for fault in faults {
            for we_commit in [true, false] {
                let case = format!("{policy:?} {fault:?}, retry with we_commit={we_commit}");
                let mut us = Side::new("alice@x", policy);
                let mut peer = Side::new("bob@x", policy);
                let failed = failed_exchange(&mut us, &mut peer, fault, 10);
                assert!(
                    failed
                        .events
                        .iter()
                        .any(|e| matches!(e, Event::Problem(Problem::Ake(_)))),
                    "{case}: {failed:?}"
                );
                assert!(
                    failed.wire.contains(&ERR_AKE_FAILED.to_owned()),
                    "{case}: the peer is told with an OTR error: {failed:?}"
                );
                assert!(!us.channel.is_encrypted(), "{case}");
                // The peer (or we) start again at once: no timer has run.
                let first = if we_commit {
                    peer.channel.init(&peer.account)
                } else {
                    us.channel.init(&us.account)
                };
                us.events.clear();
                if we_commit {
                    pump(&mut peer, &mut us, first, 11);
                } else {
                    pump(&mut us, &mut peer, first, 11);
                }
                assert_eq!(secure_events(&us.events), 1, "{case}: {:?}", us.events);
                assert!(
                    us.channel.is_encrypted() && peer.channel.is_encrypted(),
                    "{case}"
                );
                let out = peer.channel.write(&peer.account, "private now", 12);
                pump(&mut peer, &mut us, out, 12);
                assert!(
                    us.events.iter().any(|e| matches!(
                        e,
                        Event::Message { text, encrypted: true, .. } if text == "private now"
                    )),
                    "{case}: {:?}",
                    us.events
                );
            }
        }
    }
}

#[test]
fn a_retransmitted_dh_key_still_ends_in_one_private_conversation() {
    let mut us = Side::new("alice@x", Policy::MANUAL);
    let mut peer = Side::new("bob@x", Policy::MANUAL);
    let query = peer.channel.init(&peer.account);
    let commit = us.channel.read(&us.account, &query.wire[0], 1);
    let key = peer.channel.read(&peer.account, &commit.wire[0], 1);
    let k = &key.wire[0];
    let reveal = us.channel.read(&us.account, k, 1);
    let again = us.channel.read(&us.account, k, 1);
    assert!(
        !again.events.iter().any(|e| matches!(e, Event::Problem(_))),
        "{again:?}"
    );
    pump(&mut us, &mut peer, reveal, 1);
    pump(&mut us, &mut peer, again, 1);
    assert!(us.channel.is_encrypted() && peer.channel.is_encrypted());
    assert_eq!(secure_events(&us.events), 1, "{:?}", us.events);
}

fn smp_events(events: &[Event]) -> Vec<crate::smp::SmpEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Smp { event, .. } => Some(event.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_refresh_ends_a_running_smp_and_one_started_at_once_after_it_succeeds() {
    use crate::smp::SmpEvent;
    for policy in [Policy::MANUAL, Policy::ALLOW_V2] {
        let mut us = Side::new("alice@x", policy);
        let mut peer = Side::new("bob@x", policy);
        let q = peer.channel.init(&peer.account);
        pump(&mut peer, &mut us, q, 1);
        assert!(us.channel.is_encrypted() && peer.channel.is_encrypted());
        // We start SMP; our first message is still on the way when the peer's
        // client refreshes the conversation.
        let lost = us.channel.smp_verify(&us.account, b"secret", None, 2);
        assert!(!lost.is_empty());
        assert!(us.channel.sessions().iter().any(|s| s.smp_in_progress));
        us.events.clear();
        let q = peer.channel.refresh(&peer.account);
        pump(&mut peer, &mut us, q, 3);
        assert!(
            us.events
                .iter()
                .any(|e| matches!(e, Event::StillSecure { .. })),
            "{policy:?}: {:?}",
            us.events
        );
        assert!(
            !us.channel.sessions().iter().any(|s| s.smp_in_progress),
            "{policy:?}: our SMP ended with the old session"
        );
        // The peer starts SMP at once; we are asked and answer.
        us.events.clear();
        let out = peer.channel.smp_verify(&peer.account, b"secret", None, 4);
        pump(&mut peer, &mut us, out, 4);
        assert_eq!(
            smp_events(&us.events),
            [SmpEvent::AskForSecret],
            "{policy:?}"
        );
        let out = us.channel.smp_verify(&us.account, b"secret", None, 5);
        us.events.extend(out.events.iter().cloned());
        pump(&mut us, &mut peer, out, 5);
        assert!(
            smp_events(&us.events).contains(&SmpEvent::Success),
            "{policy:?}: {:?}",
            us.events
        );
        assert!(
            smp_events(&peer.events).contains(&SmpEvent::Success),
            "{policy:?}"
        );
    }
}

#[test]
fn partial_fragments_of_many_instances_are_bounded_per_channel() {
    let us = Side::new("alice@x", Policy::MANUAL);
    let (account, mut channel) = (us.account, us.channel);
    let piece = "A".repeat(fragment::MAX_REASSEMBLED - 1000);
    for i in 0..MAX_INSTANCES as u32 {
        let sender = 0x1000 + i;
        let text = format!("?OTR|{sender:08x}|00000000,00001,00002,{piece},");
        let _ = channel.read(&account, &text, 10 + u64::from(i));
        let held: usize = channel
            .sessions
            .values()
            .map(Session::buffered_fragments)
            .sum();
        assert!(
            held <= MAX_CHANNEL_FRAGMENTS,
            "{held} bytes after {} instances",
            i + 1
        );
    }
    // The newest partial message is the one kept, and it still completes.
    let last = 0x1000 + MAX_INSTANCES as u32 - 1;
    let end = format!("?OTR|{last:08x}|00000000,00002,00002,B,");
    let out = channel.read(&account, &end, 100);
    assert!(
        out.events
            .iter()
            .any(|e| matches!(e, Event::Problem(Problem::Malformed(_)))),
        "the whole (not a valid OTR message) was read: {out:?}"
    );
    let encoded = bincode::serde::encode_to_vec(&channel, bincode::config::standard()).unwrap();
    assert!(
        encoded.len() < 2 * MAX_CHANNEL_FRAGMENTS,
        "{} bytes stored",
        encoded.len()
    );
}
