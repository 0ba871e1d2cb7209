//! The bot's own OMEMO device: made once and kept in the store, so that its fingerprint (the
//! one learners verify) survives restarts; published with PEP at every login.

use omemo::{Account, OsRandom};

use crate::store::{SecretBytes, Store};
use crate::xmpp::omemo as elements;

/// Why the bot's OMEMO device could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] crate::store::Error),
    /// The stored device does not decode (or a new one does not encode).
    #[error("the stored OMEMO device: {0}")]
    Codec(String),
    /// The OS random number generator failed.
    #[error("making the OMEMO device: {0}")]
    Make(#[from] omemo::OmemoError),
}

fn encode(account: &Account) -> Result<SecretBytes, DeviceError> {
    bincode::serde::encode_to_vec(account, bincode::config::standard())
        .map(SecretBytes::new)
        .map_err(|e| DeviceError::Codec(e.to_string()))
}

/// The bot's device, made (a random device id, identity key, signed prekey and 100 one-time
/// prekeys) and stored the first time.
pub fn load_or_create(store: &Store, now: u64) -> Result<Account, DeviceError> {
    let bytes = store.omemo_device(|| {
        let rng = &mut OsRandom;
        let made = Account::random_device_id(rng).and_then(|id| Account::generate(id, now, rng))?;
        encode(&made)
    })?;
    bincode::serde::decode_from_slice(bytes.expose(), bincode::config::standard())
        .map(|(a, _)| a)
        .map_err(|e| DeviceError::Codec(e.to_string()))
}

/// What the bot publishes of its device: a device list naming it, and its bundle.
pub fn publication(account: &Account) -> elements::Publication {
    elements::Publication {
        ids: vec![account.device_id()],
        device: account.device_id(),
        bundle: account.bundle(),
    }
}
