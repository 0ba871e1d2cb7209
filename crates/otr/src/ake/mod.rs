//! The authenticated key exchange (DH-Commit, DH-Key, Reveal Signature, Signature).

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::crypto::{aes_ctr, ct_eq, sha256};
use super::error::{random_bytes, OtrError, Result};
use super::group::Element;
use super::keys::{Fingerprint, PrivateKey};
use super::message::{Body, Header, Message, Version};
use super::wire::{self, Reader};

mod keys;

use keys::{open_signed_part, signed_part, AkeKeys};
pub use keys::{DhKeyPair, DH_EXPONENT_BITS};

/// The key id each side uses for its AKE DH key (as libotr).
pub const AKE_KEYID: u32 = 1;

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
    /// Our own version-2 DH-Commit that lost the hash comparison, kept because libotr 4.1.1
    /// in version 2 never keeps its commit: it answers ours with a DH-Key whatever the
    /// hashes, which we then take up as in AWAITING_DHKEY (else both sides would wait for
    /// a Reveal Signature).
    superseded: Option<Box<AwaitingDhKey>>,
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

/// A transition that cannot fail, as `handle` returns it.
fn ok((state, out): (AkeState, AkeOutput)) -> (AkeState, Result<AkeOutput>) {
    (state, Ok(out))
}

fn element(bytes: &[u8]) -> Result<Element> {
    Element::from_be_bytes(bytes).map_err(|_| OtrError::Range)
}

fn reply_dh_key(
    version: Version,
    tags: Tags,
    encrypted_gx: Vec<u8>,
    hashed_gx: [u8; 32],
    superseded: Option<Box<AwaitingDhKey>>,
) -> (AkeState, AkeOutput) {
    let dh = DhKeyPair::generate();
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
        superseded,
    };
    (
        AkeState::AwaitingRevealSig(Box::new(state)),
        AkeOutput::Send(dh_key),
    )
}

/// Answers a DH-Key to our DH-Commit `s` with a Reveal Signature, consuming `s` (its DH key
/// moves into the AWAITING_SIG state); on error `s` is given back unchanged.
fn reveal_signature(
    s: Box<AwaitingDhKey>,
    gy: &[u8],
    key: &PrivateKey,
    tags: Tags,
) -> core::result::Result<(AkeState, AkeOutput), (Box<AwaitingDhKey>, OtrError)> {
    let prepared = element(gy).and_then(|gy| {
        let keys = AkeKeys::derive(&gy, &s.dh.secret);
        let (encrypted_sig, mac) =
            signed_part(key, &s.dh.public, &gy, &keys.m1, &keys.c, &keys.m2)?;
        Ok((gy, keys, encrypted_sig, mac))
    });
    let (gy, keys, encrypted_sig, mac) = match prepared {
        Ok(p) => p,
        Err(e) => return Err((s, e)),
    };
    let AwaitingDhKey { version, r, dh, .. } = *s;
    let reveal_sig = Message {
        header: header(version, tags),
        body: Body::RevealSig {
            revealed_key: r.to_vec(),
            encrypted_sig,
            mac,
        },
    }
    .encode();
    let state = AwaitingSig {
        version,
        dh,
        their_gy: gy,
        keys,
        reveal_sig: reveal_sig.clone(),
    };
    Ok((
        AkeState::AwaitingSig(Box::new(state)),
        AkeOutput::Send(reveal_sig),
    ))
}

/// Opens a Reveal Signature in AWAITING_REVEALSIG: checks the commitment and the peer's
/// signature, and makes our Signature. Reads `s` only, so that a failure leaves it as it was.
fn open_reveal_signature(
    s: &AwaitingRevealSig,
    revealed_key: &[u8],
    encrypted_sig: &[u8],
    mac: &[u8; 20],
    key: &PrivateKey,
    tags: Tags,
) -> Result<(Element, AkeKeys, u32, Fingerprint, Vec<u8>)> {
    let r: [u8; 16] = revealed_key
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
        header: header(s.version, tags),
        body: Body::Signature {
            encrypted_sig: enc,
            mac: tag,
        },
    }
    .encode();
    Ok((gx, keys, their_keyid, fingerprint, sig_msg))
}

