//! OTR message kinds: plaintext, whitespace tags, queries, errors and encoded messages.

use serde::{Deserialize, Serialize};

use super::error::{OtrError, Result};
use super::policy::Versions;
use super::wire::{self, Reader};

/// A protocol version the engine speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Version {
    /// OTR version 2 (no instance tags).
    V2,
    /// OTR version 3 (instance tags).
    V3,
}

impl Version {
    /// The SHORT protocol version on the wire.
    pub fn number(self) -> u16 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }

    /// The version with this wire number.
    pub fn from_number(n: u16) -> Result<Version> {
        match n {
            2 => Ok(Version::V2),
            3 => Ok(Version::V3),
            other => Err(OtrError::Version(other)),
        }
    }
}

/// The 16-byte base of every whitespace tag.
pub const TAG_BASE: &str = "\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20";
/// The 8-byte whitespace tag for version 1 (recognised and ignored).
pub const TAG_V1: &str = "\x20\x09\x20\x09\x20\x20\x09\x20";
/// The 8-byte whitespace tag for version 2.
pub const TAG_V2: &str = "\x20\x20\x09\x09\x20\x20\x09\x20";
/// The 8-byte whitespace tag for version 3.
pub const TAG_V3: &str = "\x20\x20\x09\x09\x20\x20\x09\x09";

/// Prefix of an OTR error message.
pub const ERROR_PREFIX: &str = "?OTR Error:";

/// What an incoming chat message is, before any protocol state is consulted.
#[derive(Debug, PartialEq, Eq)]
pub enum Classified {
    /// Plain text without an OTR marker.
    Plain(String),
    /// Plain text that carried a whitespace tag (removed here).
    Tagged {
        /// The text with the tag removed.
        text: String,
        /// The versions advertised by the tag.
        versions: Versions,
    },
    /// An OTR query message.
    Query(Versions),
    /// An OTR error message with its text.
    Error(String),
    /// A fragment of a larger encoded message.
    Fragment(String),
    /// A decoded `?OTR:` message (binary).
    Encoded(Vec<u8>),
}

/// Classifies a received chat message like libotr's `otrl_proto_message_type`.
pub fn classify(msg: &str) -> Result<Classified> {
    if let Some(i) = msg.find("?OTR") {
        let rest = &msg[i..];
        if rest.starts_with("?OTR|") || rest.starts_with("?OTR,") {
            return Ok(Classified::Fragment(rest.to_owned()));
        }
        if let Some(b64) = rest.strip_prefix("?OTR:") {
            let end = b64
                .find('.')
                .ok_or(OtrError::Malformed("no '.' after base64"))?;
            return Ok(Classified::Encoded(wire::base64_decode(&b64[..end])?));
        }
        if let Some(text) = rest.strip_prefix(ERROR_PREFIX) {
            return Ok(Classified::Error(text.trim_start().to_owned()));
        }
        if rest.starts_with("?OTR?") || rest.starts_with("?OTRv") {
            return Ok(Classified::Query(query_versions(&rest[4..])));
        }
    }
    if let Some(i) = msg.find(TAG_BASE) {
        let mut versions = Versions::default();
        let mut end = i + TAG_BASE.len();
        loop {
            let tail = &msg[end..];
            if tail.starts_with(TAG_V2) {
                versions.v2 = true;
            } else if tail.starts_with(TAG_V3) {
                versions.v3 = true;
            } else if !tail.starts_with(TAG_V1) {
                break;
            }
            end += 8;
        }
        let text = format!("{}{}", &msg[..i], &msg[end..]);
        return Ok(Classified::Tagged { text, versions });
    }
    Ok(Classified::Plain(msg.to_owned()))
}

/// Parses the versions after "?OTR" in a query ("?v23?", "?v2?", "v3?").
fn query_versions(s: &str) -> Versions {
    let mut v = Versions::default();
    let s = s.strip_prefix('?').unwrap_or(s);
    if let Some(digits) = s.strip_prefix('v') {
        for c in digits.chars().take_while(|&c| c != '?') {
            match c {
                '2' => v.v2 = true,
                '3' => v.v3 = true,
                _ => {}
            }
        }
    }
    v
}

/// The bare query message for a set of versions (e.g. "?OTRv23?").
pub fn query_message(versions: Versions) -> String {
    let mut s = String::from("?OTRv");
    if versions.v2 {
        s.push('2');
    }
    if versions.v3 {
        s.push('3');
    }
    s.push('?');
    s
}

/// The query message with libotr's explanatory text for people without OTR.
pub fn default_query(versions: Versions, account: &str) -> String {
    format!(
        "{}\n<b>{account}</b> has requested an <a href=\"https://otr.cypherpunks.ca/\">Off-the-Record private conversation</a>.  However, you do not have a plugin to support that.\nSee <a href=\"https://otr.cypherpunks.ca/\">https://otr.cypherpunks.ca/</a> for more information.",
        query_message(versions)
    )
}

