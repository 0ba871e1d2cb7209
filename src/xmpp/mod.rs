//! The XMPP client connection (tokio-xmpp): TLS, roster, presence, messages.

pub mod avatar;
pub mod connector;
pub mod jid;
pub mod link;
pub mod login;
pub mod omemo;
mod redact;
pub mod stanza;
pub mod stream;
pub mod tls;
