//! OMEMO 0.3 session setups and messages, the omemo crate (through the application's element
//! glue, as the bot will use it) against python-omemo 2.1.0 + oldmemo 2.1.0
//! (`tests/omemo/bench.py`) in the same run, one core each, counting the same work:
//!
//! - session setup: a fresh device parses the peer's bundle XML, starts a session and encrypts
//!   one 100-byte message to XML; the peer parses it, decrypts (X3DH, the one-time prekey used
//!   and replaced), republishes its bundle as XML, encrypts the empty message that completes
//!   the session, and stores the session. Making the fresh device is not counted.
//! - messages: one-way 100-byte messages on a confirmed session, encrypt to XML and parse and
//!   decrypt, each side storing its session (bincode) after every message; every 53 messages
//!   the receiver sends an empty message back (as python-omemo does; its delivery not counted).
//!
//! `OTRBOT_OMEMO_SECONDS` counted seconds per measurement and side (default 2).

use std::process::Command;
use std::time::{Duration, Instant};

use omemo::{Account, Encrypted, OsRandom, Session};
use otrbot::xmpp::omemo as glue;
use xmpp_parsers::legacy_omemo as xml;
use xmpp_parsers::minidom::Element;

const MESSAGE: &[u8] = b"0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789";
const HEARTBEAT_AFTER: usize = 53;

fn to_xml(m: &Encrypted) -> String {
    String::from(&Element::from(glue::encrypted_element(m)))
}

fn from_xml(s: &str) -> Encrypted {
    let e: Element = s.parse().unwrap();
    glue::encrypted(&xml::Encrypted::try_from(e).unwrap()).unwrap()
}

fn bundle_xml(a: &Account) -> String {
    String::from(&Element::from(glue::bundle_element(&a.bundle())))
}

fn store(session: &Session) -> usize {
    bincode::serde::encode_to_vec(session, bincode::config::standard())
        .unwrap()
        .len()
}

/// Session setups per second.
fn setups(seconds: f64) -> f64 {
    let rng = &mut OsRandom;
    let mut bob = Account::generate(2, 0, rng).unwrap();
    let mut published = bundle_xml(&bob);
    let (mut n, mut counted) = (0u32, Duration::ZERO);
    while counted.as_secs_f64() < seconds {
        let alice = Account::generate(1, 0, rng).unwrap();
        let t = Instant::now();
        let element: Element = published.parse().unwrap();
        let bundle = glue::bundle(&xml::Bundle::try_from(element).unwrap()).unwrap();
        let mut session = alice.start_session(&bundle, rng).unwrap();
        let sent =
            to_xml(&omemo::encrypt(&alice, &mut [(2, &mut session)], Some(MESSAGE), rng).unwrap());
        store(&session);
        let got = omemo::decrypt(&mut bob, None, &from_xml(&sent), rng).unwrap();
        assert_eq!(got.body.as_deref(), Some(MESSAGE));
        published = bundle_xml(&bob);
        let mut bob_session = got.session;
        let completion = omemo::encrypt(&bob, &mut [(1, &mut bob_session)], None, rng).unwrap();
        std::hint::black_box(to_xml(&completion));
        store(&bob_session);
        counted += t.elapsed();
        n += 1;
    }
    f64::from(n) / counted.as_secs_f64()
}

/// An empty message from `from` on session `theirs`, decrypted by `to` (not counted).
fn answer(from: &Account, theirs: &mut Session, to: &mut Account, ours: &mut Session) {
    let rng = &mut OsRandom;
    let empty = omemo::encrypt(from, &mut [(to.device_id(), theirs)], None, rng).unwrap();
    *ours = omemo::decrypt(to, Some(ours), &empty, rng).unwrap().session;
}

/// One-way messages per second on a confirmed session.
fn messages(seconds: f64) -> f64 {
    let rng = &mut OsRandom;
    let mut alice = Account::generate(1, 0, rng).unwrap();
    let mut bob = Account::generate(2, 0, rng).unwrap();
    let mut a = alice.start_session(&bob.bundle(), rng).unwrap();
    let first = omemo::encrypt(&alice, &mut [(2, &mut a)], Some(MESSAGE), rng).unwrap();
    let mut b = omemo::decrypt(&mut bob, None, &first, rng).unwrap().session;
    answer(&bob, &mut b, &mut alice, &mut a);
    let (mut n, mut counted, mut unanswered) = (0u32, Duration::ZERO, 0usize);
    while counted.as_secs_f64() < seconds {
        let t = Instant::now();
        let sent = to_xml(&omemo::encrypt(&alice, &mut [(2, &mut a)], Some(MESSAGE), rng).unwrap());
        store(&a);
        let got = omemo::decrypt(&mut bob, Some(&b), &from_xml(&sent), rng).unwrap();
        assert_eq!(got.body.as_deref(), Some(MESSAGE));
        b = got.session;
        store(&b);
        counted += t.elapsed();
        n += 1;
        unanswered += 1;
        if unanswered == HEARTBEAT_AFTER {
            answer(&bob, &mut b, &mut alice, &mut a);
            unanswered = 0;
        }
    }
    f64::from(n) / counted.as_secs_f64()
}

/// python-omemo's figures from tests/omemo/bench.py, run now.
fn python(seconds: f64) -> serde_json::Value {
    let python = std::env::var("OTRBOT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/omemo/bench.py");
    let out = Command::new(&python)
        .args([
            script,
            "--reply-heartbeats",
            "--seconds",
            &seconds.to_string(),
        ])
        .output()
        .unwrap_or_else(|e| panic!("{python} {script}: {e} (scripts/test makes .run/python)"));
    assert!(
        out.status.success(),
        "bench.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(line.lines().last().unwrap_or("")).expect("bench.py prints one JSON line")
}

fn main() {
    let seconds: f64 = std::env::var("OTRBOT_OMEMO_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    println!("omemo bench: 100-byte messages, {seconds} counted s per measurement and side, one core each");
    let py = python(seconds);
    let (py_setups, py_messages) = (
        py["session_setups_per_s"].as_f64().unwrap(),
        py["messages_per_s"].as_f64().unwrap(),
    );
    let (setups, messages) = (setups(seconds), messages(seconds));
    println!(
        "  session setups/s: otrbot {setups:.0}, python-oldmemo {py_setups:.1}, otrbot/python = {:.1} \
         (goal ≥ 100/s on one core: 10 new learners/s with 10x headroom; and ≥ 1.0x python-oldmemo)",
        setups / py_setups
    );
    println!(
        "  messages/s: otrbot {messages:.0}, python-oldmemo {py_messages:.0}, otrbot/python = {:.1} \
         (goal ≥ 2000/s on one core; and ≥ 1.0x python-oldmemo)",
        messages / py_messages
    );
}
