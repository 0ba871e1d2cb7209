//! One Double Ratchet session state (libsignal's `SessionState`): the root key, the sending
//! chain, the last few receiving chains and a bounded store of skipped message keys.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::cbc;
use crate::error::{OmemoError, Result};
use crate::kdf::{ChainKey, MessageKeys, RootKey};
use crate::keys::{KeyPair, PublicKey};
use crate::random::Random;
use crate::wire::{CiphertextMessage, PreKeySignalMessage, SignalMessage};

/// Receiving chains kept per session state (libsignal keeps 5).
pub const MAX_RECEIVER_CHAINS: usize = 5;
/// Message keys skipped in one message at most (python-oldmemo's default limit).
pub const MAX_SKIP: u32 = 1000;
/// Skipped message keys kept per session state; the oldest go first.
pub const MAX_SKIPPED_KEYS: usize = 1000;

#[derive(Clone, Serialize, Deserialize)]
struct SenderChain {
    ratchet: KeyPair,
    chain_key: ChainKey,
}

#[derive(Clone, Serialize, Deserialize)]
struct ReceiverChain {
    ratchet_key: PublicKey,
    chain_key: ChainKey,
}

#[derive(Clone, Serialize, Deserialize)]
struct SkippedKey {
    ratchet_key: PublicKey,
    keys: MessageKeys,
}

/// The X3DH parameters an initiator repeats until the responder answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingPreKey {
    /// The responder's one-time prekey used, if any.
    pub pre_key_id: Option<u32>,
    /// The responder's signed prekey used.
    pub signed_pre_key_id: u32,
    /// Our X3DH base key.
    pub base_key: PublicKey,
}

/// One session state; see the module documentation.
#[derive(Clone, Serialize, Deserialize)]
pub struct SessionState {
    local_identity: PublicKey,
    remote_identity: PublicKey,
    root_key: RootKey,
    sender: SenderChain,
    receivers: VecDeque<ReceiverChain>,
    skipped: VecDeque<SkippedKey>,
    previous_counter: u32,
    pending: Option<PendingPreKey>,
    /// The initiator's base key: a second `PreKeySignalMessage` of this session carries it.
    base_key: PublicKey,
}

impl SessionState {
    /// The initiator's state after X3DH: a receiving chain on their signed prekey with the
    /// X3DH chain key, and a sending chain from a first ratchet step with a new key.
    pub(crate) fn initiator(
        local_identity: PublicKey,
        remote_identity: PublicKey,
        x3dh: (RootKey, ChainKey),
        their_signed_prekey: PublicKey,
        pending: PendingPreKey,
        rng: &mut dyn Random,
    ) -> Result<Self> {
        let (root, chain) = x3dh;
        let ratchet = KeyPair::generate(rng)?;
        let (root_key, sending) = root.create_chain(&their_signed_prekey, ratchet.secret())?;
        Ok(SessionState {
            local_identity,
            remote_identity,
            root_key,
            sender: SenderChain {
                ratchet,
                chain_key: sending,
            },
            receivers: VecDeque::from([ReceiverChain {
                ratchet_key: their_signed_prekey,
                chain_key: chain,
            }]),
            skipped: VecDeque::new(),
            previous_counter: 0,
            base_key: pending.base_key,
            pending: Some(pending),
        })
    }

    /// The responder's state after X3DH: sending on the signed prekey with the X3DH chain key.
    pub(crate) fn responder(
        local_identity: PublicKey,
        remote_identity: PublicKey,
        x3dh: (RootKey, ChainKey),
        our_signed_prekey: KeyPair,
        their_base_key: PublicKey,
    ) -> Self {
        let (root_key, chain_key) = x3dh;
        SessionState {
            local_identity,
            remote_identity,
            root_key,
            sender: SenderChain {
                ratchet: our_signed_prekey,
                chain_key,
            },
            receivers: VecDeque::new(),
            skipped: VecDeque::new(),
            previous_counter: 0,
            pending: None,
            base_key: their_base_key,
        }
    }

    /// The peer's identity key.
    pub fn remote_identity(&self) -> &PublicKey {
        &self.remote_identity
    }

    /// The initiator's X3DH base key of this session.
    pub fn base_key(&self) -> &PublicKey {
        &self.base_key
    }

    /// Whether the peer has not answered yet (our messages still carry the X3DH parameters).
    pub fn pending_prekey(&self) -> Option<&PendingPreKey> {
        self.pending.as_ref()
    }

