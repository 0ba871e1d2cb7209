//! Self-test of the libotr test peer: two real libotr processes talking through the
//! test, proving the harness (tests/peer/otrpeer.c + tests/support/libotr.rs) works.

mod support;

use support::keys;
use support::libotr::{converse, policy, relay, Event, MsgState, Outcome, Peer};

const ALICE: &str = "alice@test";
const BOB: &str = "bob@test";

fn pair(pol: u32) -> (Peer, Peer) {
    let mut a = Peer::with_key("alice");
    let mut b = Peer::with_key("bob");
    a.policy(pol);
    b.policy(pol);
    (a, b)
}

/// Query from alice, AKE to the end; checks both sides went secure.
fn establish(a: &mut Peer, b: &mut Peer) -> (Outcome, Outcome) {
    let q = a.query(BOB);
    assert_eq!(q.inject.len(), 1, "one query message: {q:?}");
    assert!(q.inject[0].starts_with(b"?OTRv"), "query message: {q:?}");
    let (oa, ob) = converse(a, b, q);
    assert!(oa.gone_secure(), "alice gone secure: {oa:?}");
    assert!(ob.gone_secure(), "bob gone secure: {ob:?}");
    let fa = a.fingerprint();
    let fb = b.fingerprint();
    assert!(ob.has(
        |e| matches!(e, Event::NewFingerprint { contact, fingerprint }
        if contact == ALICE && fingerprint[..] == fa[..])
    ));
    assert!(oa.has(
        |e| matches!(e, Event::NewFingerprint { contact, fingerprint }
        if contact == BOB && fingerprint[..] == fb[..])
    ));
    (oa, ob)
}

/// Sends `text` from `from` (to contact `to_name`) and checks `to` gets exactly it.
fn message(from: &mut Peer, to: &mut Peer, to_name: &str, text: &[u8], header: &[u8]) {
    let out = from.send(to_name, text);
    assert!(!out.inject.is_empty(), "something to send: {out:?}");
    for w in &out.inject {
        assert!(
            w.starts_with(header),
            "wire {:?}",
            String::from_utf8_lossy(w)
        );
        assert!(!w
            .windows(text.len().min(8))
            .any(|x| x == &text[..text.len().min(8)]));
    }
    let got = relay(from, to, &out.inject);
    assert_eq!(got.deliver, vec![text.to_vec()], "delivered: {got:?}");
}

