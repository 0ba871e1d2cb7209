//! AKE key material: DH key pairs, the keys derived from the shared secret, and the signed
//! part X of the Reveal Signature and Signature messages.

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::AKE_KEYID;
use crate::crypto::{aes_ctr, ct_eq, hmac_sha256, sha256};
use crate::error::{OtrError, Result};
use crate::group::{self, Element, Exponent};
use crate::keys::{Fingerprint, PrivateKey, PublicKey};
use crate::wire::{self, Reader};

/// Bits of a DH secret exponent (libotr uses 320).
pub const DH_EXPONENT_BITS: usize = 320;

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
    pub(super) ssid: [u8; 8],
    pub(super) c: [u8; 16],
    pub(super) c_prime: [u8; 16],
    pub(super) m1: [u8; 32],
    pub(super) m2: [u8; 32],
    pub(super) m1_prime: [u8; 32],
    pub(super) m2_prime: [u8; 32],
}

impl core::fmt::Debug for AkeKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AkeKeys(<secret>)")
    }
}

impl AkeKeys {
    pub(super) fn derive(their: &Element, ours: &Exponent) -> AkeKeys {
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

/// X = pub || keyid || sig(HMAC_m(g_a, g_b, pub, keyid)), encrypted with `c` and MACed with `m2`.
pub(super) fn signed_part(
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
pub(super) fn open_signed_part(
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
