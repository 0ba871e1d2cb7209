//! Stanzas to and from the bot's own vocabulary: chat messages, chat states, subscriptions,
//! presence and roster pushes. Pure conversions, bounded sizes: [`parse`] reads, [`build`] writes.

use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::chatstates::ChatState;
use tokio_xmpp::parsers::roster::Subscription;

mod build;
mod parse;

pub use build::outgoing;
pub use parse::{incoming, ROSTER_GET_ID};

/// The largest message body handed to the bot, in bytes; longer ones are refused.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the bot hears.
#[derive(Clone, PartialEq)]
pub enum Incoming {
    /// A chat (or normal) message with a body.
    Chat {
        /// The full JID it came from.
        from: Jid,
        /// The best body (not necessarily the one without xml:lang).
        body: String,
    },
    /// A message whose body is larger than [`MAX_BODY_BYTES`].
    TooLarge {
        /// The full JID it came from.
        from: Jid,
        /// Its size in bytes.
        bytes: usize,
    },
    /// A chat state notification without a body.
    ChatState {
        /// Who is typing (or not).
        from: Jid,
        /// The state.
        state: ChatState,
    },
    /// Someone asks to see the bot's presence.
    SubscribeRequest {
        /// The contact.
        from: BareJid,
    },
    /// Someone let the bot see their presence.
    Subscribed {
        /// The contact.
        from: BareJid,
    },
    /// Someone stopped or refused a subscription.
    Unsubscribed {
        /// The contact.
        from: BareJid,
    },
    /// A contact's resource came online.
    Available {
        /// The full JID.
        from: Jid,
    },
    /// A contact's resource went offline.
    Unavailable {
        /// The full JID.
        from: Jid,
    },
    /// The server pushes a roster change; it must be acknowledged.
    RosterPush {
        /// The iq id to answer.
        id: String,
        /// The changed items: JID and subscription state.
        items: Vec<(BareJid, Subscription)>,
    },
    /// The answer to our roster request.
    Roster {
        /// Every item: JID and subscription state.
        items: Vec<(BareJid, Subscription)>,
    },
    /// An OMEMO 0.3 message (its `<encrypted>` element as the omemo crate's data).
    Omemo {
        /// The full JID it came from.
        from: Jid,
        /// The message.
        message: Box<omemo::Encrypted>,
        /// Its plain-text fallback body, if any (what a client without OMEMO shows).
        body: Option<String>,
    },
    /// A contact published its OMEMO device list (a PEP notification).
    DeviceList {
        /// The contact.
        from: BareJid,
        /// The device ids.
        ids: Vec<u32>,
    },
    /// The answer to one of our PEP queries: the items' payloads, or the error.
    PepAnswer {
        /// The query's iq id.
        id: String,
        /// The payloads, or what went wrong.
        answer: Result<Vec<Element>, String>,
    },
    /// Anything the bot ignores (errors, headlines, other iqs).
    Ignored,
}

/// What the bot says.
#[derive(Clone, PartialEq)]
pub enum Outgoing {
    /// A chat message, plain text.
    Chat {
        /// The recipient (full JID when known, so OTR reaches the right client).
        to: Jid,
        /// The body.
        body: String,
    },
    /// A chat state notification (typing).
    ChatState {
        /// The recipient.
        to: Jid,
        /// The state.
        state: ChatState,
    },
    /// Ask to see a contact's presence.
    Subscribe(BareJid),
    /// Allow a contact to see the bot's presence.
    Subscribed(BareJid),
    /// Refuse or revoke a contact's subscription.
    Unsubscribed(BareJid),
    /// Stop seeing a contact's presence.
    Unsubscribe(BareJid),
    /// The bot's own presence to all, with an optional status text.
    Available {
        /// The status message.
        status: Option<String>,
    },
    /// The bot's last word to one contact: a directed unavailable presence with a status text.
    UnavailableTo {
        /// The contact.
        to: BareJid,
        /// The status message.
        status: String,
    },
    /// Ask for the roster (this also makes the server deliver subscription requests).
    RosterGet,
    /// Add a contact to the roster.
    RosterAdd(BareJid),
    /// Remove a contact from the roster (ending subscriptions both ways).
    RosterRemove(BareJid),
    /// Acknowledge a roster push.
    RosterPushResult {
        /// The push's iq id.
        id: String,
    },
    /// An OMEMO 0.3 chat message with a plain-text fallback body.
    Omemo {
        /// The recipient.
        to: Jid,
        /// The message.
        message: Box<omemo::Encrypted>,
        /// What a client without OMEMO shows.
        fallback: String,
    },
    /// Ask `to`'s PEP service for the items of `node` (a device list or a bundle).
    PepGet {
        /// The iq id (starts with [`super::omemo::QUERY_ID_PREFIX`]).
        id: String,
        /// The account.
        to: BareJid,
        /// The node.
        node: String,
    },
}
