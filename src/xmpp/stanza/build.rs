//! [`Outgoing`] into stanzas: chat with the hints OTR clients send, OMEMO, roster, PEP.

use super::{Outgoing, ROSTER_GET_ID};
use tokio_xmpp::jid::BareJid;
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::carbons::Private;
use tokio_xmpp::parsers::chatstates::ChatState;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::message::{Lang, Message};
use tokio_xmpp::parsers::presence::{Presence, Type as PresenceType};
use tokio_xmpp::parsers::roster::{Item, Roster, Subscription};
use tokio_xmpp::Stanza;

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
        } => crate::xmpp::omemo::chat_message(to, &message, fallback),
        Outgoing::PepGet { id, to, node } => crate::xmpp::omemo::pep_get(&id, &to, &node),
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
    use crate::xmpp::stanza::{incoming, Incoming};
    use tokio_xmpp::jid::Jid;

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
