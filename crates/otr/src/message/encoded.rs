//! Encoded messages (spec: "Encoded messages"): the header, the D-H Commit, D-H Key, Reveal
//! Signature, Signature and Data messages, their parsing and encoding, and the `?OTR:` armor.

use super::Version;
use crate::error::{OtrError, Result};
use crate::wire::{self, Reader};

/// Wraps binary OTR message bytes as `?OTR:<base64>.`.
pub fn armor(bytes: &[u8]) -> String {
    // Written into one buffer of the final size: no second copy of the base64 text.
    let mut s = String::with_capacity(6 + bytes.len().div_ceil(3) * 4);
    s.push_str("?OTR:");
    wire::base64_encode_into(bytes, &mut s);
    s.push('.');
    s
}

/// Message type byte of a DH-Commit.
pub const TYPE_DH_COMMIT: u8 = 0x02;
/// Message type byte of a Data message.
pub const TYPE_DATA: u8 = 0x03;
/// Message type byte of a DH-Key.
pub const TYPE_DH_KEY: u8 = 0x0a;
/// Message type byte of a Reveal Signature.
pub const TYPE_REVEAL_SIG: u8 = 0x11;
/// Message type byte of a Signature.
pub const TYPE_SIGNATURE: u8 = 0x12;

/// The header of an encoded message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Protocol version.
    pub version: Version,
    /// Sender instance tag (0 in version 2).
    pub sender: u32,
    /// Receiver instance tag (0 in version 2).
    pub receiver: u32,
}

impl Header {
    /// Writes the header of a message of `kind`.
    pub fn encode(&self, kind: u8, out: &mut Vec<u8>) {
        wire::put_short(out, self.version.number());
        wire::put_byte(out, kind);
        if self.version == Version::V3 {
            wire::put_int(out, self.sender);
            wire::put_int(out, self.receiver);
        }
    }
}

/// The fields of a Data message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataMessage {
    /// Flags (0x01 = IGNORE_UNREADABLE).
    pub flags: u8,
    /// The sender's key id.
    pub sender_keyid: u32,
    /// The recipient's key id.
    pub recipient_keyid: u32,
    /// The sender's next DH public value (MPI magnitude).
    pub next_dh: Vec<u8>,
    /// Top half of the AES-CTR counter.
    pub ctr: [u8; 8],
    /// The encrypted message.
    pub encrypted: Vec<u8>,
    /// HMAC-SHA1 over everything from the version to the encrypted message.
    pub mac: [u8; 20],
    /// Old MAC keys revealed by the sender.
    pub old_mac_keys: Vec<u8>,
    /// The authenticated prefix of the message as received.
    pub authenticated: Vec<u8>,
}

/// Flag: the recipient should not report this message if it cannot read it.
pub const FLAG_IGNORE_UNREADABLE: u8 = 0x01;

/// The body of an encoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// DH-Commit: AES_r(g^x) and SHA256(g^x).
    DhCommit {
        /// The encrypted MPI g^x.
        encrypted_gx: Vec<u8>,
        /// SHA256 of the MPI g^x.
        hashed_gx: [u8; 32],
    },
    /// DH-Key: g^y.
    DhKey {
        /// MPI magnitude of g^y.
        gy: Vec<u8>,
    },
    /// Reveal Signature: r, encrypted signature, MAC.
    RevealSig {
        /// The revealed AES key r.
        revealed_key: Vec<u8>,
        /// The encrypted X_B.
        encrypted_sig: Vec<u8>,
        /// MAC over the encrypted signature.
        mac: [u8; 20],
    },
    /// Signature: encrypted signature and MAC.
    Signature {
        /// The encrypted X_A.
        encrypted_sig: Vec<u8>,
        /// MAC over the encrypted signature.
        mac: [u8; 20],
    },
    /// A Data message.
    Data(DataMessage),
}