    /// Encrypts the next message of the sending chain.
    pub(crate) fn encrypt(
        &mut self,
        plaintext: &[u8],
        local_registration_id: u32,
    ) -> Result<CiphertextMessage> {
        let chain = &self.sender.chain_key;
        if chain.index() == u32::MAX {
            return Err(OmemoError::Malformed("sending chain exhausted"));
        }
        let keys = chain.message_keys();
        let message = SignalMessage::new(
            &keys.mac_key,
            &self.local_identity,
            &self.remote_identity,
            self.sender.ratchet.public,
            keys.counter,
            self.previous_counter,
            cbc::encrypt(&keys, plaintext),
        );
        self.sender.chain_key = chain.next();
        Ok(match &self.pending {
            Some(p) => CiphertextMessage::PreKey(PreKeySignalMessage::new(
                local_registration_id,
                p.pre_key_id,
                p.signed_pre_key_id,
                p.base_key,
                self.local_identity,
                message,
            )),
            None => CiphertextMessage::Signal(message),
        })
    }

    /// Decrypts in place; the caller works on a copy and keeps it only on success.
    pub(crate) fn decrypt(
        &mut self,
        message: &SignalMessage,
        rng: &mut dyn Random,
    ) -> Result<Vec<u8>> {
        let keys = self.message_keys(message, rng)?;
        if !message.verify_mac(&keys.mac_key, &self.remote_identity, &self.local_identity) {
            return Err(OmemoError::BadMac);
        }
        let plaintext = cbc::decrypt(&keys, &message.ciphertext)?;
        self.pending = None;
        Ok(plaintext)
    }

    /// The keys for `message`: a stored skipped key, or the receiving chain moved forward
    /// (storing the keys skipped on the way), after a ratchet step for a new ratchet key.
    fn message_keys(
        &mut self,
        message: &SignalMessage,
        rng: &mut dyn Random,
    ) -> Result<MessageKeys> {
        let their = message.ratchet_key;
        let counter = message.counter;
        if counter == u32::MAX {
            // Its chain could go no further (and no sender gets there: ours refuses).
            return Err(OmemoError::Malformed("SignalMessage counter"));
        }
        let position = match self.receivers.iter().position(|r| r.ratchet_key == their) {
            Some(i) => i,
            None => self.ratchet_step(their, rng)?,
        };
        let chain = &self.receivers[position].chain_key;
        if chain.index() > counter {
            let found = self
                .skipped
                .iter()
                .position(|s| s.ratchet_key == their && s.keys.counter == counter);
            return match found {
                Some(i) => Ok(self.skipped.remove(i).expect("found").keys),
                None => Err(OmemoError::DuplicateMessage(counter)),
            };
        }
        let skip = counter - chain.index();
        if skip > MAX_SKIP {
            return Err(OmemoError::TooFarAhead {
                counter,
                skip,
                limit: MAX_SKIP,
            });
        }
        let mut chain = chain.clone();
        while chain.index() < counter {
            if self.skipped.len() == MAX_SKIPPED_KEYS {
                self.skipped.pop_front();
            }
            self.skipped.push_back(SkippedKey {
                ratchet_key: their,
                keys: chain.message_keys(),
            });
            chain = chain.next();
        }
        let keys = chain.message_keys();
        self.receivers[position].chain_key = chain.next();
        Ok(keys)
    }

    /// A Diffie-Hellman ratchet step for their new ratchet key: a receiving chain for it and a
    /// new sending chain with a new key of ours. Returns the receiving chain's position.
    fn ratchet_step(&mut self, their: PublicKey, rng: &mut dyn Random) -> Result<usize> {
        let (root, receiving) = self
            .root_key
            .create_chain(&their, self.sender.ratchet.secret())?;
        let ratchet = KeyPair::generate(rng)?;
        let (root, sending) = root.create_chain(&their, ratchet.secret())?;
        self.root_key = root;
        if self.receivers.len() == MAX_RECEIVER_CHAINS {
            self.receivers.pop_front();
        }
        self.receivers.push_back(ReceiverChain {
            ratchet_key: their,
            chain_key: receiving,
        });
        // The old sending chain's length. (libsignal sends one less, the last index used, and
        // ignores the field when receiving: it keeps old receiving chains instead. A receiver
        // that skips by it, as python-doubleratchet does, would then lose the old chain's last
        // message if it came late; the length serves both.)
        self.previous_counter = self.sender.chain_key.index();
        self.sender = SenderChain {
            ratchet,
            chain_key: sending,
        };
        Ok(self.receivers.len() - 1)
    }
}
