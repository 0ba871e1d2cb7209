//! The account side of one device: its id, identity key, signed prekey (rotated) and
//! one-time prekeys (each used once, then replaced); starting sessions from others' bundles
//! and accepting the `PreKeySignalMessage`s that start sessions with us.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::bundle::Bundle;
use crate::error::{OmemoError, Result};
use crate::keys::{Fingerprint, KeyPair, PublicKey, SecretKey};
use crate::random::{self, Random};
use crate::session::{PendingPreKey, Session, SessionState};
use crate::wire::PreKeySignalMessage;
use crate::{x3dh, xeddsa};

/// One-time prekeys a bundle keeps (XEP-0384 v0.3: at least 100).
pub const PRE_KEY_COUNT: usize = 100;
/// Signed prekeys kept after rotation, so that late first messages still decrypt.
pub const SIGNED_PRE_KEYS_KEPT: usize = 3;
/// The largest prekey id (libsignal's `Medium.MAX_VALUE`); ids wrap to 1 after it.
const MAX_PRE_KEY_ID: u32 = 0x00ff_ffff;

/// A signed prekey with its signature and the time it was made (seconds, from the caller).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignedPreKey {
    /// Its id.
    pub id: u32,
    /// The key pair.
    pub key: KeyPair,
    /// XEdDSA signature of the serialised public key under the identity key.
    pub signature: Vec<u8>,
    /// When it was made, in the caller's clock (Unix seconds).
    pub created: u64,
}

/// One device of ours, as plain data the application stores.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Account {
    device_id: u32,
    identity: KeyPair,
    /// Newest last.
    signed_pre_keys: VecDeque<SignedPreKey>,
    pre_keys: BTreeMap<u32, KeyPair>,
    next_pre_key_id: u32,
}

/// A session started from a received `PreKeySignalMessage`.
pub struct Accepted {
    /// The session (new, or the existing one if the message belonged to it).
    pub session: Session,
    /// The decrypted `SignalMessage` inside.
    pub plaintext: Vec<u8>,
    /// The one-time prekey used and removed; the bundle changed and should be republished.
    pub used_pre_key: Option<u32>,
}

impl Account {
    /// A new device: identity key, a signed prekey and [`PRE_KEY_COUNT`] one-time prekeys.
    pub fn generate(device_id: u32, now: u64, rng: &mut dyn Random) -> Result<Self> {
        let mut account = Account {
            device_id,
            identity: KeyPair::generate(rng)?,
            signed_pre_keys: VecDeque::new(),
            pre_keys: BTreeMap::new(),
            next_pre_key_id: 1,
        };
        account.rotate_signed_pre_key(now, rng)?;
        account.refill_pre_keys(rng)?;
        Ok(account)
    }

    /// A device from existing keys (an import, or known-answer tests): the identity, one
    /// signed prekey with its signature, and one-time prekeys by id.
    pub fn from_keys(
        device_id: u32,
        identity: SecretKey,
        signed_pre_key: SignedPreKey,
        pre_keys: Vec<(u32, SecretKey)>,
    ) -> Self {
        let next_pre_key_id = pre_keys
            .iter()
            .map(|(id, _)| id % MAX_PRE_KEY_ID + 1)
            .max()
            .unwrap_or(1);
        Account {
            device_id,
            identity: KeyPair::from_secret(identity),
            signed_pre_keys: VecDeque::from([signed_pre_key]),
            pre_keys: pre_keys
                .into_iter()
                .map(|(id, k)| (id, KeyPair::from_secret(k)))
                .collect(),
            next_pre_key_id,
        }
    }

    /// A random device id in 1..2^31, as clients choose them.
    pub fn random_device_id(rng: &mut dyn Random) -> Result<u32> {
        loop {
            let id = u32::from_be_bytes(random::bytes::<4>(rng)?) & 0x7fff_ffff;
            if id != 0 {
                return Ok(id);
            }
        }
    }

    /// This device's id.
    pub fn device_id(&self) -> u32 {
        self.device_id
    }

    /// The identity public key.
    pub fn identity_key(&self) -> &PublicKey {
        &self.identity.public
    }

    /// The identity key's fingerprint, as clients show it.
    pub fn fingerprint(&self) -> Fingerprint {
        self.identity.public.fingerprint()
    }

    /// The current signed prekey.
    pub fn signed_pre_key(&self) -> &SignedPreKey {
        self.signed_pre_keys
            .back()
            .expect("an account always has a signed prekey")
    }

    /// How many one-time prekeys are left.
    pub fn pre_key_count(&self) -> usize {
        self.pre_keys.len()
    }

    /// The bundle to publish.
    pub fn bundle(&self) -> Bundle {
        let spk = self.signed_pre_key();
        Bundle {
            identity_key: self.identity.public,
            signed_pre_key_id: spk.id,
            signed_pre_key: spk.key.public,
            signed_pre_key_signature: spk.signature.clone(),
            pre_keys: self
                .pre_keys
                .iter()
                .map(|(id, k)| (*id, k.public))
                .collect(),
        }
    }

