//! Two of our own devices talking: ordering, loss, replays, limits, replaced sessions,
//! several devices, and storage round trips. (Interop with an independent implementation is
//! in the application's tests, against python-oldmemo.)

use omemo::session::state::MAX_SKIP;
use omemo::{decrypt, encrypt, Account, Encrypted, OmemoError, OsRandom, Random, Session};

/// A deterministic source for reproducible tests (SplitMix64; not for keys in use).
struct Seeded(u64);

impl Random for Seeded {
    fn fill(&mut self, buf: &mut [u8]) -> omemo::Result<()> {
        for b in buf {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *b = (z ^ (z >> 31)) as u8;
        }
        Ok(())
    }
}

struct Device {
    account: Account,
    sessions: Vec<(u32, Session)>,
}

impl Device {
    fn new(id: u32) -> Self {
        Device {
            account: Account::generate(id, 0, &mut OsRandom).unwrap(),
            sessions: Vec::new(),
        }
    }

    fn session(&self, device: u32) -> Option<&Session> {
        self.sessions
            .iter()
            .find(|(d, _)| *d == device)
            .map(|(_, s)| s)
    }

    fn store(&mut self, device: u32, session: Session) {
        self.sessions.retain(|(d, _)| *d != device);
        self.sessions.push((device, session));
    }

    /// Encrypts for each device, starting sessions from their bundles where needed.
    fn send(&mut self, to: &[&Device], text: &str) -> Encrypted {
        for d in to {
            let id = d.account.device_id();
            if self.session(id).is_none() {
                let s = self
                    .account
                    .start_session(&d.account.bundle(), &mut OsRandom)
                    .unwrap();
                self.store(id, s);
            }
        }
        let ids: Vec<u32> = to.iter().map(|d| d.account.device_id()).collect();
        let mut refs: Vec<(u32, &mut Session)> = self
            .sessions
            .iter_mut()
            .filter(|(d, _)| ids.contains(d))
            .map(|(d, s)| (*d, s))
            .collect();
        encrypt(
            &self.account,
            &mut refs,
            Some(text.as_bytes()),
            &mut OsRandom,
        )
        .unwrap()
    }

    fn receive(&mut self, m: &Encrypted) -> Result<String, OmemoError> {
        let session = self.session(m.sid).cloned();
        let got = decrypt(&mut self.account, session.as_ref(), m, &mut OsRandom)?;
        self.store(m.sid, got.session);
        Ok(String::from_utf8(got.body.unwrap()).unwrap())
    }
}

#[test]
fn a_conversation_goes_both_ways_and_prekey_messages_stop_after_the_answer() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let m1 = a.send(&[&b], "one");
    let m2 = a.send(&[&b], "two");
    assert!(
        m1.keys[0].prekey && m2.keys[0].prekey,
        "until B answers, A repeats the X3DH"
    );
    assert_eq!(b.receive(&m1).unwrap(), "one");
    assert_eq!(b.receive(&m2).unwrap(), "two");
    assert_eq!(
        b.account.pre_key_count(),
        100,
        "the used one-time prekey was replaced"
    );
    let r = b.send(&[&a], "answer");
    assert!(!r.keys[0].prekey);
    assert_eq!(a.receive(&r).unwrap(), "answer");
    let m3 = a.send(&[&b], "three");
    assert!(
        !m3.keys[0].prekey,
        "A stops sending PreKeySignalMessages once B answered"
    );
    assert_eq!(b.receive(&m3).unwrap(), "three");
    for i in 0..20 {
        let (from, to) = if i % 3 == 0 {
            (&mut a, &mut b)
        } else {
            (&mut b, &mut a)
        };
        let to_ref = Device {
            account: to.account.clone(),
            sessions: vec![],
        };
        let m = from.send(&[&to_ref], &format!("m{i}"));
        assert_eq!(to.receive(&m).unwrap(), format!("m{i}"));
    }
}

