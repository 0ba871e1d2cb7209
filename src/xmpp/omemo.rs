//! OMEMO 0.3's elements (xmpp-parsers' `legacy_omemo`: device list, bundle, `<encrypted>`)
//! to and from the omemo crate's plain data, with every size bounded.

use tokio_xmpp::Stanza;
use xmpp_parsers::legacy_omemo as xml;

use super::pep::{publish_iq, Access};

/// The PEP node of an account's OMEMO 0.3 device list.
pub const DEVICE_LIST_NODE: &str = "eu.siacs.conversations.axolotl.devicelist";
/// The iq ids of the bot's OMEMO publications (errors are logged by the connection).
pub const PUBLISH_IDS: [&str; 2] = ["otrbot-omemo-devicelist", "otrbot-omemo-bundle"];

/// The PEP node of device `id`'s bundle.
pub fn bundle_node(id: u32) -> String {
    format!("eu.siacs.conversations.axolotl.bundles:{id}")
}

/// Our OMEMO devices as published: the device list and each device's bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publication {
    /// The device list.
    pub ids: Vec<u32>,
    /// The bundles to publish, by device id (all, or only one that changed).
    pub bundles: Vec<(u32, omemo::Bundle)>,
}

impl Publication {
    /// Takes `newer` into this one: its device list, and its bundles in place of the same
    /// devices' (what is published again at the next login is then the latest).
    pub fn update(&mut self, newer: &Publication) {
        self.ids.clone_from(&newer.ids);
        for (id, bundle) in &newer.bundles {
            match self.bundles.iter_mut().find(|(d, _)| d == id) {
                Some(slot) => slot.1 = bundle.clone(),
                None => self.bundles.push((*id, bundle.clone())),
            }
        }
        self.bundles.retain(|(d, _)| self.ids.contains(d));
    }

    /// The iq sets that publish the device list and the bundles, all readable by anyone
    /// (item `current`, as OMEMO 0.3 clients read them).
    pub fn stanzas(&self) -> Vec<Stanza> {
        let list = publish_iq(
            PUBLISH_IDS[0],
            DEVICE_LIST_NODE,
            "current",
            device_list(&self.ids).into(),
            Access::Open,
        );
        let bundles = self.bundles.iter().map(|(id, bundle)| {
            publish_iq(
                PUBLISH_IDS[1],
                &bundle_node(*id),
                "current",
                bundle_element(bundle).into(),
                Access::Open,
            )
        });
        std::iter::once(list).chain(bundles).collect()
    }
}

/// Devices accepted in one device list.
pub const MAX_DEVICES: usize = 64;
/// One-time prekeys accepted in one bundle.
pub const MAX_BUNDLE_PRE_KEYS: usize = 1000;
/// `<key>` elements accepted in one message.
pub const MAX_KEYS: usize = 256;

