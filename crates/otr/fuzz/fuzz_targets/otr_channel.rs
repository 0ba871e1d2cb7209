//! `Channel::read` of arbitrary messages in every protocol state.
//!
//! Every state is built once per process, with the engine talking to itself (fixture DSA
//! keys, fixed instance tags and times), and cloned for each input, so that no DH or DSA
//! work is repeated per input except where the input itself asks for it. The input picks the
//! state and a short sequence of messages (see [`Msg`]): raw chat text, a Data message sealed
//! by the real peer (arbitrary plaintext and TLVs, so the decrypted path is reached), a message
//! of the recorded conversation with bytes replaced, time passing, or alice's own calls.
//!
//! Alice is the side under test; the peer (with Bob's key) talks to her.
//!
//! Checked: nothing panics; the peer's fingerprint never becomes trusted and SMP never
//! succeeds (the input cannot know the secret); held fragments stay bounded.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use otr::channel::{Event, Output};
use otr::fragment::MAX_REASSEMBLED;
use otr::smp::SmpEvent;
use otr::{import_libotr, tlv, Account, Channel, Policy};

const ALICE_TAG: u32 = 0x1000_0001;
const PEER_TAG: u32 = 0x2000_0002;
const T0: u64 = 1_000;

/// One prepared state: both channels, and which peer account talks.
#[derive(Clone)]
struct State {
    name: &'static str,
    alice: Channel,
    peer: Channel,
    peer_v2: bool,
}

struct World {
    alice: Account,
    peer: Account,
    peer_v2: Account,
    states: Vec<State>,
    /// Every message exchanged while building the states (both directions).
    transcript: Vec<String>,
}

fn account(file: &[u8], name: &str, tag: u32, policy: Policy) -> Account {
    let key = import_libotr(file).expect("fixture key").remove(0).key;
    let mut a = Account::new(name, key).expect("account");
    a.instance_tag = tag;
    a.policy = policy;
    a
}

fn injects(out: &Output) -> Vec<String> {
    out.wire.clone()
}

struct Builder<'a> {
    w: &'a World,
    transcript: Vec<String>,
}

impl Builder<'_> {
    fn peer_account(&self, s: &State) -> &Account {
        if s.peer_v2 {
            &self.w.peer_v2
        } else {
            &self.w.peer
        }
    }

    /// Delivers messages to alice; returns what it sent back.
    fn deliver_to_alice(&mut self, s: &mut State, msgs: Vec<String>) -> Vec<String> {
        let mut back = Vec::new();
        for m in msgs {
            let ev = s.alice.read(&self.w.alice, &m, T0);
            self.transcript.push(m);
            back.extend(injects(&ev));
        }
        back
    }

    /// Delivers messages to the peer; returns what it sent back.
    fn deliver_to_peer(&mut self, s: &mut State, msgs: Vec<String>) -> Vec<String> {
        let mut back = Vec::new();
        let acct = self.peer_account(s).clone();
        for m in msgs {
            let ev = s.peer.read(&acct, &m, T0);
            self.transcript.push(m);
            back.extend(injects(&ev));
        }
        back
    }
}

