//! The OMEMO message (`<encrypted>`) as plain data, and encrypting and decrypting one:
//! the payload sealed once, its key material encrypted with each recipient device's session.

use crate::account::Account;
use crate::error::{OmemoError, Result};
use crate::payload;
use crate::random::{self, Random};
use crate::session::Session;
use crate::wire::CiphertextMessage;

/// One `<key>` element: the key material encrypted for device `rid`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyElement {
    /// The recipient device id.
    pub rid: u32,
    /// Whether `data` is a `PreKeySignalMessage`.
    pub prekey: bool,
    /// The serialised `SignalMessage` or `PreKeySignalMessage`.
    pub data: Vec<u8>,
}

/// An `<encrypted>` element's contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encrypted {
    /// The sending device id.
    pub sid: u32,
    /// One key element per recipient device.
    pub keys: Vec<KeyElement>,
    /// The payload's IV.
    pub iv: Vec<u8>,
    /// The encrypted body; `None` for a key transport (empty) message.
    pub payload: Option<Vec<u8>>,
}

impl Encrypted {
    /// The devices this message was encrypted for, in order.
    pub fn recipients(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys.iter().map(|k| k.rid)
    }

    /// The key element for `device_id`, if the sender encrypted for it.
    pub fn key_for(&self, device_id: u32) -> Option<&KeyElement> {
        self.keys.iter().find(|k| k.rid == device_id)
    }
}

/// Encrypts `body` (or, with `None`, an empty key transport message) from `account` for each
/// `(device id, session)`. Every session moves forward: store them before sending.
pub fn encrypt(
    account: &Account,
    recipients: &mut [(u32, &mut Session)],
    body: Option<&[u8]>,
    rng: &mut dyn Random,
) -> Result<Encrypted> {
    let (key_material, iv, payload) = match body {
        Some(body) => {
            let sealed = payload::seal(body, rng)?;
            (
                sealed.key_material,
                sealed.iv.to_vec(),
                Some(sealed.ciphertext),
            )
        }
        None => (
            zeroize::Zeroizing::new(random::bytes::<32>(rng)?),
            random::bytes::<12>(rng)?.to_vec(),
            None,
        ),
    };
    let mut keys = Vec::with_capacity(recipients.len());
    for (rid, session) in recipients.iter_mut() {
        let message = session.encrypt(key_material.as_ref(), account.device_id())?;
        keys.push(KeyElement {
            rid: *rid,
            prekey: message.is_prekey(),
            data: message.serialized().to_vec(),
        });
    }
    Ok(Encrypted {
        sid: account.device_id(),
        keys,
        iv,
        payload,
    })
}

/// A decrypted message and the session state to store.
pub struct Decrypted {
    /// The body; `None` for a key transport message.
    pub body: Option<Vec<u8>>,
    /// The session with the sender's device, moved forward (or new).
    pub session: Session,
    /// Whether the message started a session (a `PreKeySignalMessage`).
    pub prekey: bool,
    /// The one-time prekey it used and `account` removed: republish the bundle.
    pub used_pre_key: Option<u32>,
}

/// Decrypts `message` for `account` with `session`, the one we have with the sender's device
/// (if any). On error nothing changes; on success `account` may have lost a one-time prekey
/// (see [`Decrypted::used_pre_key`]), and both must be stored.
pub fn decrypt(
    account: &mut Account,
    session: Option<&Session>,
    message: &Encrypted,
    rng: &mut dyn Random,
) -> Result<Decrypted> {
    let key = message
        .key_for(account.device_id())
        .ok_or(OmemoError::NotForThisDevice(account.device_id()))?;
    let (session, key_material, used_pre_key) =
        match CiphertextMessage::parse(&key.data, key.prekey)? {
            CiphertextMessage::PreKey(m) => {
                // Account::accept changes the account only on success: try it on a copy.
                let mut copy = account.clone();
                let accepted = copy.accept(session, &m, rng)?;
                let body = zeroize::Zeroizing::new(accepted.plaintext);
                let opened = open(&body, message)?;
                *account = copy;
                return Ok(Decrypted {
                    body: opened,
                    session: accepted.session,
                    prekey: true,
                    used_pre_key: accepted.used_pre_key,
                });
            }
            CiphertextMessage::Signal(m) => {
                let mut session = session.cloned().ok_or(OmemoError::NoSession)?;
                let key_material = zeroize::Zeroizing::new(session.decrypt(&m, rng)?);
                (session, key_material, None)
            }
        };
    let body = open(&key_material, message)?;
    Ok(Decrypted {
        body,
        session,
        prekey: false,
        used_pre_key,
    })
}

fn open(key_material: &[u8], message: &Encrypted) -> Result<Option<Vec<u8>>> {
    match &message.payload {
        Some(payload) => payload::open(key_material, &message.iv, payload).map(Some),
        None => Ok(None),
    }
}
