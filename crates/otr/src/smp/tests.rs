//! Rust-against-Rust SMP exchanges: results, questions, aborts, tampering, garbage, serde.

use super::tlv::{decode_mpis, encode_mpis};
use super::*;
use crate::group::{g_pow, Element};

const ALICE_FP: [u8; 20] = [0xa1; 20];
const BOB_FP: [u8; 20] = [0xb0; 20];
const SSID: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

/// The secret of the initiator (alice) and of the responder (bob) for these answers.
fn secrets(alice: &str, bob: &str) -> (Exponent, Exponent) {
    (
        secret(&ALICE_FP, &BOB_FP, &SSID, alice.as_bytes()),
        secret(&ALICE_FP, &BOB_FP, &SSID, bob.as_bytes()),
    )
}

/// Takes the single TLV a step sends.
fn one(step: &SmpStep) -> Tlv {
    assert_eq!(step.send.len(), 1, "{step:?}");
    step.send[0].clone()
}

/// Runs a whole exchange and returns the final events of alice and bob.
fn run(a_secret: &str, b_secret: &str, question: Option<&str>) -> (SmpEvent, SmpEvent) {
    let (x, y) = secrets(a_secret, b_secret);
    let (mut alice, mut bob) = (SmpState::new(), SmpState::new());
    let s = alice.start(x, question).unwrap();
    assert_eq!(s.event, Some(SmpEvent::InProgress(20)));
    let m1 = one(&s);
    assert_eq!(m1.typ, if question.is_some() { SMP1Q } else { SMP1 });
    let s = bob.on_tlv(&m1);
    assert!(s.send.is_empty());
    match question {
        Some(q) => {
            assert_eq!(s.event, Some(SmpEvent::AskForAnswer(q.to_string())));
            assert_eq!(bob.question(), Some(q));
        }
        None => assert_eq!(s.event, Some(SmpEvent::AskForSecret)),
    }
    let s = bob.respond(y).unwrap();
    assert_eq!(s.event, Some(SmpEvent::InProgress(40)));
    let s = alice.on_tlv(&one(&s));
    assert_eq!(s.event, Some(SmpEvent::InProgress(60)));
    let s = bob.on_tlv(&one(&s));
    let bob_event = s.event.clone().unwrap();
    let s = alice.on_tlv(&one(&s));
    assert!(s.send.is_empty());
    assert!(!alice.in_progress() && !bob.in_progress());
    (s.event.unwrap(), bob_event)
}

#[test]
fn right_secret_verifies_both_sides() {
    let (a, b) = run("open sesame", "open sesame", None);
    assert_eq!(
        (a.clone(), b.clone()),
        (SmpEvent::Success, SmpEvent::Success)
    );
    assert_eq!(a.outcome(), Some(SmpOutcome::Verified));
    assert_eq!(b.percent(), 100);
}

#[test]
fn wrong_secret_fails_both_sides() {
    let (a, b) = run("open sesame", "Open sesame", None);
    assert_eq!((a.clone(), b), (SmpEvent::Failure, SmpEvent::Failure));
    assert_eq!(a.outcome(), Some(SmpOutcome::Failed));
}

#[test]
fn question_is_delivered() {
    let (a, b) = run("blue", "blue", Some("Favourite colour?"));
    assert_eq!((a, b), (SmpEvent::Success, SmpEvent::Success));
    let (a, b) = run("blue", "red", Some("Qu'est-ce que c'est ?"));
    assert_eq!((a, b), (SmpEvent::Failure, SmpEvent::Failure));
}

#[test]
fn swapped_fingerprints_fail() {
    let x = secret(&ALICE_FP, &BOB_FP, &SSID, b"s");
    let y = secret(&BOB_FP, &ALICE_FP, &SSID, b"s");
    let (mut alice, mut bob) = (SmpState::new(), SmpState::new());
    let m = one(&alice.start(x, None).unwrap());
    bob.on_tlv(&m);
    let m = one(&bob.respond(y).unwrap());
    let m = one(&alice.on_tlv(&m));
    let s = bob.on_tlv(&m);
    assert_eq!(s.event, Some(SmpEvent::Failure));
    assert_eq!(alice.on_tlv(&one(&s)).event, Some(SmpEvent::Failure));
}