    /// Makes a new signed prekey current (keeping the last few); republish the bundle.
    pub fn rotate_signed_pre_key(&mut self, now: u64, rng: &mut dyn Random) -> Result<()> {
        let id = self
            .signed_pre_keys
            .back()
            .map_or(1, |k| k.id % MAX_PRE_KEY_ID + 1);
        let key = KeyPair::generate(rng)?;
        let z = zeroize::Zeroizing::new(random::bytes::<64>(rng)?);
        let signature = xeddsa::sign(self.identity.secret(), &key.public.serialize(), &z).to_vec();
        self.signed_pre_keys.push_back(SignedPreKey {
            id,
            key,
            signature,
            created: now,
        });
        while self.signed_pre_keys.len() > SIGNED_PRE_KEYS_KEPT {
            self.signed_pre_keys.pop_front();
        }
        Ok(())
    }

    /// Whether the current signed prekey is at least `max_age` seconds old at `now`.
    pub fn signed_pre_key_due(&self, now: u64, max_age: u64) -> bool {
        now.saturating_sub(self.signed_pre_key().created) >= max_age
    }

    /// Makes one-time prekeys until there are [`PRE_KEY_COUNT`]; returns how many were made.
    pub fn refill_pre_keys(&mut self, rng: &mut dyn Random) -> Result<usize> {
        let mut made = 0;
        while self.pre_keys.len() < PRE_KEY_COUNT {
            let id = self.next_pre_key_id;
            self.next_pre_key_id = id % MAX_PRE_KEY_ID + 1;
            if self.pre_keys.contains_key(&id) {
                continue;
            }
            self.pre_keys.insert(id, KeyPair::generate(rng)?);
            made += 1;
        }
        Ok(made)
    }

    /// Starts a session with the device whose bundle this is: checks the signature, picks
    /// one of its one-time prekeys at random and runs X3DH as the initiator.
    pub fn start_session(&self, bundle: &Bundle, rng: &mut dyn Random) -> Result<Session> {
        bundle.verify()?;
        let one_time = match bundle.pre_keys.len() {
            0 => None,
            n => {
                let pick = u32::from_be_bytes(random::bytes::<4>(rng)?) as usize % n;
                Some(bundle.pre_keys[pick])
            }
        };
        let base_key = KeyPair::generate(rng)?;
        let secrets = x3dh::initiator(
            &self.identity,
            &base_key,
            &bundle.identity_key,
            &bundle.signed_pre_key,
            one_time.as_ref().map(|(_, k)| k),
        )?;
        let pending = PendingPreKey {
            pre_key_id: one_time.map(|(id, _)| id),
            signed_pre_key_id: bundle.signed_pre_key_id,
            base_key: base_key.public,
        };
        let state = SessionState::initiator(
            self.identity.public,
            bundle.identity_key,
            secrets,
            bundle.signed_pre_key,
            pending,
            rng,
        )?;
        Ok(Session::new(state))
    }

    /// Accepts a `PreKeySignalMessage` from a device we may already have a session with.
    ///
    /// A repeat of a session's first messages (same base key) decrypts with that session.
    /// Otherwise X3DH as the responder makes a new state, which replaces the current one
    /// (archived) once the inner message decrypts; only then is the one-time prekey removed
    /// and replaced. On error nothing changes.
    pub fn accept(
        &mut self,
        existing: Option<&Session>,
        message: &PreKeySignalMessage,
        rng: &mut dyn Random,
    ) -> Result<Accepted> {
        if let Some(session) = existing {
            if let Some(index) = session.state_with_base_key(&message.base_key) {
                let mut session = session.clone();
                let plaintext = session.decrypt_with(index, &message.message, rng)?;
                return Ok(Accepted {
                    session,
                    plaintext,
                    used_pre_key: None,
                });
            }
        }
        let signed = self
            .signed_pre_keys
            .iter()
            .find(|k| k.id == message.signed_pre_key_id)
            .ok_or(OmemoError::UnknownSignedPreKey(message.signed_pre_key_id))?;
        let one_time = match message.pre_key_id {
            Some(id) => Some(
                self.pre_keys
                    .get(&id)
                    .ok_or(OmemoError::UnknownPreKey(id))?,
            ),
            None => None,
        };
        let secrets = x3dh::responder(
            &self.identity,
            &signed.key,
            one_time,
            &message.identity_key,
            &message.base_key,
        )?;
        let mut state = SessionState::responder(
            self.identity.public,
            message.identity_key,
            secrets,
            signed.key.clone(),
            message.base_key,
        );
        let plaintext = state.decrypt(&message.message, rng)?;
        let session = match existing {
            Some(old) => {
                let mut session = old.clone();
                session.replace(state);
                session
            }
            None => Session::new(state),
        };
        if let Some(id) = message.pre_key_id {
            self.pre_keys.remove(&id);
            self.refill_pre_keys(rng)?;
        }
        Ok(Accepted {
            session,
            plaintext,
            used_pre_key: message.pre_key_id,
        })
    }
}
