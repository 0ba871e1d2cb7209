//! The authenticated key exchange (DH-Commit, DH-Key, Reveal Signature, Signature).

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::crypto::{aes_ctr, ct_eq, hmac_sha256, sha256};
use super::error::{random_bytes, OtrError, Result};
use super::group::{self, Element, Exponent};
use super::keys::{Fingerprint, PrivateKey, PublicKey};
use super::message::{Body, Header, Message, Version};
use super::wire::{self, Reader};

/// Bits of a DH secret exponent (libotr uses 320).
pub const DH_EXPONENT_BITS: usize = 320;
/// The key id each side uses for its AKE DH key (as libotr).
pub const AKE_KEYID: u32 = 1;

/// A DH key pair in the 1536-bit MODP group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhKeyPair {
    /// The secret exponent.
    pub secret: Exponent,
    /// g^secret.
    pub public: Element,
}

impl DhKeyPair {
    /// A fresh random key pair.
    pub fn generate() -> DhKeyPair {
        let secret = Exponent::random(DH_EXPONENT_BITS);
        let public = group::g_pow(&secret);
        DhKeyPair { secret, public }
    }
}

/// Keys derived from the AKE's shared secret s (h2(b) = SHA256(b || MPI(s))).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct AkeKeys {
    ssid: [u8; 8],
    c: [u8; 16],
    c_prime: [u8; 16],
    m1: [u8; 32],
    m2: [u8; 32],
    m1_prime: [u8; 32],
    m2_prime: [u8; 32],
}

impl core::fmt::Debug for AkeKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AkeKeys(<secret>)")
    }
}

impl AkeKeys {
    fn derive(their: &Element, ours: &Exponent) -> AkeKeys {
        let s = group::pow(their, ours);
        let secbytes = Zeroizing::new(wire::mpi(&s.to_be_bytes_secret()));
        let h2 = |b: u8| Zeroizing::new(sha256(&[&[b], &secbytes]));
        let h0 = h2(0x00);
        let h1 = h2(0x01);
        let mut k = AkeKeys {
            ssid: [0; 8],
            c: [0; 16],
            c_prime: [0; 16],
            m1: *h2(0x02),
            m2: *h2(0x03),
            m1_prime: *h2(0x04),
            m2_prime: *h2(0x05),
        };
        k.ssid.copy_from_slice(&h0[..8]);
        k.c.copy_from_slice(&h1[..16]);
        k.c_prime.copy_from_slice(&h1[16..]);
        k
    }
}

/// We sent a DH-Commit and wait for the DH-Key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingDhKey {
    version: Version,
    r: [u8; 16],
    dh: DhKeyPair,
    hashed_gx: [u8; 32],
    commit: Vec<u8>,
}

/// We sent a DH-Key and wait for the Reveal Signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingRevealSig {
    version: Version,
    dh: DhKeyPair,
    encrypted_gx: Vec<u8>,
    hashed_gx: [u8; 32],
    dh_key: Vec<u8>,
}

/// We sent the Reveal Signature and wait for the Signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingSig {
    version: Version,
    dh: DhKeyPair,
    their_gy: Element,
    keys: AkeKeys,
    reveal_sig: Vec<u8>,
}

/// The AKE state of one session, each waiting state carrying its own data.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AkeState {
    /// No AKE in progress.
    #[default]
    None,
    /// DH-Commit sent.
    AwaitingDhKey(Box<AwaitingDhKey>),
    /// DH-Key sent.
    AwaitingRevealSig(Box<AwaitingRevealSig>),
    /// Reveal Signature sent.
    AwaitingSig(Box<AwaitingSig>),
}

/// The result of a completed AKE.
#[derive(Debug)]
pub struct Established {
    /// The protocol version used.
    pub version: Version,
    /// The secure session id.
    pub ssid: [u8; 8],
    /// True when we sent the DH-Commit (libotr shows the second ssid half in bold then).
    pub we_committed: bool,
    /// Our AKE DH key pair (key id 1).
    pub our_dh: DhKeyPair,
    /// Their AKE DH public value.
    pub their_dh: Element,
    /// Their key id for that value.
    pub their_keyid: u32,
    /// Their long-term key's fingerprint.
    pub fingerprint: Fingerprint,
}