/// An OMEMO element that cannot be used, naming what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ElementError {
    /// A part the element must have is missing.
    #[error("the OMEMO {element} has no {part}")]
    Missing {
        /// The element.
        element: &'static str,
        /// The missing part.
        part: &'static str,
    },
    /// More entries than accepted.
    #[error("the OMEMO {element} has more than {limit} {part}")]
    TooMany {
        /// The element.
        element: &'static str,
        /// What there were too many of.
        part: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A key that is not a serialised Curve25519 key.
    #[error("the OMEMO bundle's {0} is not a Curve25519 key")]
    BadKey(&'static str),
}

/// The device ids of a device list, duplicates and 0 dropped.
pub fn device_ids(list: &xml::DeviceList) -> Result<Vec<u32>, ElementError> {
    if list.devices.len() > MAX_DEVICES {
        return Err(ElementError::TooMany {
            element: "device list",
            part: "devices",
            limit: MAX_DEVICES,
        });
    }
    let mut ids: Vec<u32> = Vec::with_capacity(list.devices.len());
    for d in &list.devices {
        if d.id != 0 && !ids.contains(&d.id) {
            ids.push(d.id);
        }
    }
    Ok(ids)
}

/// A device list with these ids.
pub fn device_list(ids: &[u32]) -> xml::DeviceList {
    xml::DeviceList {
        devices: ids.iter().map(|&id| xml::Device { id }).collect(),
    }
}

/// The element of our bundle, to publish.
pub fn bundle_element(bundle: &omemo::Bundle) -> xml::Bundle {
    xml::Bundle {
        signed_pre_key_public: Some(xml::SignedPreKeyPublic {
            signed_pre_key_id: Some(bundle.signed_pre_key_id),
            data: bundle.signed_pre_key.serialize().to_vec(),
        }),
        signed_pre_key_signature: Some(xml::SignedPreKeySignature {
            data: bundle.signed_pre_key_signature.clone(),
        }),
        identity_key: Some(xml::IdentityKey {
            data: bundle.identity_key.serialize().to_vec(),
        }),
        prekeys: Some(xml::Prekeys {
            keys: bundle
                .pre_keys
                .iter()
                .map(|(id, key)| xml::PreKeyPublic {
                    pre_key_id: *id,
                    data: key.serialize().to_vec(),
                })
                .collect(),
        }),
    }
}

/// A fetched bundle (its signature is checked when a session starts from it).
pub fn bundle(element: &xml::Bundle) -> Result<omemo::Bundle, ElementError> {
    let missing = |part| ElementError::Missing {
        element: "bundle",
        part,
    };
    let spk = element
        .signed_pre_key_public
        .as_ref()
        .ok_or_else(|| missing("signedPreKeyPublic"))?;
    let signature = element
        .signed_pre_key_signature
        .as_ref()
        .ok_or_else(|| missing("signedPreKeySignature"))?;
    let identity = element
        .identity_key
        .as_ref()
        .ok_or_else(|| missing("identityKey"))?;
    let pre_keys = element.prekeys.as_ref().map_or(&[][..], |p| &p.keys[..]);
    if pre_keys.len() > MAX_BUNDLE_PRE_KEYS {
        return Err(ElementError::TooMany {
            element: "bundle",
            part: "prekeys",
            limit: MAX_BUNDLE_PRE_KEYS,
        });
    }
    let key = |bytes: &[u8], name| {
        omemo::PublicKey::deserialize(bytes).map_err(|_| ElementError::BadKey(name))
    };
    Ok(omemo::Bundle {
        identity_key: key(&identity.data, "identityKey")?,
        // Conversations always sends the id; an absent one is 0, as python-oldmemo reads it.
        signed_pre_key_id: spk.signed_pre_key_id.unwrap_or(0),
        signed_pre_key: key(&spk.data, "signedPreKeyPublic")?,
        signed_pre_key_signature: signature.data.clone(),
        pre_keys: pre_keys
            .iter()
            .map(|p| Ok((p.pre_key_id, key(&p.data, "preKeyPublic")?)))
            .collect::<Result<_, ElementError>>()?,
    })
}

/// The `<encrypted>` element of a message we made.
pub fn encrypted_element(message: &omemo::Encrypted) -> xml::Encrypted {
    xml::Encrypted {
        header: xml::Header {
            sid: message.sid,
            keys: message
                .keys
                .iter()
                .map(|k| xml::Key {
                    rid: k.rid,
                    prekey: k.prekey,
                    data: k.data.clone(),
                })
                .collect(),
            iv: xml::IV {
                data: message.iv.clone(),
            },
        },
        payload: message
            .payload
            .as_ref()
            .map(|p| xml::Payload { data: p.clone() }),
    }
}

/// A received `<encrypted>` element.
pub fn encrypted(element: &xml::Encrypted) -> Result<omemo::Encrypted, ElementError> {
    if element.header.keys.len() > MAX_KEYS {
        return Err(ElementError::TooMany {
            element: "message",
            part: "keys",
            limit: MAX_KEYS,
        });
    }
    Ok(omemo::Encrypted {
        sid: element.header.sid,
        keys: element
            .header
            .keys
            .iter()
            .map(|k| omemo::KeyElement {
                rid: k.rid,
                prekey: k.prekey,
                data: k.data.clone(),
            })
            .collect(),
        iv: element.header.iv.data.clone(),
        payload: element.payload.as_ref().map(|p| p.data.clone()),
    })
}

/// The namespace of OMEMO 0.3's elements.
pub const NS: &str = "eu.siacs.conversations.axolotl";
/// The id prefix of our PEP queries (answers to them come from other accounts).
pub const QUERY_ID_PREFIX: &str = "otrbot-pep-";

/// The iq get for the items of `node` on `to`'s PEP service (a device list or a bundle).
pub fn pep_get(id: &str, to: &tokio_xmpp::jid::BareJid, node: &str) -> Stanza {
    use xmpp_parsers::pubsub::pubsub::Items;
    let items = Items {
        max_items: Some(1),
        node: xmpp_parsers::pubsub::NodeName(node.to_owned()),
        subid: None,
        items: vec![],
    };
    xmpp_parsers::iq::Iq::from_get(id, xmpp_parsers::pubsub::PubSub::Items(items))
        .with_to(tokio_xmpp::jid::Jid::from(to.clone()))
        .into()
}

/// The payloads of a PEP items answer (`None` for an answer that is no items list).
pub fn pep_items(
    payload: xmpp_parsers::minidom::Element,
) -> Option<Vec<xmpp_parsers::minidom::Element>> {
    match xmpp_parsers::pubsub::PubSub::try_from(payload) {
        Ok(xmpp_parsers::pubsub::PubSub::Items(items)) => {
            Some(items.items.into_iter().filter_map(|i| i.payload).collect())
        }
        _ => None,
    }
}

/// The device ids of a device list element.
pub fn device_list_ids(element: xmpp_parsers::minidom::Element) -> Result<Vec<u32>, ElementError> {
    let list = xml::DeviceList::try_from(element).map_err(|_| ElementError::Missing {
        element: "device list",
        part: "<list>",
    })?;
    device_ids(&list)
}

/// A bundle element, parsed and bounded.
pub fn bundle_from(element: xmpp_parsers::minidom::Element) -> Result<omemo::Bundle, ElementError> {
    let parsed = xml::Bundle::try_from(element).map_err(|_| ElementError::Missing {
        element: "bundle",
        part: "<bundle>",
    })?;
    bundle(&parsed)
}

/// A PEP notification of a device list (`<event>` in a message), if `m` carries one.
pub fn device_list_event(
    m: &xmpp_parsers::message::Message,
) -> Option<Result<Vec<u32>, ElementError>> {
    use xmpp_parsers::pubsub::event::{Event, Payload};
    m.payloads.iter().find_map(|p| {
        let Ok(Event { payload }) = Event::try_from(p.clone()) else {
            return None;
        };
        match payload {
            Payload::Items {
                node, published, ..
            } if node.0 == DEVICE_LIST_NODE => Some(
                published
                    .into_iter()
                    .find_map(|i| i.payload)
                    .map_or(Ok(Vec::new()), device_list_ids),
            ),
            _ => None,
        }
    })
}

/// The `<encrypted>` element of a message, if it has one (`Some(Err)` for one we cannot use).
pub fn encrypted_in(
    m: &xmpp_parsers::message::Message,
) -> Option<Result<omemo::Encrypted, ElementError>> {
    let el = m.payloads.iter().find(|p| p.is("encrypted", NS))?;
    Some(match xml::Encrypted::try_from(el.clone()) {
        Ok(e) => encrypted(&e),
        Err(_) => Err(ElementError::Missing {
            element: "message",
            part: "well-formed <header>",
        }),
    })
}

/// An OMEMO chat message to `to`: the `<encrypted>` element, the plain-text `fallback` body
/// for clients without OMEMO, the XEP-0380 encryption marker and a `<store/>` hint (so that
/// the server keeps it for an offline client, as OMEMO clients expect).
pub fn chat_message(
    to: tokio_xmpp::jid::Jid,
    message: &omemo::Encrypted,
    fallback: String,
) -> Stanza {
    use xmpp_parsers::message::{Lang, Message};
    let eme = xmpp_parsers::eme::ExplicitMessageEncryption {
        namespace: NS.to_owned(),
        name: Some("OMEMO".to_owned()),
    };
    let mut m = Message::chat(Some(to))
        .with_body(Lang::new(), fallback)
        .with_payload(encrypted_element(message))
        .with_payload(eme);
    m.payloads
        .push(xmpp_parsers::minidom::Element::builder("store", "urn:xmpp:hints").build());
    m.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_replaces_the_changed_bundle_and_keeps_the_others() {
        let rng = &mut omemo::OsRandom;
        let a = omemo::Account::generate(1, 0, rng).unwrap();
        let mut b = omemo::Account::generate(2, 0, rng).unwrap();
        let mut published = Publication {
            ids: vec![1, 2],
            bundles: vec![(1, a.bundle()), (2, b.bundle())],
        };
        b.rotate_signed_pre_key(100, rng).unwrap();
        published.update(&Publication {
            ids: vec![1, 2],
            bundles: vec![(2, b.bundle())],
        });
        assert_eq!(published.bundles, vec![(1, a.bundle()), (2, b.bundle())]);
        published.update(&Publication {
            ids: vec![2],
            bundles: Vec::new(),
        });
        assert_eq!(
            published.bundles,
            vec![(2, b.bundle())],
            "a device no longer listed goes"
        );
    }
    use xmpp_parsers::minidom::Element;

    /// A bundle a real client published (xmpp-parsers' own test data): its signature carries
    /// the Edwards sign bit in the top bit of s, as libsignal's `curve25519_sign` made them.
    const REAL_BUNDLE: &str = r#"<bundle xmlns="eu.siacs.conversations.axolotl">
  <signedPreKeyPublic signedPreKeyId="1">BYAbACA15bPn95p7RGC2XbgQyly8aRKS4BaJ+hD8Ybhe</signedPreKeyPublic>
  <signedPreKeySignature>sIJVNDZi/NgFsry4OBdM+adyGttLEXbUh/h/5dVOZveMgyVoIdgwBUzq8Wgd2xYTQMioNzwYebTX+9p0h9eujA==</signedPreKeySignature>
  <identityKey>BQFd2p/Oq97vAAdLKA09DlcSg0x1xWn260p1jaeyIhAZ</identityKey>
  <prekeys><preKeyPublic preKeyId="1">BbjHsF5ndtNV8ToRcJTYSNGePgAWsFGkSL6OG7B7LXRe</preKeyPublic></prekeys>
</bundle>"#;

    #[test]
    fn a_real_clients_bundle_parses_and_its_signature_verifies() {
        let element: Element = REAL_BUNDLE.parse().unwrap();
        let parsed: xml::Bundle = element.try_into().unwrap();
        let b = bundle(&parsed).unwrap();
        assert_eq!(
            b.signed_pre_key_signature[63] >> 7,
            1,
            "the old sign-bit layout"
        );
        b.verify().unwrap();
        let mut altered = b.clone();
        altered.signed_pre_key_signature[10] ^= 1;
        assert!(altered.verify().is_err());
    }

    #[test]
    fn our_elements_round_trip_and_bad_ones_name_the_cause() {
        let rng = &mut omemo::OsRandom;
        let account = omemo::Account::generate(7, 0, rng).unwrap();
        let element = bundle_element(&account.bundle());
        assert_eq!(bundle(&element).unwrap(), account.bundle());
        let xml_text = String::from(&Element::from(element.clone()));
        assert!(xml_text.contains("signedPreKeyId='1'"), "{xml_text}");

        let mut no_identity = element.clone();
        no_identity.identity_key = None;
        assert_eq!(
            bundle(&no_identity).unwrap_err().to_string(),
            "the OMEMO bundle has no identityKey"
        );
        let mut bad_key = element;
        bad_key.identity_key = Some(xml::IdentityKey { data: vec![5; 10] });
        assert_eq!(bundle(&bad_key), Err(ElementError::BadKey("identityKey")));

        let ids = device_ids(&device_list(&[3, 0, 3, 9])).unwrap();
        assert_eq!(ids, vec![3, 9]);
        let many: Vec<u32> = (1..=MAX_DEVICES as u32 + 1).collect();
        assert!(device_ids(&device_list(&many)).is_err());
    }
}
