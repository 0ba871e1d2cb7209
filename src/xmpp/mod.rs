//! The XMPP client connection (tokio-xmpp): TLS, roster, presence, messages.

pub mod connector;
pub mod jid;
pub mod login;
pub mod tls;
