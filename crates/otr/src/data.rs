//! Data messages: session keys, key rotation, counters, encryption and MACs.

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::ake::{DhKeyPair, Established, AKE_KEYID};
use super::crypto::{aes_ctr_keyed, ct_eq, hmac_sha1_keyed, sha1, sha256};
use super::error::{OtrError, Result};
use super::group::{self, Element};
use super::keyed::{Keyed, KeyedCache};
use super::message::{data_authenticated, DataMessage, Header};
use super::wire;

/// Keys and counters for one (our key, their key) pair.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct SessionKeys {
    send_aes: [u8; 16],
    send_mac: [u8; 20],
    recv_aes: [u8; 16],
    recv_mac: [u8; 20],
    /// The extra symmetric key (SHA256(0xff || MPI(s))).
    extra: [u8; 32],
    send_ctr: u64,
    recv_ctr: u64,
    send_mac_used: bool,
    recv_mac_used: bool,
    /// The keys above as key schedules, made on first use while the channel is in memory.
    #[serde(skip)]
    keyed: KeyedCache,
}

impl core::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "SessionKeys(send_ctr={}, recv_ctr={})",
            self.send_ctr, self.recv_ctr
        )
    }
}

fn is_greater(a: &Element, b: &Element) -> bool {
    let (a, b) = (a.to_be_bytes(), b.to_be_bytes());
    (a.len(), &a) > (b.len(), &b)
}

impl SessionKeys {
    fn derive(ours: &DhKeyPair, theirs: &Element) -> SessionKeys {
        let s = group::pow(theirs, &ours.secret);
        let secbytes = Zeroizing::new(wire::mpi(&s.to_be_bytes_secret()));
        let (send_byte, recv_byte) = if is_greater(&ours.public, theirs) {
            (1u8, 2u8)
        } else {
            (2, 1)
        };
        let aes = |b: u8| {
            let h = Zeroizing::new(sha1(&[&[b], &secbytes]));
            let mut k = [0u8; 16];
            k.copy_from_slice(&h[..16]);
            k
        };
        let (send_aes, recv_aes) = (aes(send_byte), aes(recv_byte));
        SessionKeys {
            send_mac: sha1(&[&send_aes]),
            recv_mac: sha1(&[&recv_aes]),
            send_aes,
            recv_aes,
            extra: sha256(&[&[0xff], &secbytes]),
            send_ctr: 0,
            recv_ctr: 0,
            send_mac_used: false,
            recv_mac_used: false,
            keyed: KeyedCache::default(),
        }
    }

    /// The key schedules, made on first use.
    fn keyed(&mut self) -> &Keyed {
        self.keyed.get(
            &self.send_aes,
            &self.recv_aes,
            &self.send_mac,
            &self.recv_mac,
        )
    }

    fn reveal_into(&self, out: &mut Vec<u8>) {
        if self.recv_mac_used {
            out.extend_from_slice(&self.recv_mac);
        }
        if self.send_mac_used {
            out.extend_from_slice(&self.send_mac);
        }
    }
}

/// A decrypted, authenticated data message.
#[derive(Debug, PartialEq, Eq)]
pub struct Received {
    /// The plaintext (message, NUL, TLVs).
    pub plaintext: Zeroizing<Vec<u8>>,
    /// The extra symmetric key of the keys used.
    pub extra_key: [u8; 32],
}

/// Our newest DH public key as every Data message carries it, kept so that it is not taken
/// out of Montgomery form for each message. Not stored, and not part of the state's equality.
#[derive(Clone, Default)]
struct PublicBytes(Option<Vec<u8>>);

impl PartialEq for PublicBytes {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for PublicBytes {}

impl core::fmt::Debug for PublicBytes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PublicBytes")
    }
}

/// The encrypted state of a session (libotr's our/their keys and sesskeys[2][2]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataState {
    our_keyid: u32,
    our_dh: DhKeyPair,
    our_old_dh: DhKeyPair,
    their_keyid: u32,
    their_y: Element,
    their_old_y: Option<Element>,
    /// sess[our index][their index]; index 0 = most recent, 1 = previous.
    sess: [[Option<SessionKeys>; 2]; 2],
    saved_mac_keys: Vec<u8>,
    #[serde(skip)]
    our_public: PublicBytes,
}