fn build() -> World {
    let alice = account(
        include_bytes!("../fixtures/alice.key"),
        "alice@test",
        ALICE_TAG,
        Policy::DEFAULT,
    );
    let peer_key = include_bytes!("../fixtures/bob.key");
    let peer = account(peer_key, "bob@test", PEER_TAG, Policy::DEFAULT);
    let peer_v2 = account(peer_key, "bob@test", PEER_TAG, Policy::ALLOW_V2);
    let mut w = World {
        alice,
        peer,
        peer_v2,
        states: Vec::new(),
        transcript: Vec::new(),
    };
    let fresh = |name, peer_v2| State {
        name,
        alice: Channel::new(),
        peer: Channel::new(),
        peer_v2,
    };
    let mut states = Vec::new();
    let mut b = Builder {
        w: &w,
        transcript: Vec::new(),
    };

    // PLAINTEXT, and PLAINTEXT after offering OTR with a whitespace tag.
    states.push(fresh("plaintext", false));
    let mut s = fresh("plaintext, tag offered", false);
    let hello = s.alice.write(&w.alice, "hello", T0);
    b.transcript.extend(injects(&hello));
    states.push(s);

    // The peer queries: alice commits (AWAITING_DHKEY), then reveals (AWAITING_SIG).
    let mut s = fresh("awaiting DH-Key", false);
    let query = injects(&s.peer.init(&w.peer));
    let commit = b.deliver_to_alice(&mut s, query);
    states.push(s.clone());
    let dh_key = b.deliver_to_peer(&mut s, commit);
    let reveal = b.deliver_to_alice(&mut s, dh_key);
    s.name = "awaiting signature";
    states.push(s.clone());
    let sig = b.deliver_to_peer(&mut s, reveal);
    b.deliver_to_alice(&mut s, sig);

    // Alice queries: the peer commits, alice answers (AWAITING_REVEALSIG), then ENCRYPTED.
    let mut s = fresh("awaiting reveal signature", false);
    let query = injects(&s.alice.init(&w.alice));
    let commit = b.deliver_to_peer(&mut s, query);
    let dh_key = b.deliver_to_alice(&mut s, commit);
    states.push(s.clone());
    let reveal = b.deliver_to_peer(&mut s, dh_key);
    let sig = b.deliver_to_alice(&mut s, reveal);
    b.deliver_to_peer(&mut s, sig);
    assert!(s.alice.is_encrypted() && s.peer.is_encrypted(), "v3 AKE");
    s.name = "encrypted v3";
    let hi = injects(&s.peer.write(&w.peer, "hi alice", T0));
    b.deliver_to_alice(&mut s, hi);
    let encrypted = s.clone();
    states.push(s.clone());

    // ENCRYPTED with protocol version 2.
    let mut s2 = fresh("encrypted v2", true);
    let query = injects(&s2.peer.init(&w.peer_v2));
    let mut to_alice = query;
    for _ in 0..4 {
        let to_peer = b.deliver_to_alice(&mut s2, to_alice);
        to_alice = b.deliver_to_peer(&mut s2, to_peer);
    }
    assert!(s2.alice.is_encrypted() && s2.peer.is_encrypted(), "v2 AKE");
    states.push(s2);

    // FINISHED: the peer ended the conversation.
    let mut f = encrypted.clone();
    f.name = "finished";
    let bye = injects(&f.peer.finish(&w.peer, T0));
    b.deliver_to_alice(&mut f, bye);
    assert!(!f.alice.is_encrypted());
    states.push(f);

    // SMP started by the peer (with a question): alice waits for its secret ...
    let mut s = encrypted.clone();
    s.name = "SMP: asked for the secret";
    let smp1 = injects(&s.peer.smp_verify(&w.peer, b"the secret", Some("who?"), T0));
    b.deliver_to_alice(&mut s, smp1);
    states.push(s.clone());
    // ... then answers (EXPECT3).
    s.name = "SMP: expect 3";
    let smp2 = injects(&s.alice.smp_verify(&w.alice, b"the secret", None, T0));
    b.transcript.extend(smp2);
    states.push(s);

    // SMP started by alice (EXPECT2), and after the peer's answer (EXPECT4).
    let mut s = encrypted;
    s.name = "SMP: expect 2";
    let smp1 = injects(&s.alice.smp_verify(&w.alice, b"the secret", None, T0));
    states.push(s.clone());
    s.name = "SMP: expect 4";
    b.deliver_to_peer(&mut s, smp1);
    let smp2 = injects(&s.peer.smp_verify(&w.peer, b"the secret", None, T0));
    let smp3 = b.deliver_to_alice(&mut s, smp2);
    b.transcript.extend(smp3);
    states.push(s);

    let names: Vec<_> = states.iter().map(|s| s.name).collect();
    eprintln!(
        "otr_channel: states by first byte (mod {}): {names:?}",
        names.len()
    );
    let transcript = b.transcript;
    // How the seeds of fuzz/corpus/otr_message and otr_channel were made.
    if let Some(dir) = std::env::var_os("OTR_FUZZ_DUMP_TRANSCRIPT") {
        for (i, m) in transcript.iter().enumerate() {
            std::fs::write(std::path::Path::new(&dir).join(format!("{i:02}")), m)
                .expect("write the transcript");
        }
    }
    w.transcript = transcript;
    w.states = states;
    w
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(build)
}

