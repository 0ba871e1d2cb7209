//! SMP: the TLV records of a decrypted plaintext, and the SMP state machine fed arbitrary
//! TLVs in each of its states.
//!
//! The states come from a real exchange between two `SmpState`s, built once; each input
//! clones one and feeds it TLVs, arbitrary or recorded (the genuine messages 1 to 3, perhaps
//! altered). Checked: no panic; an exchange that ends leaves no state behind; a refusal
//! always sends the abort TLV; and success needs the genuine values (forged or altered
//! messages never verify).
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use otr::smp::{self, SmpEvent, SmpState, Tlv, SMP1, SMP2, SMP3};
use otr::tlv;

struct World {
    states: Vec<SmpState>,
    /// The genuine messages 1, 2 and 3 of the exchange.
    genuine: Vec<Tlv>,
}

fn build() -> World {
    let (fa, fb, ssid) = ([1u8; 20], [2u8; 20], [3u8; 8]);
    let x = smp::secret(&fa, &fb, &ssid, b"the secret");
    let y = smp::secret(&fa, &fb, &ssid, b"the secret");
    let mut alice = SmpState::new();
    let mut bob = SmpState::new();
    let fresh = bob.clone();
    let m1 = alice.start(x, None).expect("start").send.remove(0);
    let expect2 = alice.clone();
    bob.on_tlv(&m1);
    let awaiting = bob.clone();
    let m2 = bob.respond(y).expect("respond").send.remove(0);
    let expect3 = bob.clone();
    let m3 = alice.on_tlv(&m2).send.remove(0);
    let expect4 = alice.clone();
    assert_eq!((m1.typ, m2.typ, m3.typ), (SMP1, SMP2, SMP3));
    let mut asked = SmpState::new();
    let mut with_q = m1.clone();
    with_q.typ = smp::SMP1Q;
    with_q.value = [b"who?\0".as_slice(), &m1.value].concat();
    asked.on_tlv(&with_q);
    assert!(asked.awaiting_secret());
    World {
        states: vec![fresh, awaiting, asked, expect2, expect3, expect4],
        genuine: vec![m1, m2, m3],
    }
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(build)
}

#[derive(Arbitrary, Debug)]
enum Input1 {
    /// Any TLV type and value.
    Any { typ: u16, value: Vec<u8> },
    /// A TLV of type 2 to 7.
    Smp { typ: u8, value: Vec<u8> },
    /// A genuine message, perhaps with bytes replaced, cut, extended or retyped.
    Genuine {
        which: u8,
        edits: Vec<(u16, u8)>,
        cut: Option<u16>,
        tail: Vec<u8>,
        typ: Option<u8>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    state: u8,
    tlvs: Vec<Input1>,
    /// A decrypted plaintext (message, NUL, TLVs).
    plaintext: Vec<u8>,
}

/// The MPIs of an SMP payload, without leading zeros (what the state machine uses).
fn mpis(value: &[u8]) -> Option<Vec<&[u8]>> {
    let count = u32::from_be_bytes(value.get(..4)?.try_into().ok()?);
    let mut rest = &value[4..];
    let mut out = Vec::new();
    for _ in 0..count.min(16) {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let mpi = rest.get(4..4 + len)?;
        let start = mpi.iter().position(|&b| b != 0).unwrap_or(mpi.len());
        out.push(&mpi[start..]);
        rest = &rest[4 + len..];
    }
    Some(out)
}

fn make(w: &World, i: &Input1) -> Tlv {
    match i {
        Input1::Any { typ, value } => Tlv {
            typ: *typ,
            value: value.clone(),
        },
        Input1::Smp { typ, value } => Tlv {
            typ: 2 + u16::from(typ % 6),
            value: value.clone(),
        },
        Input1::Genuine {
            which,
            edits,
            cut,
            tail,
            typ,
        } => {
            let mut t = w.genuine[usize::from(*which) % w.genuine.len()].clone();
            for &(at, b) in edits {
                if !t.value.is_empty() {
                    let n = t.value.len();
                    t.value[usize::from(at) % n] = b;
                }
            }
            if let Some(c) = cut {
                t.value.truncate(usize::from(*c));
            }
            t.value.extend_from_slice(tail);
            if let Some(typ) = typ {
                t.typ = 2 + u16::from(typ % 6);
            }
            t
        }
    }
}

fuzz_target!(|input: Input| {
    let w = world();
    let mut state = w.states[usize::from(input.state) % w.states.len()].clone();
    for i in input.tlvs.iter().take(8) {
        let t = make(w, i);
        let step = state.on_tlv(&t);
        if step.outcome().is_some() {
            assert!(!state.in_progress(), "an ended exchange leaves no state");
        }
        if matches!(step.event, Some(SmpEvent::Cheated | SmpEvent::Error)) {
            assert_eq!(step.send, vec![Tlv::abort()]);
        }
        if step.event == Some(SmpEvent::Success) {
            let genuine = w
                .genuine
                .iter()
                .any(|g| g.typ == t.typ && mpis(&g.value) == mpis(&t.value));
            assert!(
                genuine,
                "SMP verified a message that is not the genuine one"
            );
        }
        assert!(t.is_smp() || step == smp::SmpStep::default());
    }
    // The TLVs of a decrypted plaintext: split never panics, and join undoes it.
    let (text, tlvs) = tlv::split(&input.plaintext);
    assert!(!text.contains(&0));
    let joined = tlv::join(text, &tlvs);
    assert!(input.plaintext.starts_with(&joined));
    assert_eq!(tlv::split(&joined), (text, tlvs));
});
