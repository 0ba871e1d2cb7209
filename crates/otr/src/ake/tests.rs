//! Tests of the AKE state machine.

use super::*;
use crate::keys::tests::test_key;

const A: Tags = Tags {
    ours: 0x100,
    theirs: 0x200,
};
const B: Tags = Tags {
    ours: 0x200,
    theirs: 0x100,
};

fn deliver(state: &mut AkeState, bytes: &[u8], tags: Tags) -> AkeOutput {
    let (next, out) =
        core::mem::take(state).handle(&Message::parse(bytes).unwrap(), &test_key(), tags);
    *state = next;
    out.unwrap()
}

fn sent(o: AkeOutput) -> Vec<u8> {
    match o {
        AkeOutput::Send(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[test]
fn full_ake_both_roles() {
    for version in [Version::V2, Version::V3] {
        let (mut bob, commit) = start(version, A).unwrap();
        let mut alice = AkeState::None;
        let dh_key = sent(deliver(&mut alice, &commit, B));
        // A retransmitted DH-Key gets the same Reveal Signature.
        let reveal = sent(deliver(&mut bob, &dh_key, A));
        assert_eq!(sent(deliver(&mut bob, &dh_key, A)), reveal);
        let AkeOutput::Done(est_a, Some(sig)) = deliver(&mut alice, &reveal, B) else {
            panic!()
        };
        let AkeOutput::Done(est_b, None) = deliver(&mut bob, &sig, A) else {
            panic!()
        };
        assert_eq!(est_a.ssid, est_b.ssid);
        assert_eq!(est_a.their_dh, est_b.our_dh.public);
        assert_eq!(est_b.their_dh, est_a.our_dh.public);
        assert_eq!(est_a.fingerprint, test_key().fingerprint());
        assert!(est_b.we_committed && !est_a.we_committed);
        assert_eq!(alice, AkeState::None);
        assert_eq!(bob, AkeState::None);
    }
}

#[test]
fn simultaneous_commits_resolve_by_hash() {
    let (mut a, commit_a) = start(Version::V3, A).unwrap();
    let (mut b, commit_b) = start(Version::V3, B).unwrap();
    let out_a = deliver(&mut a, &commit_b, A);
    let out_b = deliver(&mut b, &commit_a, B);
    // Exactly one side keeps its commit (resends it), the other answers with a DH-Key.
    let kinds = [&a, &b].map(|s| matches!(s, AkeState::AwaitingDhKey(_)));
    assert_eq!(kinds.iter().filter(|k| **k).count(), 1);
    let (mut winner, mut loser, resend, dh_key, wt, lt) = if kinds[0] {
        (a, b, out_a, out_b, A, B)
    } else {
        (b, a, out_b, out_a, B, A)
    };
    let resend = sent(resend);
    assert_eq!(Message::parse(&resend).unwrap().header.version, Version::V3);
    let reveal = sent(deliver(&mut winner, &sent(dh_key), wt));
    let AkeOutput::Done(_, Some(sig)) = deliver(&mut loser, &reveal, lt) else {
        panic!()
    };
    assert!(matches!(
        deliver(&mut winner, &sig, wt),
        AkeOutput::Done(_, None)
    ));
}

#[test]
fn tampering_is_rejected_without_state_change() {
    let (mut bob, commit) = start(Version::V3, A).unwrap();
    let mut alice = AkeState::None;
    let dh_key = sent(deliver(&mut alice, &commit, B));
    let reveal = sent(deliver(&mut bob, &dh_key, A));
    let before = alice.clone();
    for i in [20, 40, reveal.len() - 5] {
        let mut bad = reveal.clone();
        bad[i] ^= 0x40;
        let Ok(m) = Message::parse(&bad) else {
            continue;
        };
        let (next, r) = alice.handle(&m, &test_key(), B);
        assert!(r.is_err(), "byte {i}");
        assert_eq!(next, before, "byte {i}: the state is given back unchanged");
        alice = next;
    }
    // An out-of-range g^y is refused.
    let m = Message {
        header: Header {
            version: Version::V3,
            sender: 0x200,
            receiver: 0x100,
        },
        body: Body::DhKey { gy: vec![1] },
    };
    let before = bob.clone();
    let (bob, r) = bob.handle(&m, &test_key(), A);
    assert_eq!(r.err(), None, "ignored in AwaitingSig");
    assert_eq!(bob, before);
    let (fresh, _) = start(Version::V3, A).unwrap();
    let before = fresh.clone();
    let (fresh, r) = fresh.handle(&m, &test_key(), A);
    assert_eq!(r.err(), Some(OtrError::Range));
    assert_eq!(
        fresh, before,
        "a refused DH-Key leaves the commit as it was"
    );
}

/// libotr 4.1.1 in version 2 answers our DH-Commit with a DH-Key although it sent its own
/// commit; whichever hash is higher, our side must still complete the AKE.
#[test]
fn simultaneous_commit_with_a_peer_that_always_yields() {
    for _ in 0..6 {
        let (mut a, _commit_a) = start(Version::V2, A).unwrap();
        let (_, commit_b) = start(Version::V2, B).unwrap();
        let (mut b, _) = start(Version::V2, B).unwrap();
        // The peer's state is replaced by a fresh answer to our commit (as libotr does).
        let first = deliver(&mut a, &commit_b, A);
        let AkeState::AwaitingDhKey(ours) = &a else {
            // We lost the comparison: we answered with a DH-Key but kept our commit.
            let AkeState::AwaitingRevealSig(s) = &a else {
                panic!()
            };
            assert!(s.superseded.is_some());
            let _ = sent(first);
            let resend = s.superseded.as_ref().unwrap().commit.clone();
            finish_against_yielding_peer(&mut a, &mut b, &resend);
            continue;
        };
        let commit = ours.commit.clone();
        assert_eq!(sent(first), commit);
        finish_against_yielding_peer(&mut a, &mut b, &commit);
    }
}

fn finish_against_yielding_peer(a: &mut AkeState, b: &mut AkeState, our_commit: &[u8]) {
    *b = AkeState::None;
    let dh_key = sent(deliver(b, our_commit, B));
    let reveal = sent(deliver(a, &dh_key, A));
    let AkeOutput::Done(est_b, Some(sig)) = deliver(b, &reveal, B) else {
        panic!()
    };
    let AkeOutput::Done(est_a, None) = deliver(a, &sig, A) else {
        panic!()
    };
    assert_eq!(est_a.ssid, est_b.ssid);
}