#[test]
fn v3_session_messages_fragments_smp_symkey_finish() {
    let (mut a, mut b) = pair(policy::MANUAL);
    establish(&mut a, &mut b);

    let sa = a.status(BOB);
    let sb = b.status(ALICE);
    assert_eq!((sa.msgstate, sa.version), (MsgState::Encrypted, 3));
    assert_eq!((sb.msgstate, sb.version), (MsgState::Encrypted, 3));
    assert_eq!(sa.their_instag, sb.our_instag);
    assert_eq!(sb.their_instag, sa.our_instag);
    assert_eq!(sa.our_instag, a.instag());
    assert!(sa.our_instag >= 0x100 && sa.their_instag >= 0x100);
    assert!(!sa.trusted && !sb.trusted);

    // Data messages both ways ("?OTR:AAMD" = v3 data message).
    message(&mut a, &mut b, BOB, b"hello bob", b"?OTR:AAMD");
    message(
        &mut b,
        &mut a,
        ALICE,
        b"hello alice, \xc3\xa9t\xc3\xa9",
        b"?OTR:AAMD",
    );
    message(&mut a, &mut b, BOB, b"again", b"?OTR:AAMD");

    // Fragmented long message.
    a.max_size(200);
    let long: Vec<u8> = (0..3000).map(|i| b'a' + (i % 26) as u8).collect();
    let out = a.send(BOB, &long);
    assert!(out.inject.len() > 10, "fragments: {}", out.inject.len());
    for f in &out.inject {
        assert!(f.len() <= 200, "fragment of {} bytes", f.len());
        assert!(f.starts_with(b"?OTR|"), "v3 fragment header");
    }
    let got = relay(&a, &mut b, &out.inject);
    assert_eq!(got.deliver, vec![long.clone()]);
    a.max_size(0);

    // SMP with the right secret: both succeed, both trust.
    let start = a.smp_start(BOB, b"the secret", None);
    assert_eq!(start.inject.len(), 1);
    let ob = relay(&a, &mut b, &start.inject);
    assert!(
        ob.has(|e| matches!(e, Event::Smp { kind, progress: 25, .. }
        if kind == "OTRL_SMPEVENT_ASK_FOR_SECRET")),
        "{ob:?}"
    );
    assert_eq!(b.status(ALICE).smp, "expect1");
    let resp = b.smp_respond(ALICE, b"the secret");
    let (ob, oa) = converse(&mut b, &mut a, resp);
    assert!(
        oa.has(|e| matches!(e, Event::Smp { kind, progress: 100, .. }
        if kind == "OTRL_SMPEVENT_SUCCESS")),
        "alice: {oa:?}"
    );
    assert!(
        ob.has(|e| matches!(e, Event::Smp { kind, progress: 100, .. }
        if kind == "OTRL_SMPEVENT_SUCCESS")),
        "bob: {ob:?}"
    );
    assert!(a.status(BOB).trusted);
    assert!(b.status(ALICE).trusted);

    // SMP with a question and a wrong answer: both fail.
    let start = a.smp_start(BOB, b"right", Some(b"What is it?"));
    let ob = relay(&a, &mut b, &start.inject);
    assert!(
        ob.has(|e| matches!(e, Event::Smp { kind, question: Some(q), .. }
        if kind == "OTRL_SMPEVENT_ASK_FOR_ANSWER" && q == b"What is it?")),
        "{ob:?}"
    );
    let resp = b.smp_respond(ALICE, b"wrong");
    let (ob, oa) = converse(&mut b, &mut a, resp);
    assert!(oa.has_smp("OTRL_SMPEVENT_FAILURE"), "alice: {oa:?}");
    assert!(ob.has_smp("OTRL_SMPEVENT_FAILURE"), "bob: {ob:?}");
    assert!(!a.status(BOB).trusted);

    // SMP abort reaches the other side.
    let start = a.smp_start(BOB, b"x", None);
    relay(&a, &mut b, &start.inject);
    let abort = b.smp_abort(ALICE);
    let oa = relay(&b, &mut a, &abort.inject);
    assert!(oa.has_smp("OTRL_SMPEVENT_ABORT"), "{oa:?}");

    // Extra symmetric key: the same key on both sides.
    let (key, out) = a.symkey(BOB, 7, b"file-1");
    assert_eq!(out.inject.len(), 1);
    let ob = relay(&a, &mut b, &out.inject);
    assert!(ob.deliver.is_empty());
    assert!(
        ob.has(
            |e| matches!(e, Event::Symkey { contact, usage: 7, usedata, key: k }
        if contact == ALICE && usedata == b"file-1" && k[..] == key[..])
        ),
        "{ob:?}"
    );

    // Finish: alice back to plaintext, bob finished and refusing to send.
    let fin = a.finish(BOB);
    assert_eq!(fin.inject.len(), 1, "disconnect TLV message");
    let ob = relay(&a, &mut b, &fin.inject);
    assert!(ob.deliver.is_empty());
    assert_eq!(a.status(BOB).msgstate, MsgState::Plaintext);
    assert_eq!(b.status(ALICE).msgstate, MsgState::Finished);
    let refused = b.send(ALICE, b"anyone there?");
    assert!(refused.inject.is_empty(), "{refused:?}");
    assert!(refused
        .msg_events()
        .contains(&"OTRL_MSGEVENT_CONNECTION_ENDED".to_string()));
    b.finish(ALICE);
    assert_eq!(b.status(ALICE).msgstate, MsgState::Plaintext);
}

#[test]
fn v2_only_session() {
    let (mut a, mut b) = pair(policy::ALLOW_V2);
    let (_, _) = establish(&mut a, &mut b);
    let sa = a.status(BOB);
    assert_eq!(
        (sa.msgstate, sa.version, sa.their_instag),
        (MsgState::Encrypted, 2, 0)
    );
    assert_eq!(b.status(ALICE).version, 2);
    // "?OTR:AAID" = v2 data message.
    message(&mut a, &mut b, BOB, b"v2 hello", b"?OTR:AAID");
    message(&mut b, &mut a, ALICE, b"v2 reply", b"?OTR:AAID");
    a.max_size(100);
    let long = vec![b'z'; 700];
    let out = a.send(BOB, &long);
    assert!(out.inject.len() > 5 && out.inject.iter().all(|f| f.starts_with(b"?OTR,")));
    assert_eq!(relay(&a, &mut b, &out.inject).deliver, vec![long]);
}

