//! What the bot says about itself when asked (XEP-0030 disco#info, announced by XEP-0115 caps
//! in its presence): a bot that wants learners' OMEMO device lists pushed to it (XEP-0163
//! `+notify`, so a learner's server tells it when a device is added); pings answered
//! (XEP-0199); and every other request refused at once (RFC 6120 §8.2.3: an iq get or set
//! must be answered, or the asker waits).

use xmpp_parsers::caps::{self, Caps};
use xmpp_parsers::disco::{DiscoInfoQuery, DiscoInfoResult, Identity};
use xmpp_parsers::hashes::Algo;
use xmpp_parsers::iq::Iq;
use xmpp_parsers::stanza_error::{DefinedCondition, ErrorType, StanzaError};

/// The caps node: names the software whose features the hash stands for.
pub const NODE: &str = "urn:x-otrbot:caps";

const NS_DISCO_INFO: &str = "http://jabber.org/protocol/disco#info";
const NS_CAPS: &str = "http://jabber.org/protocol/caps";
const NS_PING: &str = "urn:xmpp:ping";
const NS_ROSTER: &str = "jabber:iq:roster";

/// The bot's identity and features.
pub fn info() -> DiscoInfoResult {
    DiscoInfoResult {
        node: None,
        identities: vec![Identity::new("client", "bot", "en", "otrbot")],
        features: [
            NS_DISCO_INFO.to_owned(),
            NS_CAPS.to_owned(),
            NS_PING.to_owned(),
            format!("{}+notify", super::omemo::DEVICE_LIST_NODE),
        ]
        .into_iter()
        .collect(),
        extensions: Vec::new(),
    }
}

/// The `<c/>` element for the bot's presence (SHA-1, as XEP-0115 v1.5 deployments expect).
pub fn presence_caps() -> Caps {
    let hash = caps::hash_caps(&caps::compute_disco(&info()), Algo::Sha_1)
        .expect("SHA-1 is a caps algorithm");
    Caps::new(NODE, hash)
}

/// The node a caps-aware server asks about: `NODE#ver`.
fn caps_node() -> String {
    match caps::query_caps(presence_caps()).node {
        Some(n) => n,
        None => NODE.to_owned(),
    }
}

/// The reply to `iq` when it is a request this module answers (disco#info, ping) or refuses
/// (anything else); `None` for answers to our own requests and for roster pushes, which the
/// connection passes on (or drops, from anyone but our own account: RFC 6121 §2.1.6).
pub fn answer(iq: &Iq) -> Option<Iq> {
    let (from, id, payload, get) = match iq {
        Iq::Get {
            from, id, payload, ..
        } => (from, id, payload, true),
        Iq::Set {
            from, id, payload, ..
        } => (from, id, payload, false),
        Iq::Result { .. } | Iq::Error { .. } => return None,
    };
    if !get && payload.is("query", NS_ROSTER) {
        return None;
    }
    let reply = |mut r: Iq| {
        if let Iq::Result { to, .. } | Iq::Error { to, .. } = &mut r {
            *to = from.clone();
        }
        Some(r)
    };
    if get && payload.is("ping", NS_PING) {
        return reply(Iq::from_result(id, None::<DiscoInfoResult>));
    }
    if get {
        if let Ok(q) = DiscoInfoQuery::try_from(payload.clone()) {
            let mut result = info();
            match q.node {
                None => {}
                Some(n) if n == caps_node() => result.node = Some(n),
                Some(_) => return reply(error(id, DefinedCondition::ItemNotFound)),
            }
            return reply(Iq::from_result(id, Some(result)));
        }
    }
    reply(error(id, DefinedCondition::ServiceUnavailable))
}

fn error(id: &str, condition: DefinedCondition) -> Iq {
    Iq::from_error(
        id,
        StanzaError::new(ErrorType::Cancel, condition, "en", String::new()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_xmpp::jid::Jid;
    use tokio_xmpp::minidom::Element;

    fn names_feature(e: &Element, feature: &str) -> bool {
        DiscoInfoResult::try_from(e.clone()).is_ok_and(|r| r.features.contains(feature))
    }

    fn get(payload: Element) -> Iq {
        Iq::Get {
            from: Some(Jid::new("learner@example.org").unwrap()),
            to: Some(Jid::new("bot@example.org/otrbot").unwrap()),
            id: "q1".into(),
            payload,
        }
    }

    fn result_payload(iq: Option<Iq>) -> Element {
        match iq {
            Some(Iq::Result {
                payload: Some(p),
                to,
                id,
                ..
            }) => {
                assert_eq!(id, "q1");
                assert_eq!(to.unwrap().to_string(), "learner@example.org");
                p
            }
            other => panic!("a result: {other:?}"),
        }
    }

    #[test]
    fn disco_info_names_the_device_list_notification_with_and_without_the_caps_node() {
        let feature = "eu.siacs.conversations.axolotl.devicelist+notify";
        let plain = result_payload(answer(&get(DiscoInfoQuery { node: None }.into())));
        assert!(names_feature(&plain, feature));
        let node = caps::query_caps(presence_caps()).node;
        let by_caps = result_payload(answer(&get(DiscoInfoQuery { node }.into())));
        assert!(names_feature(&by_caps, feature));
        // The hash announced is the hash of what is answered (XEP-0115 §5.1).
        let r = DiscoInfoResult::try_from(by_caps).unwrap();
        let again = caps::hash_caps(&caps::compute_disco(&r), Algo::Sha_1).unwrap();
        assert_eq!(again.hash, presence_caps().ver);
        let other = DiscoInfoQuery {
            node: Some(format!("{NODE}#bogus")),
        };
        assert!(matches!(
            answer(&get(other.into())),
            Some(Iq::Error { error, .. }) if error.defined_condition == DefinedCondition::ItemNotFound
        ));
    }

    #[test]
    fn pings_are_answered_other_requests_refused_roster_pushes_left_to_the_roster() {
        let ping = Element::builder("ping", NS_PING).build();
        assert!(matches!(
            answer(&get(ping)),
            Some(Iq::Result { payload: None, .. })
        ));
        let vcard = Element::builder("vCard", "vcard-temp").build();
        assert!(matches!(
            answer(&get(vcard.clone())),
            Some(Iq::Error { error, .. }) if error.defined_condition == DefinedCondition::ServiceUnavailable
        ));
        let roster = Element::builder("query", NS_ROSTER).build();
        let push = |from: &str| Iq::Set {
            from: Some(Jid::new(from).unwrap()),
            to: None,
            id: "push".into(),
            payload: roster.clone(),
        };
        assert!(answer(&push("bot@example.org")).is_none());
        assert!(
            answer(&push("mallory@example.org")).is_none(),
            "one from someone else is dropped there, unanswered"
        );
        let result = Iq::Result {
            from: None,
            to: None,
            id: "x".into(),
            payload: Some(vcard),
        };
        assert!(answer(&result).is_none());
    }
}