/// The whitespace tag advertising `versions`.
pub fn whitespace_tag(versions: Versions) -> String {
    let mut s = String::from(TAG_BASE);
    if versions.v2 {
        s.push_str(TAG_V2);
    }
    if versions.v3 {
        s.push_str(TAG_V3);
    }
    s
}

/// Wraps binary OTR message bytes as `?OTR:<base64>.`.
pub fn armor(bytes: &[u8]) -> String {
    format!("?OTR:{}.", wire::base64_encode(bytes))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_like_libotr() {
        let v23 = Versions { v2: true, v3: true };
        assert_eq!(classify("?OTRv23?").unwrap(), Classified::Query(v23));
        assert_eq!(
            classify("?OTR?v2?").unwrap(),
            Classified::Query(Versions {
                v2: true,
                v3: false
            })
        );
        assert_eq!(
            classify("?OTR?").unwrap(),
            Classified::Query(Versions::default())
        );
        assert_eq!(
            classify(&default_query(v23, "alice@x")).unwrap(),
            Classified::Query(v23)
        );
        assert_eq!(
            classify("?OTR Error: oops").unwrap(),
            Classified::Error("oops".into())
        );
        assert_eq!(
            classify("hello").unwrap(),
            Classified::Plain("hello".into())
        );
        let tagged = format!("hi{}", whitespace_tag(v23));
        assert_eq!(
            classify(&tagged).unwrap(),
            Classified::Tagged {
                text: "hi".into(),
                versions: v23
            }
        );
        let v2only = format!("a{}{}{}b", TAG_BASE, TAG_V1, TAG_V2);
        assert_eq!(
            classify(&v2only).unwrap(),
            Classified::Tagged {
                text: "ab".into(),
                versions: Versions {
                    v2: true,
                    v3: false
                }
            }
        );
        assert_eq!(
            classify("?OTR:AAMC.").unwrap(),
            Classified::Encoded(vec![0, 3, 2])
        );
        assert!(classify("?OTR:AAMC").is_err());
        assert!(matches!(
            classify("?OTR|1|2,1,1,x,").unwrap(),
            Classified::Fragment(_)
        ));
    }

    #[test]
    fn message_round_trip() {
        let header = Header {
            version: Version::V3,
            sender: 0x1234,
            receiver: 0,
        };
        let bodies = vec![
            Body::DhCommit {
                encrypted_gx: vec![1, 2, 3],
                hashed_gx: [7; 32],
            },
            Body::DhKey { gy: vec![9, 9] },
            Body::RevealSig {
                revealed_key: vec![5; 16],
                encrypted_sig: vec![1; 50],
                mac: [3; 20],
            },
            Body::Signature {
                encrypted_sig: vec![2; 44],
                mac: [4; 20],
            },
        ];
        for body in bodies {
            let m = Message { header, body };
            assert_eq!(Message::parse(&m.encode()).unwrap(), m);
        }
        let auth = data_authenticated(&header, 1, 2, 3, &[4, 5], &[6; 8], &[7; 9]);
        let d = DataMessage {
            flags: 1,
            sender_keyid: 2,
            recipient_keyid: 3,
            next_dh: vec![4, 5],
            ctr: [6; 8],
            encrypted: vec![7; 9],
            mac: [8; 20],
            old_mac_keys: vec![1; 20],
            authenticated: auth,
        };
        let m = Message {
            header,
            body: Body::Data(d),
        };
        assert_eq!(Message::parse(&m.encode()).unwrap(), m);
        let mut bytes = m.encode();
        bytes.push(0);
        assert_eq!(
            Message::parse(&bytes),
            Err(OtrError::Malformed("trailing bytes"))
        );
    }

    #[test]
    fn parser_never_panics_on_mutations() {
        let header = Header {
            version: Version::V3,
            sender: 0x1234,
            receiver: 0x5678,
        };
        let auth = data_authenticated(&header, 0, 1, 1, &[4; 192], &[0; 8], &[7; 30]);
        let mut seed = auth.clone();
        seed.extend_from_slice(&[0; 20]);
        seed.extend_from_slice(&[0, 0, 0, 0]);
        let mut state = 0x9e3779b97f4a7c15u64;
        for _ in 0..20000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut m = seed.clone();
            let n = (state % 4) as usize + 1;
            for k in 0..n {
                let pos = ((state >> (8 * k)) as usize) % m.len();
                m[pos] = (state >> (3 * k)) as u8;
            }
            m.truncate(((state >> 40) as usize) % (m.len() + 1));
            let _ = Message::parse(&m);
            let _ = classify(&armor(&m));
        }
    }
}