#[test]
fn whitespace_tag_starts_ake_with_default_policy() {
    let (mut a, mut b) = pair(policy::DEFAULT);
    let out = a.send(BOB, b"hi there");
    assert_eq!(out.inject.len(), 1);
    assert!(
        out.inject[0].starts_with(b"hi there \t  \t\t\t\t \t \t \t  "),
        "tagged"
    );
    let (oa, ob) = converse(&mut a, &mut b, out);
    assert_eq!(ob.deliver, vec![b"hi there".to_vec()], "tag stripped");
    assert!(oa.gone_secure() && ob.gone_secure());
    assert_eq!(a.status(BOB).msgstate, MsgState::Encrypted);
    // A plaintext message while encrypted is flagged, not silently accepted.
    let ob = b.recv(ALICE, b"sneaky plaintext");
    assert!(ob.deliver.is_empty());
    assert!(ob.has(
        |e| matches!(e, Event::Message { kind, message: Some(m), .. }
        if kind == "OTRL_MSGEVENT_RCVDMSG_UNENCRYPTED" && m == b"sneaky plaintext")
    ));
}

#[test]
fn plain_messages_pass_through_and_restart_forgets() {
    let (mut a, mut b) = pair(policy::MANUAL);
    let out = a.send(BOB, b"plain");
    assert_eq!(out.inject, vec![b"plain".to_vec()]);
    assert_eq!(
        relay(&a, &mut b, &out.inject).deliver,
        vec![b"plain".to_vec()]
    );
    establish(&mut a, &mut b);
    let old = a.instag();
    a.forget();
    assert_ne!(a.instag(), old);
    assert_eq!(a.status(BOB).msgstate, MsgState::Plaintext);
    // bob still thinks it is encrypted; alice cannot read bob's message and says so.
    let out = b.send(ALICE, b"still there?");
    let oa = relay(&b, &mut a, &out.inject);
    assert!(oa.deliver.is_empty(), "{oa:?}");
    assert!(!oa.events.is_empty(), "alice reports something: {oa:?}");
}

#[test]
fn bad_commands_give_err_and_peer_survives() {
    let mut p = Peer::with_key("peer");
    for bad in [
        "",
        "bogus",
        "send",
        "send bob@test zz",
        "send bob@test 616",
        "recv bob@test 6100",
        "maxsize 5",
        "maxsize -1",
        "policy xyz",
        "smp_start bob@test 00",
        "symkey bob@test 1 -",
        "trust bob@test",
        "loadkey /nonexistent/key",
        "bench ake 0",
        "bench nothing 3",
        "instag old",
        "a b c d e f g h i j",
    ] {
        let r = p.command(bad);
        assert!(r.err.is_some(), "`{bad}` should fail: {r:?}");
    }
    // Garbage OTR data must not crash libotr or the peer.
    let out = p.recv("bob@test", b"?OTR:AAMDgarbage.");
    assert!(out.deliver.is_empty());
    let out = p.recv("bob@test", b"?OTR|00000100|00000000,00001,00002,?OTR:AAMD,");
    assert!(out.deliver.is_empty());
    assert_eq!(p.version(), "4.1.1");
    assert_eq!(p.fingerprint().len(), 20);
}

#[test]
fn fixture_keys_load_with_distinct_fingerprints() {
    let mut seen = Vec::new();
    for name in keys::FIXTURE_NAMES {
        let text = keys::fixture_key_sexp(name);
        assert_eq!(text.matches("(account").count(), 1, "one key in {name}.key");
        assert!(text.contains(&format!("(name \"{}\")", keys::fixture_account(name))));
        let mut p = Peer::with_key(name);
        let fp = p.fingerprint();
        assert!(!seen.contains(&fp));
        seen.push(fp);
    }
}

#[test]
fn bench_figures_are_sane() {
    let mut p = Peer::with_key("alice");
    p.bench_key(keys::fixture_key_path("bob"));
    let ake = p.bench_ake(20);
    let per_ake = ake / 20;
    println!(
        "libotr: 20 AKEs in {ake:?} ({per_ake:?} each, {:.0}/s)",
        20.0 / ake.as_secs_f64()
    );
    assert!(
        per_ake > std::time::Duration::from_micros(100),
        "{per_ake:?}"
    );
    assert!(per_ake < std::time::Duration::from_secs(2), "{per_ake:?}");
    let data = p.bench_data(200, 1000);
    println!("libotr: 200 data messages of 1000 bytes in {data:?}");
    assert!(data > std::time::Duration::ZERO);
    let smp = p.bench_smp(2);
    println!("libotr: 2 SMP runs in {smp:?}");
    assert!(smp / 2 > std::time::Duration::from_micros(500), "{smp:?}");
}