/// The messages of one honest exchange, and the states of both sides before each is handled.
struct Transcript {
    msgs: Vec<Tlv>,
    /// receiver state (as bincode) just before message i is delivered.
    receivers: Vec<Vec<u8>>,
}

fn encode_state(s: &SmpState) -> Vec<u8> {
    bincode::serde::encode_to_vec(s, bincode::config::standard()).unwrap()
}

fn decode_state(b: &[u8]) -> SmpState {
    bincode::serde::decode_from_slice(b, bincode::config::standard())
        .unwrap()
        .0
}

fn transcript() -> Transcript {
    let (x, y) = secrets("same", "same");
    let (mut alice, mut bob) = (SmpState::new(), SmpState::new());
    let m1 = one(&alice.start(x, None).unwrap());
    let r1 = encode_state(&bob);
    bob.on_tlv(&m1);
    let m2 = one(&bob.respond(y).unwrap());
    let r2 = encode_state(&alice);
    let m3 = one(&alice.on_tlv(&m2));
    let r3 = encode_state(&bob);
    let m4 = one(&bob.on_tlv(&m3));
    let r4 = encode_state(&alice);
    assert_eq!(alice.on_tlv(&m4).event, Some(SmpEvent::Success));
    Transcript {
        msgs: vec![m1, m2, m3, m4],
        receivers: vec![r1, r2, r3, r4],
    }
}

/// Replaces MPI `i` of a TLV payload.
fn with_mpi(tlv: &Tlv, count: usize, i: usize, value: &[u8]) -> Tlv {
    let mpis = decode_mpis(&tlv.value, count).unwrap();
    let mut owned: Vec<Vec<u8>> = mpis.iter().map(|m| m.to_vec()).collect();
    owned[i] = value.to_vec();
    let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
    Tlv {
        typ: tlv.typ,
        value: encode_mpis(&refs),
    }
}

#[test]
fn honest_transcript_replays_from_serialised_states() {
    let t = transcript();
    for (i, (m, r)) in t.msgs.iter().zip(&t.receivers).enumerate() {
        let mut st = decode_state(r);
        let s = st.on_tlv(m);
        assert!(
            !matches!(s.event, Some(SmpEvent::Cheated | SmpEvent::Error)),
            "message {i}: {s:?}"
        );
    }
}

#[test]
fn every_tampered_value_is_cheating() {
    let t = transcript();
    let counts = [6, 11, 8, 3];
    let other = g_pow(&Exponent::random(1536)).to_be_bytes();
    for (k, (m, r)) in t.msgs.iter().zip(&t.receivers).enumerate() {
        let mpis: Vec<Vec<u8>> = decode_mpis(&m.value, counts[k])
            .unwrap()
            .iter()
            .map(|v| v.to_vec())
            .collect();
        for (i, orig) in mpis.iter().enumerate() {
            // A different in-range value of the same kind, so the proofs themselves are tested.
            let mut changed = orig.clone();
            if Element::from_be_bytes(orig).is_ok() {
                changed = other.clone();
            } else {
                let last = changed.len() - 1;
                changed[last] ^= 1;
            }
            for bad in [changed, vec![], vec![1], vec![0xff; 192]] {
                let mut st = decode_state(r);
                let s = st.on_tlv(&with_mpi(m, counts[k], i, &bad));
                assert_eq!(s.event, Some(SmpEvent::Cheated), "message {k} value {i}");
                assert_eq!(s.send, vec![Tlv::abort()]);
                assert_eq!(s.outcome(), Some(SmpOutcome::Cheated));
                assert!(s.check_error.is_some());
                assert!(!st.in_progress());
            }
        }
    }
}

#[test]
fn abort_by_either_side_at_every_stage() {
    for stage in 0..3 {
        for aborter_is_alice in [true, false] {
            let (x, y) = secrets("a", "a");
            let (mut alice, mut bob) = (SmpState::new(), SmpState::new());
            let mut pending = one(&alice.start(x, None).unwrap());
            bob.on_tlv(&pending);
            if stage >= 1 {
                pending = one(&bob.respond(y).unwrap());
            }
            if stage >= 2 {
                pending = one(&alice.on_tlv(&pending));
            }
            let (me, peer) = if aborter_is_alice {
                (&mut alice, &mut bob)
            } else {
                (&mut bob, &mut alice)
            };
            let abort = me.abort();
            assert_eq!(abort.send, vec![Tlv::abort()]);
            assert!(!me.in_progress());
            let s = peer.on_tlv(&abort.send[0]);
            assert_eq!(s.event, Some(SmpEvent::Aborted));
            assert_eq!(s.outcome(), Some(SmpOutcome::Aborted));
            assert!(s.send.is_empty() && !peer.in_progress());
            // A message still in flight to the aborter is now out of order (SMP1 is not).
            if pending.typ != SMP1 {
                let mut receiver = if (stage == 1) == aborter_is_alice {
                    me.clone()
                } else {
                    peer.clone()
                };
                let s = receiver.on_tlv(&pending);
                assert_eq!(s.event, Some(SmpEvent::Error), "stage {stage}");
                assert_eq!(s.send, vec![Tlv::abort()]);
            }
        }
    }
}