/// What the AKE asks the session to do.
#[derive(Debug)]
pub enum AkeOutput {
    /// Nothing to send.
    Nothing,
    /// Send this encoded message.
    Send(Vec<u8>),
    /// The AKE finished; send the message if any.
    Done(Box<Established>, Option<Vec<u8>>),
}

/// Instance tags for the header of messages we send.
#[derive(Clone, Copy, Debug)]
pub struct Tags {
    /// Our instance tag.
    pub ours: u32,
    /// Their instance tag (0 if unknown).
    pub theirs: u32,
}

fn header(version: Version, tags: Tags) -> Header {
    Header {
        version,
        sender: tags.ours,
        receiver: tags.theirs,
    }
}

/// Starts an AKE: returns the AwaitingDhKey state and the DH-Commit to send.
pub fn start(version: Version, tags: Tags) -> Result<(AkeState, Vec<u8>)> {
    let mut r = [0u8; 16];
    random_bytes(&mut r)?;
    let dh = DhKeyPair::generate();
    let gx = Zeroizing::new(wire::mpi(&dh.public.to_be_bytes()));
    let hashed_gx = sha256(&[&gx]);
    let mut encrypted_gx = gx.to_vec();
    aes_ctr(&r, &[0; 8], &mut encrypted_gx);
    let commit = Message {
        header: header(version, tags),
        body: Body::DhCommit {
            encrypted_gx,
            hashed_gx,
        },
    }
    .encode();
    let state = AwaitingDhKey {
        version,
        r,
        dh,
        hashed_gx,
        commit: commit.clone(),
    };
    Ok((AkeState::AwaitingDhKey(Box::new(state)), commit))
}

/// X = pub || keyid || sig(HMAC_m(g_a, g_b, pub, keyid)), encrypted with `c` and MACed with `m2`.
fn signed_part(
    key: &PrivateKey,
    ours: &Element,
    theirs: &Element,
    m: &[u8; 32],
    c: &[u8; 16],
    m2: &[u8; 32],
) -> Result<(Vec<u8>, [u8; 20])> {
    let mut keyid = Vec::new();
    wire::put_int(&mut keyid, AKE_KEYID);
    let pubkey = key.public().encoded();
    let mac = hmac_sha256(
        m,
        &[
            &wire::mpi(&ours.to_be_bytes()),
            &wire::mpi(&theirs.to_be_bytes()),
            pubkey,
            &keyid,
        ],
    );
    let sig = key.sign(&mac)?;
    let mut x = [pubkey, &keyid, &sig].concat();
    aes_ctr(c, &[0; 8], &mut x);
    let mut data = Vec::with_capacity(x.len() + 4);
    wire::put_data(&mut data, &x);
    let full = hmac_sha256(m2, &[&data]);
    let mut tag = [0u8; 20];
    tag.copy_from_slice(&full[..20]);
    Ok((x, tag))
}

/// Checks and opens the peer's encrypted X; returns their key id and fingerprint.
fn open_signed_part(
    encrypted: &[u8],
    mac: &[u8; 20],
    theirs: &Element,
    ours: &Element,
    m: &[u8; 32],
    c: &[u8; 16],
    m2: &[u8; 32],
) -> Result<(u32, Fingerprint)> {
    let mut data = Vec::with_capacity(encrypted.len() + 4);
    wire::put_data(&mut data, encrypted);
    if !ct_eq(&hmac_sha256(m2, &[&data])[..20], mac) {
        return Err(OtrError::Mac);
    }
    let mut x = encrypted.to_vec();
    aes_ctr(c, &[0; 8], &mut x);
    let mut r = Reader::new(&x);
    let start = r.position();
    let pubkey = PublicKey::read(&mut r)?;
    let pub_end = r.position();
    let keyid = r.int()?;
    if keyid == 0 {
        return Err(OtrError::Malformed("key id 0"));
    }
    let sig = r.rest();
    let mac = hmac_sha256(
        m,
        &[
            &wire::mpi(&theirs.to_be_bytes()),
            &wire::mpi(&ours.to_be_bytes()),
            &x[start..pub_end],
            &keyid.to_be_bytes(),
        ],
    );
    pubkey.verify(&mac, sig)?;
    Ok((keyid, pubkey.fingerprint()))
}

