//! OTR versions 2 and 3 as a sans-IO library: bytes and events in, bytes and events out.
pub mod error;
pub mod fragment;
pub mod group;
pub mod keyfile;
pub mod keys;
pub mod message;
pub mod policy;
pub mod tlv;
pub mod wire;
pub mod ake;
pub mod crypto;
pub mod data;
