//! otrbot: an XMPP bot that teaches learners to use OTR and SMP, as an LTI tool.
//!
//! The protocol engine (`otr`) and the teaching machine (`lesson`) are crates of their own
//! without I/O (crates/); `bot` owns the rest at run time.

pub mod bot;
pub mod cli;
pub mod clock;
pub mod exit;
pub mod i18n;
pub use lesson;
/// The `tr!`/`trn!` text markers (`otrbot extract` finds them), from the lesson crate.
pub use lesson::{tr, trn};
pub mod logging;
pub mod lti;
pub use otr;
pub mod settings;
pub mod store;
pub mod xmpp;
