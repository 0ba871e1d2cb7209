//! OMEMO as deployed (XEP-0384 v0.3, namespace `eu.siacs.conversations.axolotl`) as a sans-IO
//! library: libsignal's X3DH, Double Ratchet and wire format with XEdDSA-signed prekeys, and
//! the AES-128-GCM payload. Bytes in, bytes out, state as plain data the caller stores; no
//! clock reads (the caller passes `now`), no I/O, randomness from the caller ([`Random`]).
//!
//! An [`Account`] is one device of ours (identity key, signed and one-time prekeys, its
//! [`Bundle`]); a [`Session`] is the Double Ratchet with one remote device. [`encrypt`] and
//! [`decrypt`] work on an [`Encrypted`] message, the contents of an `<encrypted>` element.
//!
//! ```
//! use omemo::{decrypt, encrypt, Account, OsRandom};
//! let rng = &mut OsRandom;
//! let alice = Account::generate(1001, 0, rng).unwrap();
//! let mut bob = Account::generate(2002, 0, rng).unwrap();
//! // Alice fetched Bob's bundle and device list; she starts a session and writes.
//! let mut session = alice.start_session(&bob.bundle(), rng).unwrap();
//! let sent = encrypt(&alice, &mut [(2002, &mut session)], Some(b"hello".as_slice()), rng).unwrap();
//! // Bob has no session yet: the message carries the X3DH parameters.
//! let got = decrypt(&mut bob, None, &sent, rng).unwrap();
//! assert_eq!(got.body.as_deref(), Some(b"hello".as_slice()));
//! assert!(got.prekey);
//! ```
#![deny(missing_docs)]

pub mod account;
pub mod bundle;
pub mod error;
pub mod kdf;
pub mod keys;
pub mod message;
pub mod payload;
pub mod random;
pub mod session;
pub mod wire;
pub mod x3dh;
pub mod xeddsa;

pub use account::{Accepted, Account, SignedPreKey};
pub use bundle::Bundle;
pub use error::{OmemoError, Result};
pub use keys::{Fingerprint, KeyPair, PublicKey, SecretKey};
pub use message::{decrypt, encrypt, Decrypted, Encrypted, KeyElement};
pub use random::{OsRandom, Random};
pub use session::Session;
pub use wire::{CiphertextMessage, PreKeySignalMessage, SignalMessage};