impl Drop for DataState {
    fn drop(&mut self) {
        self.saved_mac_keys.zeroize();
    }
}

impl DataState {
    /// The state right after an AKE: our AKE key is the previous one, a fresh key the current
    /// one. The AKE's keys move in (no copy of the secret is left behind).
    pub fn new(est: Established) -> DataState {
        DataState {
            our_keyid: AKE_KEYID + 1,
            our_dh: DhKeyPair::generate(),
            our_old_dh: est.our_dh,
            their_keyid: est.their_keyid,
            their_y: est.their_dh,
            their_old_y: None,
            sess: Default::default(),
            saved_mac_keys: Vec::new(),
            our_public: PublicBytes::default(),
        }
    }

    fn keys(&mut self, oi: usize, ti: usize) -> Result<&mut SessionKeys> {
        if self.sess[oi][ti].is_none() {
            let ours = if oi == 0 {
                &self.our_dh
            } else {
                &self.our_old_dh
            };
            let theirs = if ti == 0 {
                Some(&self.their_y)
            } else {
                self.their_old_y.as_ref()
            };
            let theirs = theirs.ok_or(OtrError::UnknownKeys)?;
            self.sess[oi][ti] = Some(SessionKeys::derive(ours, theirs));
        }
        self.sess[oi][ti].as_mut().ok_or(OtrError::UnknownKeys)
    }

    /// Encrypts `plaintext` into a Data message (sender keys: our previous key, their newest).
    pub fn encrypt(&mut self, header: Header, flags: u8, plaintext: &[u8]) -> Result<DataMessage> {
        let sender_keyid = self.our_keyid - 1;
        let recipient_keyid = self.their_keyid;
        let next_dh = match &self.our_public.0 {
            Some(b) => b.clone(),
            None => {
                let b = self.our_dh.public.to_be_bytes();
                self.our_public.0 = Some(b.clone());
                b
            }
        };
        let sess = self.keys(1, 0)?;
        sess.send_ctr = sess.send_ctr.checked_add(1).ok_or(OtrError::TooLarge)?;
        let ctr = sess.send_ctr.to_be_bytes();
        let mut encrypted = plaintext.to_vec();
        aes_ctr_keyed(&sess.keyed().send_aes, &ctr, &mut encrypted);
        let authenticated = data_authenticated(
            &header,
            flags,
            sender_keyid,
            recipient_keyid,
            &next_dh,
            &ctr,
            &encrypted,
        );
        let mac = hmac_sha1_keyed(&sess.keyed().send_mac, &authenticated);
        sess.send_mac_used = true;
        let old_mac_keys = core::mem::take(&mut self.saved_mac_keys);
        Ok(DataMessage {
            flags,
            sender_keyid,
            recipient_keyid,
            next_dh,
            ctr,
            encrypted,
            mac,
            old_mac_keys,
            authenticated,
        })
    }

