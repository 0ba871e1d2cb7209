//! One OTR session with one peer instance: its AKE state and message state.

use serde::{Deserialize, Serialize};

use super::ake::{AkeState, Established};
use super::data::{DataState, Received};
use super::error::{OtrError, Result};
use super::fragment::Reassembly;
use super::keys::Fingerprint;
use super::message::{armor, Body, DataMessage, Header, Message, Version};
use super::smp::SmpState;
use super::tlv::{self, Tlv};

/// Seconds without sending after which a received data message is answered by a heartbeat.
pub const HEARTBEAT_INTERVAL: u64 = 60;

/// An encrypted session's data.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secure {
    /// The protocol version in use.
    pub version: Version,
    /// The secure session id.
    pub ssid: [u8; 8],
    /// True when we sent the DH-Commit of the AKE.
    pub we_committed: bool,
    /// The peer's long-term key fingerprint.
    pub fingerprint: Fingerprint,
    data: DataState,
}

/// libotr's message state, carrying the keys while encrypted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum MsgState {
    /// Messages go in the clear.
    #[default]
    Plaintext,
    /// Messages are encrypted.
    Encrypted(Box<Secure>),
    /// The peer ended the private conversation; nothing is sent until it is restarted or finished.
    Finished,
}

/// A session with one peer instance (instance 0 = version 2, or before the peer's tag is known).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The AKE state.
    pub(crate) ake: AkeState,
    /// The message state.
    pub(crate) msg: MsgState,
    /// Time of the last message received in this session.
    pub(crate) last_recv: u64,
    /// Time of the last data message sent in this session.
    pub(crate) last_sent: u64,
    /// Incoming fragments.
    pub(crate) fragments: Reassembly,
    /// Time of the last fragment received (for expiring a partial message).
    pub(crate) fragment_at: u64,
    /// Time of the last AKE message sent or received (for expiring an unfinished AKE).
    pub(crate) ake_at: u64,
    /// The SMP state of this session (reset whenever it leaves ENCRYPTED).
    pub(crate) smp: SmpState,
}

/// Result of handling a received Data message.
#[derive(Debug)]
pub struct Opened {
    /// The human-readable part (may be empty).
    pub text: Vec<u8>,
    /// TLVs other than padding.
    pub tlvs: Vec<Tlv>,
    /// A TLV 1 (disconnect) was received: the session is now Finished.
    pub disconnected: bool,
    /// The extra symmetric key of the keys used.
    pub extra_key: [u8; 32],
}

impl Session {
    /// Bytes of a fragmented message held until its last piece arrives.
    pub fn buffered_fragments(&self) -> usize {
        self.fragments.buffered()
    }

    /// True while encrypted.
    pub fn is_encrypted(&self) -> bool {
        matches!(self.msg, MsgState::Encrypted(_))
    }

    /// The secure data, if encrypted.
    pub fn secure(&self) -> Option<&Secure> {
        match &self.msg {
            MsgState::Encrypted(s) => Some(s),
            _ => None,
        }
    }

    /// Enters the encrypted state after an AKE; returns true when it already was encrypted.
    /// A running SMP exchange ends here: its secret is bound to the old session id, so it could
    /// only fail (and a new one started at once by the peer would collide with it).
    pub fn establish(&mut self, est: Established) -> bool {
        let was = self.is_encrypted();
        self.smp.reset();
        let secure = Secure {
            version: est.version,
            ssid: est.ssid,
            we_committed: est.we_committed,
            fingerprint: est.fingerprint,
            data: DataState::new(est),
        };
        self.msg = MsgState::Encrypted(Box::new(secure));
        was
    }

    /// Encrypts a message with TLVs into an armored Data message.
    pub fn seal(
        &mut self,
        tags: (u32, u32),
        flags: u8,
        text: &[u8],
        tlvs: &[Tlv],
        now: u64,
    ) -> Result<(Version, String)> {
        let MsgState::Encrypted(s) = &mut self.msg else {
            return Err(OtrError::Malformed("session not encrypted"));
        };
        let header = Header {
            version: s.version,
            sender: tags.0,
            receiver: tags.1,
        };
        let plain = zeroize::Zeroizing::new(tlv::join(text, tlvs));
        let d = s.data.encrypt(header, flags, &plain)?;
        self.last_sent = now;
        Ok((
            s.version,
            armor(
                &Message {
                    header,
                    body: Body::Data(d),
                }
                .encode(),
            ),
        ))
    }

    /// Authenticates and decrypts a Data message; TLV 1 finishes the session.
    pub fn open(&mut self, d: &DataMessage, now: u64) -> Result<Opened> {
        let MsgState::Encrypted(s) = &mut self.msg else {
            return Err(OtrError::Malformed("session not encrypted"));
        };
        let Received {
            plaintext,
            extra_key,
        } = s.data.decrypt(d)?;
        self.last_recv = now;
        let (text, all) = tlv::split(&plaintext);
        let disconnected = all.iter().any(|t| t.kind == tlv::DISCONNECTED);
        let tlvs = all
            .into_iter()
            .filter(|t| t.kind != tlv::PADDING && t.kind != tlv::DISCONNECTED)
            .collect();
        let text = text.to_vec();
        if disconnected {
            self.msg = MsgState::Finished;
            self.smp.reset();
        }
        Ok(Opened {
            text,
            tlvs,
            disconnected,
            extra_key,
        })
    }

    /// The extra symmetric key of the keys the next sent message will use.
    pub fn sending_extra_key(&mut self) -> Result<[u8; 32]> {
        match &mut self.msg {
            MsgState::Encrypted(s) => s.data.sending_extra_key(),
            _ => Err(OtrError::Malformed("session not encrypted")),
        }
    }

    /// True when a heartbeat should answer a data message received at `now`.
    pub fn wants_heartbeat(&self, now: u64) -> bool {
        self.is_encrypted() && self.last_sent.saturating_add(HEARTBEAT_INTERVAL) < now
    }

    /// Rank for choosing the best session like libotr's OTRL_INSTAG_BEST.
    pub fn rank(&self, trusted: bool) -> (u8, bool, u64) {
        let state = match self.msg {
            MsgState::Encrypted(_) => 2,
            MsgState::Finished => 1,
            MsgState::Plaintext => 0,
        };
        (state, trusted, self.last_recv)
    }
}
