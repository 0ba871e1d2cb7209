//! The bot's two OMEMO devices: the **true** one, whose fingerprint the course page shows (it
//! reads the learners' messages and answers them), and the **impostor**, listed and published
//! beside it so that learners can refuse it. The impostor is mute: it never sends, decrypts or
//! answers anything, because a single key exchange from it makes a client that refused it
//! encrypt for it again (seen in Profanity: docs/omemo-clients.md). Both are made once and
//! stored; the true device's one-time prekeys are replaced (and it is stored and its bundle
//! republished) as learners use them.

use std::sync::Mutex;

use omemo::{Account, Bundle, Decrypted, Encrypted, OsRandom, Session};

use crate::store::{OmemoRole, SecretBytes, Store};
use crate::xmpp::omemo as elements;

/// Why the bot's OMEMO devices could not be loaded, made or used.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] crate::store::Error),
    /// A stored device does not decode (or a new one does not encode).
    #[error("the stored OMEMO device: {0}")]
    Codec(String),
    /// The OMEMO engine refused (or the OS random number generator failed).
    #[error("OMEMO: {0}")]
    Omemo(#[from] omemo::OmemoError),
}

/// How old the true device's signed prekey may grow before it is replaced at start (30 days,
/// as Conversations does; the last three are kept for late first messages).
const SIGNED_PRE_KEY_MAX_AGE: u64 = 30 * 24 * 3600;

fn encode(account: &Account) -> Result<SecretBytes, DeviceError> {
    bincode::serde::encode_to_vec(account, bincode::config::standard())
        .map(SecretBytes::new)
        .map_err(|e| DeviceError::Codec(e.to_string()))
}

fn decode(bytes: &SecretBytes) -> Result<Account, DeviceError> {
    bincode::serde::decode_from_slice(bytes.expose(), bincode::config::standard())
        .map(|(a, _)| a)
        .map_err(|e| DeviceError::Codec(e.to_string()))
}

/// Where the true device is written whenever it changes (the store, or nowhere in tests).
pub type Persist = Box<dyn Fn(&SecretBytes) -> Result<(), crate::store::Error> + Send + Sync>;

/// The bot's devices, shared by all learners' turns.
pub struct Devices {
    true_device: Mutex<Account>,
    impostor: Account,
    persist: Persist,
    /// Both fingerprints as hex, true first (identity keys never change).
    fingerprints: Vec<String>,
}

/// A decrypted message, and the true device's new bundle when it used a one-time prekey
/// (publish it).
pub struct Opened {
    /// The message and the session to keep.
    pub decrypted: Decrypted,
    /// The new publication, after a one-time prekey was used and replaced.
    pub republish: Option<elements::Publication>,
}

impl Devices {
    /// Both devices from `store`, each made (a random device id, identity key, signed prekey
    /// and 100 one-time prekeys) and stored the first time; an old signed prekey is rotated.
    pub fn load_or_create(store: &Store, now: u64) -> Result<Devices, DeviceError> {
        let load = |role| -> Result<Account, DeviceError> {
            let bytes = store.omemo_device_of(role, || {
                let rng = &mut OsRandom;
                let made = Account::random_device_id(rng)
                    .and_then(|id| Account::generate(id, now, rng))?;
                encode(&made)
            })?;
            decode(&bytes)
        };
        let true_device = load(OmemoRole::True)?;
        let impostor = load(OmemoRole::Impostor)?;
        let store = store.clone();
        let devices = Devices::new(
            true_device,
            impostor,
            Box::new(move |b| store.put_omemo_device(b)),
        );
        devices.rotate_if_due(now)?;
        Ok(devices)
    }

