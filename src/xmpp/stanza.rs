//! Stanzas to and from the bot's own vocabulary: chat messages, chat states, subscriptions,
//! presence and roster pushes. Pure conversions, bounded sizes.

use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::carbons::Private;
use tokio_xmpp::parsers::chatstates::ChatState;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Lang, Message, MessageType};
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::parsers::roster::{Item, Roster, Subscription};
use tokio_xmpp::parsers::stanza_error::DefinedCondition;
use tokio_xmpp::Stanza;

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

fn bare_from(p: &Presence) -> Option<BareJid> {
    p.from.as_ref().map(|j| j.to_bare())
}

/// XEP-0334 processing hints.
const HINTS: &str = "urn:xmpp:hints";
/// The hints on an OTR protocol message, as libotr clients send them (Profanity): no copies to
/// the learner's other resources, which cannot read it, and no archive.
const OTR_HINTS: &[&str] = &["no-copy", "no-store"];

/// Whether `body` is an OTR protocol message (encoded, fragment, query or error) rather than
/// text a person can read; those also carry `<private xmlns='urn:xmpp:carbons:2'/>`.
fn is_otr_protocol(body: &str) -> bool {
    use crate::otr::message::{classify, Classified};
    !matches!(
        classify(body),
        Ok(Classified::Plain(_) | Classified::Tagged { .. })
    )
}

/// Turns a received stanza into what the bot cares about.
pub fn incoming(stanza: Stanza) -> Incoming {
    match stanza {
        Stanza::Message(m) => message(m),
        Stanza::Presence(p) => presence(p),
        Stanza::Iq(iq) => roster_push(iq),
    }
}

fn message(m: Message) -> Incoming {
    let Some(from) = m.from.clone() else {
        return Incoming::Ignored;
    };
    if let Some(ids) = super::omemo::device_list_event(&m) {
        return match ids {
            Ok(ids) => Incoming::DeviceList {
                from: from.to_bare(),
                ids,
            },
            Err(_) => Incoming::Ignored,
        };
    }
    if !matches!(m.type_, MessageType::Chat | MessageType::Normal) {
        return Incoming::Ignored;
    }
    let body = m.get_best_body(vec![]).map(|(_, b)| b.clone());
    if let Some(encrypted) = super::omemo::encrypted_in(&m) {
        let bytes = encrypted.as_ref().map_or(0, |e| {
            e.payload.as_ref().map_or(0, Vec::len)
                + e.keys.iter().map(|k| k.data.len()).sum::<usize>()
        }) + body.as_ref().map_or(0, String::len);
        return match encrypted {
            Ok(_) if bytes > MAX_BODY_BYTES => Incoming::TooLarge { from, bytes },
            Ok(e) => Incoming::Omemo {
                from,
                message: Box::new(e),
                body,
            },
            Err(e) => {
                tracing::info!(%from, error = %e, "unusable OMEMO message ignored");
                Incoming::Ignored
            }
        };
    }
    match m.get_best_body(vec![]) {
        Some((_, body)) if body.len() > MAX_BODY_BYTES => Incoming::TooLarge {
            from,
            bytes: body.len(),
        },
        Some((_, body)) => Incoming::Chat {
            from,
            body: body.clone(),
        },
        None => m
            .payloads
            .iter()
            .find_map(|p| ChatState::try_from(p.clone()).ok())
            .map_or(Incoming::Ignored, |state| Incoming::ChatState {
                from,
                state,
            }),
    }
}

fn presence(p: Presence) -> Incoming {
    let Some(bare) = bare_from(&p) else {
        return Incoming::Ignored;
    };
    match p.type_ {
        PresenceType::Subscribe => Incoming::SubscribeRequest { from: bare },
        PresenceType::Subscribed => Incoming::Subscribed { from: bare },
        PresenceType::Unsubscribed | PresenceType::Unsubscribe => {
            Incoming::Unsubscribed { from: bare }
        }
        PresenceType::None => p
            .from
            .map_or(Incoming::Ignored, |from| Incoming::Available { from }),
        PresenceType::Unavailable => p
            .from
            .map_or(Incoming::Ignored, |from| Incoming::Unavailable { from }),
        _ => Incoming::Ignored,
    }
}

/// The id of our roster request, to recognise its answer.
pub const ROSTER_GET_ID: &str = "otrbot-roster";

