//! The XMPP client connection (tokio-xmpp): TLS, roster, presence, messages.

pub mod avatar;
pub mod connector;
pub mod disco;
pub mod jid;
pub mod link;
pub mod login;
pub mod omemo;
pub mod pep;
mod redact;
pub mod stanza;
pub mod stream;
pub mod tls;