    /// Replaces the true device's signed prekey when it is 30 days old: stored, then the new
    /// bundle to publish (the running bot asks every hour; the last three are kept).
    pub fn rotate_if_due(&self, now: u64) -> Result<Option<elements::Publication>, DeviceError> {
        let mut account = self.account();
        if !account.signed_pre_key_due(now, SIGNED_PRE_KEY_MAX_AGE) {
            return Ok(None);
        }
        let mut rotated = account.clone();
        rotated.rotate_signed_pre_key(now, &mut OsRandom)?;
        (self.persist)(&encode(&rotated)?)?;
        *account = rotated;
        Ok(Some(elements::Publication {
            ids: vec![account.device_id(), self.impostor.device_id()],
            bundles: vec![(account.device_id(), account.bundle())],
        }))
    }

    /// Devices from accounts already made (tests), written to `persist` when they change.
    pub fn new(true_device: Account, impostor: Account, persist: Persist) -> Devices {
        let fingerprints = vec![
            true_device.fingerprint().hex(),
            impostor.fingerprint().hex(),
        ];
        Devices {
            true_device: Mutex::new(true_device),
            impostor,
            persist,
            fingerprints,
        }
    }

    fn account(&self) -> std::sync::MutexGuard<'_, Account> {
        // A panic elsewhere while holding the lock leaves a consistent account: every change
        // is made on a copy first (omemo::decrypt).
        self.true_device.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The true device's id.
    pub fn true_id(&self) -> u32 {
        self.account().device_id()
    }

    /// The impostor's id.
    pub fn impostor_id(&self) -> u32 {
        self.impostor.device_id()
    }

    /// The true device's fingerprint (the course page shows it).
    pub fn true_fingerprint(&self) -> omemo::Fingerprint {
        self.account().fingerprint()
    }

    /// Both fingerprints as hex, true first (to recognise one typed into the chat).
    pub fn fingerprints(&self) -> &[String] {
        &self.fingerprints
    }

    /// What the bot publishes: the device list naming both, and both bundles.
    pub fn publication(&self) -> elements::Publication {
        let t = self.account();
        elements::Publication {
            ids: vec![t.device_id(), self.impostor.device_id()],
            bundles: vec![
                (t.device_id(), t.bundle()),
                (self.impostor.device_id(), self.impostor.bundle()),
            ],
        }
    }

    /// What to publish again when the account's device list, as the server now has it, is
    /// `listed`: `None` when it names both devices; else the list with both first and the
    /// other devices kept (another client of this account may have replaced it), and bundles.
    pub fn publication_unless_listed(&self, listed: &[u32]) -> Option<elements::Publication> {
        let mut p = self.publication();
        if p.ids.iter().all(|id| listed.contains(id)) {
            return None;
        }
        for id in listed {
            if !p.ids.contains(id) && p.ids.len() < elements::MAX_DEVICES {
                p.ids.push(*id);
            }
        }
        Some(p)
    }

    /// Decrypts `message` with the true device and `session` (the one with its sender, if
    /// any). When a one-time prekey was used, the device is stored (durably) before this
    /// returns and its new bundle is to be published.
    pub fn decrypt(
        &self,
        session: Option<&Session>,
        message: &Encrypted,
    ) -> Result<Opened, DeviceError> {
        let mut account = self.account();
        // Only a key exchange for this device can change it (a one-time prekey used).
        let starts_session = message
            .key_for(account.device_id())
            .is_some_and(|k| k.prekey);
        let before = starts_session.then(|| account.clone());
        let decrypted = omemo::decrypt(&mut account, session, message, &mut OsRandom)?;
        let republish = match decrypted.used_pre_key {
            Some(_) => {
                if let Err(e) = encode(&account).and_then(|b| Ok((self.persist)(&b)?)) {
                    // Not stored: the prekey stays usable, so the message is refused too.
                    if let Some(before) = before {
                        *account = before;
                    }
                    return Err(e);
                }
                Some(elements::Publication {
                    ids: vec![account.device_id(), self.impostor.device_id()],
                    bundles: vec![(account.device_id(), account.bundle())],
                })
            }
            None => None,
        };
        Ok(Opened {
            decrypted,
            republish,
        })
    }