impl AkeState {
    /// Processes a received AKE message, consuming the state (rustls-style): returns the next
    /// state and what to do. On error the state returned is the one given, unchanged; the
    /// DH secrets of a state left behind are wiped as it drops.
    pub fn handle(
        self,
        msg: &Message,
        key: &PrivateKey,
        tags: Tags,
    ) -> (AkeState, Result<AkeOutput>) {
        let version = msg.header.version;
        match (&msg.body, self) {
            (
                Body::DhCommit {
                    encrypted_gx,
                    hashed_gx,
                },
                AkeState::AwaitingDhKey(s),
            ) => {
                // Compare the hashed g^x values as 32-byte big-endian numbers (spec).
                if s.hashed_gx > *hashed_gx {
                    let resend = s.commit.clone();
                    return (AkeState::AwaitingDhKey(s), Ok(AkeOutput::Send(resend)));
                }
                // Version 2 only: in version 3 libotr answers from a fresh child context and
                // its master takes up our DH-Key itself (otrl_auth_copy_on_key).
                let kept = (version == Version::V2 && s.version == version).then_some(s);
                ok(reply_dh_key(
                    version,
                    tags,
                    encrypted_gx.clone(),
                    *hashed_gx,
                    kept,
                ))
            }
            (
                Body::DhCommit {
                    encrypted_gx,
                    hashed_gx,
                },
                AkeState::AwaitingRevealSig(mut s),
            ) => {
                s.encrypted_gx.clone_from(encrypted_gx);
                s.hashed_gx = *hashed_gx;
                let resend = s.dh_key.clone();
                (AkeState::AwaitingRevealSig(s), Ok(AkeOutput::Send(resend)))
            }
            (
                Body::DhCommit {
                    encrypted_gx,
                    hashed_gx,
                },
                _,
            ) => ok(reply_dh_key(
                version,
                tags,
                encrypted_gx.clone(),
                *hashed_gx,
                None,
            )),
            (Body::DhKey { gy }, AkeState::AwaitingDhKey(s)) => {
                if version != s.version {
                    return (AkeState::AwaitingDhKey(s), Ok(AkeOutput::Nothing));
                }
                match reveal_signature(s, gy, key, tags) {
                    Ok(next) => ok(next),
                    Err((s, e)) => (AkeState::AwaitingDhKey(s), Err(e)),
                }
            }
            (Body::DhKey { gy }, AkeState::AwaitingRevealSig(mut s)) => match s.superseded.take() {
                Some(c) if c.version == version => match reveal_signature(c, gy, key, tags) {
                    Ok(next) => ok(next),
                    Err((c, e)) => {
                        s.superseded = Some(c);
                        (AkeState::AwaitingRevealSig(s), Err(e))
                    }
                },
                superseded => {
                    s.superseded = superseded;
                    (AkeState::AwaitingRevealSig(s), Ok(AkeOutput::Nothing))
                }
            },
            (Body::DhKey { gy }, AkeState::AwaitingSig(s)) => {
                let same = element(gy).is_ok_and(|gy| gy == s.their_gy);
                let out = if same {
                    AkeOutput::Send(s.reveal_sig.clone())
                } else {
                    AkeOutput::Nothing
                };
                (AkeState::AwaitingSig(s), Ok(out))
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
                    return (AkeState::AwaitingRevealSig(s), Ok(AkeOutput::Nothing));
                }
                let opened = open_reveal_signature(&s, revealed_key, encrypted_sig, mac, key, tags);
                let (gx, keys, their_keyid, fingerprint, sig_msg) = match opened {
                    Ok(o) => o,
                    Err(e) => return (AkeState::AwaitingRevealSig(s), Err(e)),
                };
                let AwaitingRevealSig { dh, .. } = *s;
                let est = Established {
                    version,
                    ssid: keys.ssid,
                    we_committed: false,
                    our_dh: dh,
                    their_dh: gx,
                    their_keyid,
                    fingerprint,
                };
                ok((
                    AkeState::None,
                    AkeOutput::Done(Box::new(est), Some(sig_msg)),
                ))
            }
            (Body::Signature { encrypted_sig, mac }, AkeState::AwaitingSig(s)) => {
                if version != s.version {
                    return (AkeState::AwaitingSig(s), Ok(AkeOutput::Nothing));
                }
                let k = &s.keys;
                let opened = open_signed_part(
                    encrypted_sig,
                    mac,
                    &s.their_gy,
                    &s.dh.public,
                    &k.m1_prime,
                    &k.c_prime,
                    &k.m2_prime,
                );
                let (their_keyid, fingerprint) = match opened {
                    Ok(o) => o,
                    Err(e) => return (AkeState::AwaitingSig(s), Err(e)),
                };
                let AwaitingSig {
                    dh, their_gy, keys, ..
                } = *s;
                let est = Established {
                    version,
                    ssid: keys.ssid,
                    we_committed: true,
                    our_dh: dh,
                    their_dh: their_gy,
                    their_keyid,
                    fingerprint,
                };
                ok((AkeState::None, AkeOutput::Done(Box::new(est), None)))
            }
            (_, state) => (state, Ok(AkeOutput::Nothing)),
        }
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
mod tests;