    /// Authenticates (MAC first, constant time), checks the counter, decrypts and rotates keys.
    pub fn decrypt(&mut self, msg: &DataMessage) -> Result<Received> {
        let (s, r) = (msg.sender_keyid, msg.recipient_keyid);
        if s == 0 || r == 0 {
            return Err(OtrError::Malformed("key id 0"));
        }
        let oi = if r == self.our_keyid {
            0
        } else if r == self.our_keyid.wrapping_sub(1) {
            1
        } else {
            return Err(OtrError::UnknownKeys);
        };
        let ti = if s == self.their_keyid {
            0
        } else if s == self.their_keyid.wrapping_sub(1) && self.their_old_y.is_some() {
            1
        } else {
            return Err(OtrError::UnknownKeys);
        };
        let sess = self.keys(oi, ti)?;
        if !ct_eq(
            &hmac_sha1_keyed(&sess.keyed().recv_mac, &msg.authenticated),
            &msg.mac,
        ) {
            return Err(OtrError::Mac);
        }
        let ctr = u64::from_be_bytes(msg.ctr);
        if ctr <= sess.recv_ctr {
            return Err(OtrError::Replay);
        }
        // Their next key is read only when it is new to us (the message uses their newest
        // key), so that a run of messages under one key does not parse it again each time.
        let next_dh = if s == self.their_keyid {
            let next = Element::from_be_bytes(&msg.next_dh).map_err(|_| OtrError::Range)?;
            // Their next key must be new: one we hold again would be paired with our key
            // again, its sending counter starting at 0, and an AES-CTR key and counter used
            // twice.
            if next == self.their_y || self.their_old_y.as_ref() == Some(&next) {
                return Err(OtrError::Malformed("next DH key re-announced"));
            }
            Some(next)
        } else {
            None
        };
        let sess = self.keys(oi, ti)?;
        sess.recv_ctr = ctr;
        sess.recv_mac_used = true;
        let mut plaintext = Zeroizing::new(msg.encrypted.clone());
        aes_ctr_keyed(&sess.keyed().recv_aes, &msg.ctr, &mut plaintext);
        let extra_key = sess.extra;
        if r == self.our_keyid {
            self.rotate_ours();
        }
        if let Some(next) = next_dh {
            self.rotate_theirs(next);
        }
        Ok(Received {
            plaintext,
            extra_key,
        })
    }

    /// They acknowledged our newest key: it becomes the previous one and a new one is made.
    fn rotate_ours(&mut self) {
        for k in self.sess[1].iter().flatten() {
            k.reveal_into(&mut self.saved_mac_keys);
        }
        self.sess[1] = core::mem::take(&mut self.sess[0]);
        self.our_old_dh = core::mem::replace(&mut self.our_dh, DhKeyPair::generate());
        self.our_public = PublicBytes::default();
        self.our_keyid = self.our_keyid.wrapping_add(1);
    }

    /// They sent a new key: their newest becomes the previous one.
    fn rotate_theirs(&mut self, next: Element) {
        for row in &mut self.sess {
            if let Some(k) = &row[1] {
                k.reveal_into(&mut self.saved_mac_keys);
            }
            row[1] = row[0].take();
        }
        self.their_old_y = Some(core::mem::replace(&mut self.their_y, next));
        self.their_keyid = self.their_keyid.wrapping_add(1);
    }

    /// MAC keys waiting to be revealed in the next message.
    pub fn pending_revealed(&self) -> usize {
        self.saved_mac_keys.len() / 20
    }