    /// Encrypts `body` from the true device for each `(device id, session)`; the sessions
    /// move forward: store them before sending.
    pub fn encrypt(
        &self,
        recipients: &mut [(u32, &mut Session)],
        body: &[u8],
    ) -> Result<Encrypted, DeviceError> {
        let account = self.account();
        Ok(omemo::encrypt(
            &account,
            recipients,
            Some(body),
            &mut OsRandom,
        )?)
    }

    /// A new session of the true device with the device that published `bundle`.
    pub fn start_session(&self, bundle: &Bundle) -> Result<Session, DeviceError> {
        Ok(self.account().start_session(bundle, &mut OsRandom)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_used_one_time_prekey_is_stored_as_used_before_the_message_counts() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let devices = Devices::load_or_create(&store, 0).unwrap();
        let published = devices.publication();
        assert_eq!(published.ids, [devices.true_id(), devices.impostor_id()]);
        let (tid, bundle) = published.bundles[0].clone();

        // A learner's device starts a session from the true device's bundle and writes.
        let rng = &mut OsRandom;
        let learner = Account::generate(4242, 0, rng).unwrap();
        let mut session = learner.start_session(&bundle, rng).unwrap();
        let first = omemo::encrypt(&learner, &mut [(tid, &mut session)], Some(b"hi"), rng).unwrap();
        let opened = devices.decrypt(None, &first).unwrap();
        assert_eq!(opened.decrypted.body.as_deref(), Some(&b"hi"[..]));
        let republished = opened.republish.expect("a one-time prekey was used");
        let used: Vec<u32> = bundle
            .pre_keys
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| {
                !republished.bundles[0]
                    .1
                    .pre_keys
                    .iter()
                    .any(|(i, _)| i == id)
            })
            .collect();
        assert_eq!(used.len(), 1, "exactly the used prekey left the bundle");

        // A crash now: the devices as the store has them. The used prekey is gone for good:
        // not published again, and the same key exchange is refused.
        drop(devices);
        let again = Devices::load_or_create(&store, 0).unwrap();
        let bundle_again = &again.publication().bundles[0].1;
        assert!(!bundle_again.pre_keys.iter().any(|(id, _)| *id == used[0]));
        assert_eq!(
            bundle_again.pre_keys.len(),
            bundle.pre_keys.len(),
            "replaced"
        );
        assert!(again.decrypt(None, &first).is_err());
        assert_eq!(
            again.true_fingerprint(),
            Devices::load_or_create(&store, 0)
                .unwrap()
                .true_fingerprint()
        );
    }

    #[test]
    fn the_signed_prekey_is_rotated_when_due_stored_and_the_old_one_still_opens_late_messages() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let devices = Devices::load_or_create(&store, 0).unwrap();
        let (tid, old_bundle) = devices.publication().bundles[0].clone();
        let day = 24 * 3600;
        assert!(devices.rotate_if_due(29 * day).unwrap().is_none());
        let new = devices
            .rotate_if_due(31 * day)
            .unwrap()
            .expect("due after 30 days");
        let new_bundle = &new.bundles[0].1;
        assert_ne!(new_bundle.signed_pre_key_id, old_bundle.signed_pre_key_id);
        assert!(devices.rotate_if_due(32 * day).unwrap().is_none(), "once");
        // Stored: a restart publishes the new one.
        let again = Devices::load_or_create(&store, 32 * day).unwrap();
        assert_eq!(
            again.publication().bundles[0].1.signed_pre_key_id,
            new_bundle.signed_pre_key_id
        );
        // A learner who fetched the old bundle before the rotation is still read.
        let rng = &mut OsRandom;
        let learner = Account::generate(777, 0, rng).unwrap();
        let mut session = learner.start_session(&old_bundle, rng).unwrap();
        let m = omemo::encrypt(&learner, &mut [(tid, &mut session)], Some(b"late"), rng).unwrap();
        assert!(again.decrypt(None, &m).is_ok());
    }
}
