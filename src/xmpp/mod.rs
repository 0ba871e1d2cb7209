//! The XMPP client connection (tokio-xmpp): TLS, roster, presence, messages.

pub mod avatar;
pub mod conn;
pub mod connection;
pub mod connector;
pub mod jid;
pub mod login;
mod redact;
pub mod stanza;
pub mod tls;