fn roster_items(r: Roster) -> Vec<(BareJid, Subscription)> {
    r.items
        .into_iter()
        .map(|i: Item| (i.jid, i.subscription))
        .collect()
}

fn roster_push(iq: Iq) -> Incoming {
    // A roster push comes from our own account (no `from`, or our bare JID); the caller checks.
    match iq {
        Iq::Result { id, payload, .. } if id.starts_with(super::omemo::QUERY_ID_PREFIX) => {
            Incoming::PepAnswer {
                id,
                answer: payload
                    .and_then(super::omemo::pep_items)
                    .ok_or_else(|| "an answer without items".to_owned()),
            }
        }
        Iq::Error { id, error, .. } if id.starts_with(super::omemo::QUERY_ID_PREFIX) => {
            // A node that does not exist holds no items: nothing published is an answer.
            let answer = match error.defined_condition {
                DefinedCondition::ItemNotFound => Ok(Vec::new()),
                other => Err(format!("{other:?}")),
            };
            Incoming::PepAnswer { id, answer }
        }
        Iq::Set { id, payload, .. } => match Roster::try_from(payload) {
            Ok(r) => Incoming::RosterPush {
                id,
                items: roster_items(r),
            },
            Err(_) => Incoming::Ignored,
        },
        Iq::Result {
            id,
            payload: Some(payload),
            ..
        } if id == ROSTER_GET_ID => match Roster::try_from(payload) {
            Ok(r) => Incoming::Roster {
                items: roster_items(r),
            },
            Err(_) => Incoming::Ignored,
        },
        _ => Incoming::Ignored,
    }
}

/// Builds the stanza for something the bot says.
pub fn outgoing(o: Outgoing) -> Stanza {
    match o {
        Outgoing::Chat { to, body } => {
            let otr = is_otr_protocol(&body);
            let mut m = Message::chat(Some(to))
                .with_body(Lang::new(), body)
                .with_payload(ChatState::Active);
            if otr {
                m = m.with_payload(Private);
                m.payloads.extend(
                    OTR_HINTS
                        .iter()
                        .map(|h| Element::builder(*h, HINTS).build()),
                );
            }
            m.into()
        }
        Outgoing::ChatState { to, state } => Message::chat(Some(to)).with_payload(state).into(),
        Outgoing::Subscribe(to) => Presence::subscribe().with_to(to).into(),
        Outgoing::Subscribed(to) => Presence::subscribed().with_to(to).into(),
        Outgoing::Unsubscribed(to) => Presence::new(PresenceType::Unsubscribed).with_to(to).into(),
        Outgoing::Unsubscribe(to) => Presence::unsubscribe().with_to(to).into(),
        Outgoing::Available { status } => {
            let mut p = Presence::available();
            if let Some(s) = status {
                p.set_status(Lang::new(), s);
            }
            p.into()
        }
        Outgoing::UnavailableTo { to, status } => {
            let mut p = Presence::unavailable().with_to(to);
            p.set_status(Lang::new(), status);
            p.into()
        }
        Outgoing::RosterGet => Iq::from_get(
            ROSTER_GET_ID,
            Roster {
                ver: None,
                items: vec![],
            },
        )
        .into(),
        Outgoing::RosterAdd(jid) => {
            roster_set("otrbot-roster-add", roster_item(jid, Subscription::None))
        }
        Outgoing::RosterRemove(jid) => roster_set(
            "otrbot-roster-remove",
            roster_item(jid, Subscription::Remove),
        ),
        Outgoing::RosterPushResult { id } => Iq::from_result(id, None::<Roster>).into(),
        Outgoing::Omemo {
            to,
            message,
            fallback,
        } => super::omemo::chat_message(to, &message, fallback),
        Outgoing::PepGet { id, to, node } => super::omemo::pep_get(&id, &to, &node),
    }
}

fn roster_item(jid: BareJid, subscription: Subscription) -> Item {
    Item {
        jid,
        name: None,
        subscription,
        ask: Default::default(),
        groups: vec![],
        approved: None,
    }
}

