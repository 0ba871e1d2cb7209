//! `Debug` for the bot's stanza vocabulary without learners' words: chat bodies and status
//! texts appear only when `logging.log_user_msgs` is on (see [`crate::logging::UserText`]).

use super::stanza::{Incoming, Outgoing};
use crate::logging::UserText;
use std::fmt;

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Incoming::Chat { from, body } => f
                .debug_struct("Chat")
                .field("from", from)
                .field("body", &UserText(body))
                .finish(),
            Incoming::TooLarge { from, bytes } => f
                .debug_struct("TooLarge")
                .field("from", from)
                .field("bytes", bytes)
                .finish(),
            Incoming::ChatState { from, state } => f
                .debug_struct("ChatState")
                .field("from", from)
                .field("state", state)
                .finish(),
            Incoming::SubscribeRequest { from } => one(f, "SubscribeRequest", from),
            Incoming::Subscribed { from } => one(f, "Subscribed", from),
            Incoming::Unsubscribed { from } => one(f, "Unsubscribed", from),
            Incoming::Available { from } => one(f, "Available", from),
            Incoming::Unavailable { from } => one(f, "Unavailable", from),
            Incoming::RosterPush { id, items } => f
                .debug_struct("RosterPush")
                .field("id", id)
                .field("items", items)
                .finish(),
            Incoming::Roster { items } => f.debug_struct("Roster").field("items", items).finish(),
            Incoming::Omemo {
                from,
                message,
                body,
            } => f
                .debug_struct("Omemo")
                .field("from", from)
                .field("sid", &message.sid)
                .field("rids", &message.recipients().collect::<Vec<_>>())
                .field("payload", &message.payload.as_ref().map(Vec::len))
                .field("body", &body.as_deref().map(UserText))
                .finish(),
            Incoming::DeviceList { from, ids } => f
                .debug_struct("DeviceList")
                .field("from", from)
                .field("ids", ids)
                .finish(),
            Incoming::PepAnswer { id, answer } => f
                .debug_struct("PepAnswer")
                .field("id", id)
                .field("items", &answer.as_ref().map(Vec::len))
                .finish(),
            Incoming::Ignored => f.write_str("Ignored"),
        }
    }
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outgoing::Chat { to, body } => f
                .debug_struct("Chat")
                .field("to", to)
                .field("body", &UserText(body))
                .finish(),
            Outgoing::ChatState { to, state } => f
                .debug_struct("ChatState")
                .field("to", to)
                .field("state", state)
                .finish(),
            Outgoing::Subscribe(j) => f.debug_tuple("Subscribe").field(j).finish(),
            Outgoing::Subscribed(j) => f.debug_tuple("Subscribed").field(j).finish(),
            Outgoing::Unsubscribed(j) => f.debug_tuple("Unsubscribed").field(j).finish(),
            Outgoing::Unsubscribe(j) => f.debug_tuple("Unsubscribe").field(j).finish(),
            Outgoing::Available { status } => {
                f.debug_struct("Available").field("status", status).finish()
            }
            Outgoing::UnavailableTo { to, status } => f
                .debug_struct("UnavailableTo")
                .field("to", to)
                .field("status", status)
                .finish(),
            Outgoing::RosterGet => f.write_str("RosterGet"),
            Outgoing::RosterAdd(j) => f.debug_tuple("RosterAdd").field(j).finish(),
            Outgoing::RosterRemove(j) => f.debug_tuple("RosterRemove").field(j).finish(),
            Outgoing::RosterPushResult { id } => {
                f.debug_struct("RosterPushResult").field("id", id).finish()
            }
            Outgoing::Omemo { to, message, .. } => f
                .debug_struct("Omemo")
                .field("to", to)
                .field("rids", &message.recipients().collect::<Vec<_>>())
                .finish(),
            Outgoing::PepGet { id, to, node } => f
                .debug_struct("PepGet")
                .field("id", id)
                .field("to", to)
                .field("node", node)
                .finish(),
        }
    }
}

fn one(f: &mut fmt::Formatter<'_>, name: &str, from: &dyn fmt::Debug) -> fmt::Result {
    f.debug_struct(name).field("from", from).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_bodies_are_hidden_in_debug() {
        let i = Incoming::Chat {
            from: "a@x.org/r".parse().unwrap(),
            body: "my secret words".into(),
        };
        let o = Outgoing::Chat {
            to: "a@x.org/r".parse().unwrap(),
            body: "your code is 1234-ABCD".into(),
        };
        for shown in [format!("{i:?}"), format!("{o:?}")] {
            assert!(
                !shown.contains("secret") && !shown.contains("1234"),
                "{shown}"
            );
            assert!(
                shown.contains("bytes hidden") && shown.contains("a@x.org"),
                "{shown}"
            );
        }
    }
}
