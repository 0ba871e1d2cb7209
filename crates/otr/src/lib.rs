//! Off-the-Record Messaging versions 2 and 3 as a sans-IO library: bytes and events in,
//! bytes and events out, state as plain data the caller stores. No clock reads (the caller
//! passes `now`), no I/O, no runtime.
//!
//! A [`Channel`] is one conversation with one contact (all of its instances); an
//! [`Account`] holds the long-term DSA key, instance tag and [`Policy`]. Every call returns an
//! [`Output`]: the wire messages to send, in order, and the [`Event`]s for the application.
//! [`Channel::poll_timeout`] says when the channel next wants [`Channel::handle_timeout`].
//!
//! ```
//! use otr::{Account, Channel, Policy, PrivateKey};
//! let mut alice = Account::new("alice@example.org", PrivateKey::generate().unwrap()).unwrap();
//! alice.policy = Policy::MANUAL;
//! let mut conversation = Channel::new();
//! // Offer OTR: a query message for the contact.
//! let out = conversation.init(&alice);
//! assert!(out.wire[0].starts_with("?OTR"));
//! ```
#![deny(missing_docs)]
// The README's example is compiled and run as a doc test.
#![doc = include_str!("../README.md")]

pub mod account;
pub mod ake;
pub mod channel;
pub mod crypto;
pub mod data;
pub mod dsa_ops;
pub mod error;
pub mod fragment;
pub mod group;
mod keyed;
pub mod keyfile;
pub mod keygen;
pub mod keys;
pub mod message;
pub mod policy;
pub mod session;
pub mod smp;
pub mod tlv;
pub mod wire;

pub use account::Account;
pub use channel::{Channel, Ended, Event, Offer, Output, Problem};
pub use error::OtrError;
pub use keyfile::{import_libotr, ImportedKey};
pub use keys::{Fingerprint, PrivateKey, PublicKey};
pub use message::Version;
pub use policy::{Policy, Versions};
pub use tlv::Tlv;
