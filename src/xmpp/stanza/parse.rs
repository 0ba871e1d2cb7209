//! Received stanzas into [`Incoming`]: bodies bounded, OMEMO, PEP answers, roster pushes.

use super::{Incoming, MAX_BODY_BYTES};
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::parsers::chatstates::ChatState;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Message, MessageType};
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::parsers::roster::{Item, Roster, Subscription};
use tokio_xmpp::parsers::stanza_error::DefinedCondition;
use tokio_xmpp::Stanza;

fn bare_from(p: &Presence) -> Option<BareJid> {
    p.from.as_ref().map(|j| j.to_bare())
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
    if let Some(ids) = crate::xmpp::omemo::device_list_event(&m) {
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
    if let Some(encrypted) = crate::xmpp::omemo::encrypted_in(&m) {
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
        Iq::Result { id, payload, .. } if id.starts_with(crate::xmpp::omemo::QUERY_ID_PREFIX) => {
            Incoming::PepAnswer {
                id,
                answer: payload
                    .and_then(crate::xmpp::omemo::pep_items)
                    .ok_or_else(|| "an answer without items".to_owned()),
            }
        }
        Iq::Error { id, error, .. } if id.starts_with(crate::xmpp::omemo::QUERY_ID_PREFIX) => {
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
}