#[test]
fn out_of_order_and_lost_messages_decrypt_and_replays_do_not() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let first = a.send(&[&b], "hi");
    b.receive(&first).unwrap();
    let reply = b.send(&[&a], "hello");
    a.receive(&reply).unwrap();
    let ms: Vec<Encrypted> = (0..10).map(|i| a.send(&[&b], &format!("{i}"))).collect();
    // 9, 3, 5, then 0..: 1 and 7 never arrive.
    for i in [9, 3, 5, 0, 2, 4, 6, 8] {
        assert_eq!(b.receive(&ms[i]).unwrap(), format!("{i}"));
    }
    assert_eq!(
        b.receive(&ms[3]),
        Err(OmemoError::DuplicateMessage(3)),
        "a replay"
    );
    // A new ratchet step on B's side, then a late message of A's old chain.
    let r = b.send(&[&a], "r");
    a.receive(&r).unwrap();
    let after = a.send(&[&b], "after");
    assert_eq!(b.receive(&after).unwrap(), "after");
    assert_eq!(
        b.receive(&ms[7]).unwrap(),
        "7",
        "a skipped key of an older chain"
    );
}

#[test]
fn a_message_too_far_ahead_is_refused_without_changing_the_session() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let first = a.send(&[&b], "hi");
    b.receive(&first).unwrap();
    let mut last = None;
    for i in 0..=MAX_SKIP + 1 {
        last = Some(a.send(&[&b], &format!("{i}")));
    }
    let before =
        bincode::serde::encode_to_vec(b.session(1).unwrap(), bincode::config::standard()).unwrap();
    assert!(matches!(
        b.receive(last.as_ref().unwrap()),
        Err(OmemoError::TooFarAhead { .. })
    ));
    let after =
        bincode::serde::encode_to_vec(b.session(1).unwrap(), bincode::config::standard()).unwrap();
    assert_eq!(before, after);
}

#[test]
fn a_tampered_message_fails_and_changes_nothing() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let first = a.send(&[&b], "hi");
    b.receive(&first).unwrap();
    let reply = b.send(&[&a], "hello");
    a.receive(&reply).unwrap();
    let mut m = a.send(&[&b], "secret");
    assert!(
        !m.keys[0].prekey,
        "the MAC is the last 8 bytes of a SignalMessage"
    );
    let n = m.keys[0].data.len();
    m.keys[0].data[n - 1] ^= 1;
    assert_eq!(b.receive(&m), Err(OmemoError::BadMac));
    m.keys[0].data[n - 1] ^= 1;
    m.payload.as_mut().unwrap()[0] ^= 1;
    assert_eq!(b.receive(&m), Err(OmemoError::Decrypt));
    // The key element was not consumed by the failures: a second copy of the untouched
    // message is the first the session accepted.
    m.payload.as_mut().unwrap()[0] ^= 1;
    assert_eq!(b.receive(&m).unwrap(), "secret");
}

#[test]
fn a_one_time_prekey_is_used_once() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let first = a.send(&[&b], "hi");
    b.receive(&first).unwrap();
    // B loses the session but not its account: the same first message again names a
    // one-time prekey B already removed.
    b.sessions.clear();
    assert!(matches!(
        b.receive(&first),
        Err(OmemoError::UnknownPreKey(_))
    ));
}

#[test]
fn a_side_that_lost_its_session_starts_again_and_the_other_follows() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let m = a.send(&[&b], "hi");
    b.receive(&m).unwrap();
    let r = b.send(&[&a], "hello");
    a.receive(&r).unwrap();
    let in_flight = b.send(&[&a], "sent before A lost its state");
    a.sessions.clear();
    assert_eq!(a.receive(&in_flight), Err(OmemoError::NoSession));
    let again = a.send(&[&b], "new session");
    assert!(again.keys[0].prekey);
    assert_eq!(b.receive(&again).unwrap(), "new session");
    let r = b.send(&[&a], "welcome back");
    assert!(!r.keys[0].prekey);
    assert_eq!(a.receive(&r).unwrap(), "welcome back");
}