#[test]
fn out_of_order_messages_are_errors() {
    let t = transcript();
    for (k, m) in t.msgs.iter().enumerate().skip(1) {
        let mut fresh = SmpState::new();
        let s = fresh.on_tlv(m);
        assert_eq!(s.event, Some(SmpEvent::Error), "message {k}");
        assert_eq!(s.send, vec![Tlv::abort()]);
    }
    // SMP1 while waiting for SMP2 is an error too (libotr).
    let mut alice = SmpState::new();
    alice.start(secrets("a", "a").0, None).unwrap();
    assert_eq!(alice.on_tlv(&t.msgs[0]).event, Some(SmpEvent::Error));
    assert!(!alice.in_progress());
    // respond without a request is a local error.
    assert_eq!(
        SmpState::new().respond(secrets("a", "a").1),
        Err(SmpError::NotAwaitingSecret)
    );
    // Other TLV types are ignored and keep the state.
    let mut bob = decode_state(&t.receivers[2]);
    let s = bob.on_tlv(&Tlv {
        typ: 0,
        value: vec![1, 2],
    });
    assert_eq!(s, SmpStep::default());
    assert!(matches!(bob, SmpState::Expect3(_)));
}

#[test]
fn question_with_nul_is_refused() {
    let mut alice = SmpState::new();
    let r = alice.start(secrets("a", "a").0, Some("a\0b"));
    assert_eq!(r, Err(SmpError::QuestionContainsNul));
    assert!(!alice.in_progress());
}

/// A small deterministic generator for garbage inputs (xorshift).
struct Garbage(u64);

impl Garbage {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[test]
fn garbage_payloads_never_panic() {
    let t = transcript();
    let mut g = Garbage(0x9e37_79b9_7f4a_7c15);
    let states: Vec<Vec<u8>> = std::iter::once(encode_state(&SmpState::new()))
        .chain(t.receivers.iter().cloned())
        .collect();
    for round in 0..300 {
        let typ = 2 + (g.next() % 6) as u16;
        let value = match round % 3 {
            0 => {
                let n = (g.next() % 64) as usize;
                g.bytes(n)
            }
            1 => {
                // A plausible MPI array with random lengths and contents.
                let count = (g.next() % 12) as usize;
                let parts: Vec<Vec<u8>> = (0..count)
                    .map(|_| {
                        let n = (g.next() % 200) as usize;
                        g.bytes(n)
                    })
                    .collect();
                let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                encode_mpis(&refs)
            }
            _ => {
                let mut v = t.msgs[(g.next() % 4) as usize].value.clone();
                let n = v.len();
                let at = (g.next() as usize) % n;
                v[at] ^= 1 << (g.next() % 8);
                v.truncate(n - (g.next() % 3) as usize);
                v
            }
        };
        let mut st = decode_state(&states[round % states.len()]);
        let s = st.on_tlv(&Tlv { typ, value });
        if typ != SMP_ABORT {
            assert!(
                matches!(
                    s.event,
                    Some(SmpEvent::Cheated | SmpEvent::Error | SmpEvent::AskForAnswer(_))
                ),
                "round {round}: {s:?}"
            );
        }
    }
}

#[test]
fn garbage_state_bytes_do_not_panic() {
    let t = transcript();
    let mut g = Garbage(12345);
    for r in &t.receivers {
        for _ in 0..50 {
            let mut b = r.clone();
            let at = (g.next() as usize) % b.len();
            b[at] ^= g.next() as u8 | 1;
            let _ =
                bincode::serde::decode_from_slice::<SmpState, _>(&b, bincode::config::standard());
        }
    }
}
