//! OTR versions 2 and 3 as a sans-IO library: bytes and events in, bytes and events out.
pub mod account;
pub mod ake;
pub mod channel;
pub mod crypto;
pub mod data;
pub mod dsa_ops;
pub mod error;
pub mod fragment;
pub mod group;
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
pub use channel::{Channel, Ended, Event, Offer, Problem};
pub use error::OtrError;
pub use keyfile::{import_libotr, ImportedKey};
pub use keys::{Fingerprint, PrivateKey, PublicKey};
pub use message::Version;
pub use policy::{Policy, Versions};
pub use tlv::Tlv;