#[test]
fn the_archived_state_still_decrypts_messages_sent_before_a_new_session() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let m = a.send(&[&b], "hi");
    b.receive(&m).unwrap();
    let r = b.send(&[&a], "r");
    a.receive(&r).unwrap();
    let late = a.send(&[&b], "late, old session");
    a.sessions.clear();
    let fresh = a.send(&[&b], "fresh");
    assert_eq!(b.receive(&fresh).unwrap(), "fresh");
    assert_eq!(b.receive(&late).unwrap(), "late, old session");
}

#[test]
fn one_message_reaches_several_devices_and_says_which() {
    let (mut a, mut b1, mut b2) = (Device::new(1), Device::new(2), Device::new(3));
    let m = a.send(&[&b1, &b2], "to both");
    assert_eq!(m.recipients().collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(b1.receive(&m).unwrap(), "to both");
    assert_eq!(b2.receive(&m).unwrap(), "to both");
    let mut c = Device::new(4);
    assert_eq!(c.receive(&m), Err(OmemoError::NotForThisDevice(4)));
}

#[test]
fn accounts_and_sessions_survive_storage_and_carry_on() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let m = a.send(&[&b], "hi");
    b.receive(&m).unwrap();
    let cfg = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&b.account, cfg).unwrap();
    b.account = bincode::serde::decode_from_slice(&bytes, cfg).unwrap().0;
    let s = bincode::serde::encode_to_vec(b.session(1).unwrap(), cfg).unwrap();
    let s: Session = bincode::serde::decode_from_slice(&s, cfg).unwrap().0;
    b.store(1, s);
    let m = a.send(&[&b], "after restart");
    assert_eq!(b.receive(&m).unwrap(), "after restart");
}

#[test]
fn bundles_with_a_bad_signature_are_refused_and_rotation_keeps_late_messages() {
    let a = Account::generate(1, 0, &mut Seeded(1)).unwrap();
    let mut b = Account::generate(2, 0, &mut Seeded(2)).unwrap();
    let mut bundle = b.bundle();
    bundle.signed_pre_key_signature[0] ^= 1;
    assert_eq!(
        a.start_session(&bundle, &mut OsRandom).err(),
        Some(OmemoError::BadSignature)
    );
    let mut session = a.start_session(&b.bundle(), &mut OsRandom).unwrap();
    assert!(!b.signed_pre_key_due(86_400, 7 * 86_400));
    assert!(b.signed_pre_key_due(7 * 86_400, 7 * 86_400));
    b.rotate_signed_pre_key(7 * 86_400, &mut OsRandom).unwrap();
    assert_eq!(b.signed_pre_key().id, 2);
    let m = encrypt(
        &a,
        &mut [(2, &mut session)],
        Some(b"made with the old signed prekey".as_slice()),
        &mut OsRandom,
    )
    .unwrap();
    assert!(decrypt(&mut b, None, &m, &mut OsRandom).is_ok());
}

#[test]
fn key_transport_messages_have_no_body_and_still_move_the_ratchet() {
    let (mut a, mut b) = (Device::new(1), Device::new(2));
    let m = a.send(&[&b], "hi");
    b.receive(&m).unwrap();
    let mut s = b.session(1).unwrap().clone();
    let empty = encrypt(&b.account, &mut [(1, &mut s)], None, &mut OsRandom).unwrap();
    assert!(empty.payload.is_none());
    let session = a.session(2).cloned();
    let got = decrypt(&mut a.account, session.as_ref(), &empty, &mut OsRandom).unwrap();
    assert_eq!(got.body, None);
    a.store(2, got.session);
    let m = a.send(&[&b], "after the heartbeat");
    assert!(
        !m.keys[0].prekey,
        "the empty message acknowledged the session"
    );
}