    /// The extra symmetric key of the keys used for sending.
    pub fn sending_extra_key(&mut self) -> Result<[u8; 32]> {
        Ok(self.keys(1, 0)?.extra)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ake::{start, AkeOutput, AkeState, Tags};
    use crate::keys::tests::test_key;
    use crate::message::{Body, Message, Version};

    pub(crate) fn pair() -> (DataState, DataState) {
        let key = test_key();
        let ta = Tags {
            ours: 0x100,
            theirs: 0x200,
        };
        let tb = Tags {
            ours: 0x200,
            theirs: 0x100,
        };
        let (mut a, commit) = start(Version::V3, ta).unwrap();
        let mut b = AkeState::None;
        let go = |s: &mut AkeState, m: &[u8], t| {
            let (next, out) = core::mem::take(s).handle(&Message::parse(m).unwrap(), &key, t);
            *s = next;
            out.unwrap()
        };
        let AkeOutput::Send(k) = go(&mut b, &commit, tb) else {
            panic!()
        };
        let AkeOutput::Send(r) = go(&mut a, &k, ta) else {
            panic!()
        };
        let AkeOutput::Done(eb, Some(s)) = go(&mut b, &r, tb) else {
            panic!()
        };
        let AkeOutput::Done(ea, None) = go(&mut a, &s, ta) else {
            panic!()
        };
        (DataState::new(*ea), DataState::new(*eb))
    }

    fn send(from: &mut DataState, text: &[u8]) -> DataMessage {
        let h = Header {
            version: Version::V3,
            sender: 1,
            receiver: 2,
        };
        let d = from.encrypt(h, 0, text).unwrap();
        let bytes = Message {
            header: h,
            body: Body::Data(d),
        }
        .encode();
        match Message::parse(&bytes).unwrap().body {
            Body::Data(d) => d,
            _ => panic!(),
        }
    }

    #[test]
    fn conversation_with_rotation_and_replay_rejection() {
        let (mut a, mut b) = pair();
        for round in 0..6 {
            let m = send(&mut a, format!("a{round}").as_bytes());
            assert_eq!(
                &b.decrypt(&m).unwrap().plaintext[..],
                format!("a{round}").as_bytes()
            );
            assert_eq!(b.decrypt(&m).err(), Some(OtrError::Replay));
            let m2 = send(&mut b, b"b");
            let m3 = send(&mut b, b"b2");
            assert_eq!(&a.decrypt(&m2).unwrap().plaintext[..], b"b");
            assert_eq!(&a.decrypt(&m3).unwrap().plaintext[..], b"b2");
        }
        assert!(a.our_keyid > 3 && b.their_keyid > 3, "keys rotated");
        let m = send(&mut a, b"x");
        assert!(!m.old_mac_keys.is_empty(), "old MAC keys revealed");
        assert_eq!(m.old_mac_keys.len() % 20, 0);
    }

    /// `m` (from `from`, sent with its keys (1, 0)) announcing `next` as the sender's next key.
    fn announcing(from: &mut DataState, mut m: DataMessage, next: &Element) -> DataMessage {
        let h = Header {
            version: Version::V3,
            sender: 1,
            receiver: 2,
        };
        m.next_dh = next.to_be_bytes();
        m.authenticated = data_authenticated(
            &h,
            m.flags,
            m.sender_keyid,
            m.recipient_keyid,
            &m.next_dh,
            &m.ctr,
            &m.encrypted,
        );
        m.mac = crate::crypto::hmac_sha1(&from.keys(1, 0).unwrap().send_mac, &m.authenticated);
        m
    }

    #[test]
    fn a_re_announced_dh_key_is_refused_and_no_key_and_counter_is_used_twice() {
        // At the start: a has sent with (its key 1, b's key 1); b announces its key 1 again as
        // its next key, in a message that does not move a's own keys on. Taken, a would pair
        // the same two keys again with its counter back at 0.
        let (mut a, mut b) = pair();
        let mut used = std::collections::HashSet::new();
        let mut sent = |a: &mut DataState| {
            let k = a.keys(1, 0).unwrap();
            assert!(
                used.insert((k.send_aes, k.send_ctr + 1)),
                "key and counter reused"
            );
            send(a, b"a")
        };
        sent(&mut a);
        let current = a.their_y.clone();
        let m = send(&mut b, b"evil");
        let m = announcing(&mut b, m, &current);
        a.keys(1, 0).unwrap();
        let before = a.clone();
        let refused = Some(OtrError::Malformed("next DH key re-announced"));
        assert_eq!(a.decrypt(&m).err(), refused);
        assert_eq!(a, before, "nothing changed");
        for _ in 0..3 {
            sent(&mut a);
        }
        // Later: b announces the key before its current one.
        for _ in 0..3 {
            let m = sent(&mut a);
            b.decrypt(&m).unwrap();
            let m = send(&mut b, b"b");
            a.decrypt(&m).unwrap();
        }
        let m = sent(&mut a);
        b.decrypt(&m).unwrap();
        let previous = a.their_old_y.clone().unwrap();
        let m = send(&mut b, b"evil");
        let m = announcing(&mut b, m, &previous);
        assert_eq!(a.decrypt(&m).err(), refused);
    }

    #[test]
    fn mac_checked_before_anything() {
        let (mut a, mut b) = pair();
        let mut m = send(&mut a, b"hello");
        b.keys(1, 0).unwrap();
        let before = b.clone();
        let last = m.authenticated.len() - 1;
        m.authenticated[last] ^= 1;
        assert_eq!(b.decrypt(&m).err(), Some(OtrError::Mac));
        assert_eq!(b, before);
        let mut m = send(&mut a, b"hello");
        m.recipient_keyid = 77;
        assert_eq!(b.decrypt(&m).err(), Some(OtrError::UnknownKeys));
        let mut m = send(&mut a, b"hello");
        m.next_dh = vec![1];
        assert_eq!(b.decrypt(&m).err(), Some(OtrError::Range));
    }
}
