//! The XMPP client connection (tokio-xmpp): TLS, roster, presence, messages.

pub mod jid;
