//! Shared helpers for integration tests: the libotr test peer and fixture keys.
//!
//! Use from an integration test with `mod support;` and then
//! `use support::libotr::{Peer, Event};` / `support::keys::fixture_key_path("alice")`.
#![allow(dead_code)]

pub mod avatar;
pub mod engine;
pub mod flood;
pub mod keys;
pub mod learner;
pub mod libotr;
pub mod load;
pub mod measure;
pub mod omemo_inproc;
pub mod omemo_learner;
pub mod otrwire;
pub mod process;
pub mod prosody;
pub mod proxy;
pub mod starttls;
pub mod store;
