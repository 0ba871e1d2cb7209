//! otrbot: an XMPP bot that teaches learners to use OTR and SMP, as an LTI tool.
//!
//! `otr` and `lesson` are pure (no I/O); `bot` owns the rest at run time.

pub mod bot;
pub mod cli;
pub mod dates;
pub mod exit;
pub mod i18n;
pub mod lesson;
pub mod logging;
pub mod lti;
pub use otr;
pub mod settings;
pub mod store;
pub mod xmpp;