/// A decoded binary OTR message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Version and instance tags.
    pub header: Header,
    /// The message-type specific fields.
    pub body: Body,
}

impl Message {
    /// Parses a binary message; any error is typed, never a panic.
    pub fn parse(bytes: &[u8]) -> Result<Message> {
        let mut r = Reader::new(bytes);
        let version = Version::from_number(r.short()?)?;
        let kind = r.byte()?;
        let (sender, receiver) = match version {
            Version::V3 => (r.int()?, r.int()?),
            Version::V2 => (0, 0),
        };
        let header = Header {
            version,
            sender,
            receiver,
        };
        let body = match kind {
            TYPE_DH_COMMIT => Body::DhCommit {
                encrypted_gx: r.data()?.to_vec(),
                hashed_gx: {
                    let h = r.data()?;
                    h.try_into()
                        .map_err(|_| OtrError::Malformed("hashed g^x length"))?
                },
            },
            TYPE_DH_KEY => Body::DhKey {
                gy: r.mpi()?.to_vec(),
            },
            TYPE_REVEAL_SIG => Body::RevealSig {
                revealed_key: r.data()?.to_vec(),
                encrypted_sig: r.data()?.to_vec(),
                mac: r.array()?,
            },
            TYPE_SIGNATURE => Body::Signature {
                encrypted_sig: r.data()?.to_vec(),
                mac: r.array()?,
            },
            TYPE_DATA => {
                let flags = r.byte()?;
                let sender_keyid = r.int()?;
                let recipient_keyid = r.int()?;
                let next_dh = r.mpi()?.to_vec();
                let ctr = r.array()?;
                let encrypted = r.data()?.to_vec();
                let authenticated = bytes[..r.position()].to_vec();
                let mac = r.array()?;
                let old_mac_keys = r.data()?.to_vec();
                Body::Data(DataMessage {
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
            other => return Err(OtrError::MessageType(other)),
        };
        r.finish()?;
        Ok(Message { header, body })
    }

    /// Encodes the message (for Data, `authenticated` must already hold the prefix).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match &self.body {
            Body::DhCommit {
                encrypted_gx,
                hashed_gx,
            } => {
                self.header.encode(TYPE_DH_COMMIT, &mut out);
                wire::put_data(&mut out, encrypted_gx);
                wire::put_data(&mut out, hashed_gx);
            }
            Body::DhKey { gy } => {
                self.header.encode(TYPE_DH_KEY, &mut out);
                wire::put_mpi(&mut out, gy);
            }
            Body::RevealSig {
                revealed_key,
                encrypted_sig,
                mac,
            } => {
                self.header.encode(TYPE_REVEAL_SIG, &mut out);
                wire::put_data(&mut out, revealed_key);
                wire::put_data(&mut out, encrypted_sig);
                out.extend_from_slice(mac);
            }
            Body::Signature { encrypted_sig, mac } => {
                self.header.encode(TYPE_SIGNATURE, &mut out);
                wire::put_data(&mut out, encrypted_sig);
                out.extend_from_slice(mac);
            }
            Body::Data(d) => {
                out.extend_from_slice(&d.authenticated);
                out.extend_from_slice(&d.mac);
                wire::put_data(&mut out, &d.old_mac_keys);
            }
        }
        out
    }
}

/// The authenticated prefix of a Data message (what its MAC covers).
pub fn data_authenticated(
    header: &Header,
    flags: u8,
    sender_keyid: u32,
    recipient_keyid: u32,
    next_dh: &[u8],
    ctr: &[u8; 8],
    encrypted: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(encrypted.len() + 240);
    header.encode(TYPE_DATA, &mut out);
    wire::put_byte(&mut out, flags);
    wire::put_int(&mut out, sender_keyid);
    wire::put_int(&mut out, recipient_keyid);
    wire::put_mpi(&mut out, next_dh);
    out.extend_from_slice(ctr);
    wire::put_data(&mut out, encrypted);
    out
}