fn roster_set(id: &str, item: Item) -> Stanza {
    Iq::from_set(
        id,
        Roster {
            ver: None,
            items: vec![item],
        },
    )
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    use tokio_xmpp::minidom::Element;

    fn parse(xml: &str) -> Incoming {
        let el: Element = xml.parse().expect("xml");
        let st = Stanza::try_from(el).expect("stanza");
        incoming(st)
    }

    #[test]
    fn best_body_not_only_the_unlabelled_one() {
        let i = parse(
            "<message xmlns='jabber:client' from='a@b.org/r' type='chat'>\
             <body xml:lang='en'>hello</body></message>",
        );
        assert_eq!(
            i,
            Incoming::Chat {
                from: "a@b.org/r".parse().unwrap(),
                body: "hello".into()
            }
        );
    }

    #[test]
    fn chat_state_without_body() {
        let i = parse(
            "<message xmlns='jabber:client' from='a@b.org/r' type='chat'>\
             <composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
        );
        assert!(matches!(
            i,
            Incoming::ChatState {
                state: ChatState::Composing,
                ..
            }
        ));
    }

    #[test]
    fn huge_body_is_refused() {
        let body = "x".repeat(MAX_BODY_BYTES + 1);
        let i = parse(&format!(
            "<message xmlns='jabber:client' from='a@b.org/r' type='chat'><body>{body}</body></message>"
        ));
        assert!(matches!(i, Incoming::TooLarge { bytes, .. } if bytes == MAX_BODY_BYTES + 1));
    }

    #[test]
    fn groupchat_and_errors_are_ignored() {
        assert_eq!(
            parse("<message xmlns='jabber:client' from='r@muc.b.org/n' type='groupchat'><body>x</body></message>"),
            Incoming::Ignored
        );
        assert_eq!(
            parse("<message xmlns='jabber:client' to='a@b.org' type='chat'><body>no from</body></message>"),
            Incoming::Ignored
        );
    }

    #[test]
    fn subscriptions() {
        assert_eq!(
            parse("<presence xmlns='jabber:client' from='a@b.org' type='subscribe'/>"),
            Incoming::SubscribeRequest {
                from: "a@b.org".parse().unwrap()
            }
        );
        assert!(matches!(
            parse("<presence xmlns='jabber:client' from='a@b.org/x'/>"),
            Incoming::Available { .. }
        ));
    }

    #[test]
    fn roster_push_parsed() {
        let i = parse(
            "<iq xmlns='jabber:client' type='set' id='p1'><query xmlns='jabber:iq:roster'>\
             <item jid='a@b.org' subscription='both'/></query></iq>",
        );
        assert_eq!(
            i,
            Incoming::RosterPush {
                id: "p1".into(),
                items: vec![("a@b.org".parse().unwrap(), Subscription::Both)]
            }
        );
    }

    #[test]
    fn otr_messages_carry_no_copy_hints_and_text_does_not() {
        let to: Jid = "a@b.org/r".parse().unwrap();
        let xml = |body: &str| {
            let el: Element = outgoing(Outgoing::Chat {
                to: to.clone(),
                body: body.into(),
            })
            .into();
            String::from(&el)
        };
        for otr in [
            "?OTR:AAMDabc.",
            "?OTR|1|2,00001,00002,abc,",
            "?OTRv23?",
            "?OTR Error: x",
        ] {
            let x = xml(otr);
            for want in [
                "<private xmlns='urn:xmpp:carbons:2'",
                "<no-copy xmlns='urn:xmpp:hints'",
                "<no-store xmlns='urn:xmpp:hints'",
            ] {
                assert!(x.replace('"', "'").contains(want), "{otr}: {x}");
            }
        }
        let plain = xml("hello \t  \t\t \t ");
        assert!(
            !plain.contains("carbons") && !plain.contains("hints"),
            "{plain}"
        );
    }

    #[test]
    fn outgoing_round_trip() {
        let to: Jid = "a@b.org/r".parse().unwrap();
        let st = outgoing(Outgoing::Chat {
            to: to.clone(),
            body: "hi".into(),
        });
        assert_eq!(
            incoming(with_from(st, &to)),
            Incoming::Chat {
                from: to.clone(),
                body: "hi".into()
            }
        );
        let el: Element = outgoing(Outgoing::Available {
            status: Some("ready".into()),
        })
        .into();
        assert!(String::from(&el).contains("ready"));
    }

    fn with_from(st: Stanza, from: &Jid) -> Stanza {
        match st {
            Stanza::Message(mut m) => {
                m.from = Some(from.clone());
                Stanza::Message(m)
            }
            other => other,
        }
    }
}