fn element(bytes: &[u8]) -> Result<Element> {
    Element::from_be_bytes(bytes).map_err(|_| OtrError::Range)
}

fn reply_dh_key(
    version: Version,
    tags: Tags,
    encrypted_gx: Vec<u8>,
    hashed_gx: [u8; 32],
    dh: DhKeyPair,
) -> (AkeState, AkeOutput) {
    let dh_key = Message {
        header: header(version, tags),
        body: Body::DhKey {
            gy: dh.public.to_be_bytes(),
        },
    }
    .encode();
    let state = AwaitingRevealSig {
        version,
        dh,
        encrypted_gx,
        hashed_gx,
        dh_key: dh_key.clone(),
    };
    (
        AkeState::AwaitingRevealSig(Box::new(state)),
        AkeOutput::Send(dh_key),
    )
}

impl AkeState {
    /// Processes a received AKE message; on error the state is unchanged.
    pub fn handle(&mut self, msg: &Message, key: &PrivateKey, tags: Tags) -> Result<AkeOutput> {
        let version = msg.header.version;
        let (next, out) = match (&msg.body, &*self) {
            (
                Body::DhCommit {
                    encrypted_gx,
                    hashed_gx,
                },
                AkeState::AwaitingDhKey(s),
            ) if s.hashed_gx > *hashed_gx => {
                let _ = encrypted_gx;
                return Ok(AkeOutput::Send(s.commit.clone()));
            }
            (
                Body::DhCommit {
                    encrypted_gx,
                    hashed_gx,
                },
                AkeState::AwaitingRevealSig(s),
            ) => {
                let mut s = s.clone();
                s.encrypted_gx.clone_from(encrypted_gx);
                s.hashed_gx = *hashed_gx;
                let resend = s.dh_key.clone();
                (AkeState::AwaitingRevealSig(s), AkeOutput::Send(resend))
            }
            (
                Body::DhCommit {
                    encrypted_gx,
                    hashed_gx,
                },
                _,
            ) => reply_dh_key(
                version,
                tags,
                encrypted_gx.clone(),
                *hashed_gx,
                DhKeyPair::generate(),
            ),
            (Body::DhKey { gy }, AkeState::AwaitingDhKey(s)) => {
                if version != s.version {
                    return Ok(AkeOutput::Nothing);
                }
                let gy = element(gy)?;
                let keys = AkeKeys::derive(&gy, &s.dh.secret);
                let (encrypted_sig, mac) =
                    signed_part(key, &s.dh.public, &gy, &keys.m1, &keys.c, &keys.m2)?;
                let body = Body::RevealSig {
                    revealed_key: s.r.to_vec(),
                    encrypted_sig,
                    mac,
                };
                let reveal_sig = Message {
                    header: header(version, tags),
                    body,
                }
                .encode();
                let state = AwaitingSig {
                    version,
                    dh: s.dh.clone(),
                    their_gy: gy,
                    keys,
                    reveal_sig: reveal_sig.clone(),
                };
                (
                    AkeState::AwaitingSig(Box::new(state)),
                    AkeOutput::Send(reveal_sig),
                )
            }
            (Body::DhKey { gy }, AkeState::AwaitingSig(s)) => {
                let same = element(gy).is_ok_and(|gy| gy == s.their_gy);
                return Ok(if same {
                    AkeOutput::Send(s.reveal_sig.clone())
                } else {
                    AkeOutput::Nothing
                });
            }
            (
                Body::RevealSig {
                    revealed_key,
                    encrypted_sig,
                    mac,
                },
                AkeState::AwaitingRevealSig(s),
            ) => {
                if version != s.version {
                    return Ok(AkeOutput::Nothing);
                }
                let r: [u8; 16] = revealed_key
                    .as_slice()
                    .try_into()
                    .map_err(|_| OtrError::Malformed("revealed key length"))?;
                let mut gx_mpi = Zeroizing::new(s.encrypted_gx.clone());
                aes_ctr(&r, &[0; 8], &mut gx_mpi);
                if !ct_eq(&sha256(&[&gx_mpi]), &s.hashed_gx) {
                    return Err(OtrError::Commitment);
                }
                let mut rd = Reader::new(&gx_mpi);
                let gx = element(rd.mpi()?)?;
                rd.finish()?;
                let keys = AkeKeys::derive(&gx, &s.dh.secret);
                let (their_keyid, fingerprint) = open_signed_part(
                    encrypted_sig,
                    mac,
                    &gx,
                    &s.dh.public,
                    &keys.m1,
                    &keys.c,
                    &keys.m2,
                )?;
                let (enc, tag) = signed_part(
                    key,
                    &s.dh.public,
                    &gx,
                    &keys.m1_prime,
                    &keys.c_prime,
                    &keys.m2_prime,
                )?;
                let sig_msg = Message {
                    header: header(version, tags),
                    body: Body::Signature {
                        encrypted_sig: enc,
                        mac: tag,
                    },
                }
                .encode();
                let est = Established {
                    version,
                    ssid: keys.ssid,
                    we_committed: false,
                    our_dh: s.dh.clone(),
                    their_dh: gx,
                    their_keyid,
                    fingerprint,
                };
                (
                    AkeState::None,
                    AkeOutput::Done(Box::new(est), Some(sig_msg)),
                )
            }
            (Body::Signature { encrypted_sig, mac }, AkeState::AwaitingSig(s)) => {
                if version != s.version {
                    return Ok(AkeOutput::Nothing);
                }
                let k = &s.keys;
                let (their_keyid, fingerprint) = open_signed_part(
                    encrypted_sig,
                    mac,
                    &s.their_gy,
                    &s.dh.public,
                    &k.m1_prime,
                    &k.c_prime,
                    &k.m2_prime,
                )?;
                let est = Established {
                    version,
                    ssid: k.ssid,
                    we_committed: true,
                    our_dh: s.dh.clone(),
                    their_dh: s.their_gy.clone(),
                    their_keyid,
                    fingerprint,
                };
                (AkeState::None, AkeOutput::Done(Box::new(est), None))
            }
            _ => return Ok(AkeOutput::Nothing),
        };
        *self = next;
        Ok(out)
    }