/// One step of an input. The input is a state byte, then steps separated by 0xFF bytes
/// (which never occur in UTF-8 text), each a kind byte and its argument:
/// `r` raw chat text; `s` plaintext (message, NUL, TLVs) sealed by the peer with flags 0;
/// `S` the same with the IGNORE_UNREADABLE flag; `c` a recorded message (index byte, then
/// (position high, position low, byte) edits); `w` wait (seconds, two bytes) and run the
/// timer; `W` alice writes the text; `f` alice finishes; `a` alice aborts SMP.
/// Any other kind byte makes the whole step raw text.
enum Msg<'a> {
    Raw(&'a [u8]),
    Sealed(&'a [u8], u8),
    Recorded(u8, &'a [u8]),
    Wait(u64),
    Write(&'a [u8]),
    Finish,
    SmpAbort,
}

fn parse_step(step: &[u8]) -> Msg<'_> {
    let Some((&kind, arg)) = step.split_first() else {
        return Msg::Raw(step);
    };
    match kind {
        b'r' => Msg::Raw(arg),
        b's' => Msg::Sealed(arg, 0),
        b'S' => Msg::Sealed(arg, 1),
        b'c' => Msg::Recorded(
            arg.first().copied().unwrap_or(0),
            arg.get(1..).unwrap_or(&[]),
        ),
        b'w' => Msg::Wait(arg.iter().take(2).fold(0, |n, &b| n * 256 + u64::from(b))),
        b'W' => Msg::Write(arg),
        b'f' => Msg::Finish,
        b'a' => Msg::SmpAbort,
        _ => Msg::Raw(step),
    }
}

fn sealed(w: &World, s: &mut State, plain: &[u8], flags: u8) -> String {
    let (text, tlvs) = tlv::split(plain);
    let theirs = if s.peer_v2 { 0 } else { ALICE_TAG };
    let tag = if s.peer_v2 { &w.peer_v2 } else { &w.peer }.instance_tag;
    let session = s.peer.session_mut(theirs);
    match session.map(|x| x.seal((tag, theirs), flags, text, &tlvs, T0)) {
        Some(Ok((_, msg))) => msg,
        // Not encrypted in this state: send the text as it is.
        _ => String::from_utf8_lossy(plain).into_owned(),
    }
}

fn recorded(w: &World, index: u8, edits: &[u8]) -> String {
    if w.transcript.is_empty() {
        return String::new();
    }
    let mut bytes = w.transcript[usize::from(index) % w.transcript.len()]
        .clone()
        .into_bytes();
    for e in edits.chunks_exact(3) {
        let at = usize::from(e[0]) * 256 + usize::from(e[1]);
        if at >= bytes.len() {
            bytes.truncate(at % (bytes.len() + 1));
        } else {
            bytes[at] = e[2];
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn check(w: &World, s: &State, events: &[Event]) {
    for e in events {
        if let Event::Smp { event, .. } = e {
            assert_ne!(
                *event,
                SmpEvent::Success,
                "SMP succeeded without the secret"
            );
        }
    }
    let peer_fp = w.peer.key.fingerprint();
    assert!(!s.alice.is_trusted(&peer_fp), "peer trusted without SMP");
    for info in s.alice.sessions() {
        let session = s.alice.session(info.instance).expect("a listed session");
        assert!(session.buffered_fragments() <= MAX_REASSEMBLED);
    }
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let Some((&state, rest)) = data.split_first() else {
        return;
    };
    let mut s = w.states[usize::from(state) % w.states.len()].clone();
    let mut now = T0;
    for step in rest.split(|&b| b == 0xff).take(16) {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let events = match parse_step(step) {
            Msg::Raw(bytes) => s.alice.read(&w.alice, &text(bytes), now),
            Msg::Sealed(plain, flags) => {
                let msg = sealed(w, &mut s, plain, flags);
                s.alice.read(&w.alice, &msg, now)
            }
            Msg::Recorded(index, edits) => s.alice.read(&w.alice, &recorded(w, index, edits), now),
            Msg::Wait(secs) => {
                now += secs;
                s.alice.handle_timeout(now);
                Output::default()
            }
            Msg::Write(t) => s.alice.write(&w.alice, &text(t), now),
            Msg::Finish => s.alice.finish(&w.alice, now),
            Msg::SmpAbort => s.alice.smp_abort(&w.alice, now),
        };
        check(w, &s, &events.events);
    }
});