    /// The version of the AKE in progress, if any.
    pub fn version(&self) -> Option<Version> {
        match self {
            AkeState::None => None,
            AkeState::AwaitingDhKey(s) => Some(s.version),
            AkeState::AwaitingRevealSig(s) => Some(s.version),
            AkeState::AwaitingSig(s) => Some(s.version),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otr::keys::tests::test_key;

    const A: Tags = Tags {
        ours: 0x100,
        theirs: 0x200,
    };
    const B: Tags = Tags {
        ours: 0x200,
        theirs: 0x100,
    };

    fn deliver(state: &mut AkeState, bytes: &[u8], tags: Tags) -> AkeOutput {
        state
            .handle(&Message::parse(bytes).unwrap(), &test_key(), tags)
            .unwrap()
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
            let r = Message::parse(&bad).and_then(|m| alice.handle(&m, &test_key(), B));
            assert!(r.is_err(), "byte {i}");
            assert_eq!(alice, before);
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
        assert_eq!(
            bob.clone().handle(&m, &test_key(), A).err(),
            None,
            "ignored in AwaitingSig"
        );
        let (mut fresh, _) = start(Version::V3, A).unwrap();
        assert_eq!(
            fresh.handle(&m, &test_key(), A).err(),
            Some(OtrError::Range)
        );
    }
}
