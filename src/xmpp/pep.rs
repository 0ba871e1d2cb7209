//! Publishing to the account's own PEP service (XEP-0163): one iq set per item, optionally
//! with XEP-0060 publish-options asking for an open access model.

use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::data_forms::{DataForm, DataFormType, Field};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::pubsub::pubsub::{Item, Publish, PublishOptions};
use tokio_xmpp::parsers::pubsub::{ItemId, NodeName, PubSub};
use tokio_xmpp::Stanza;

/// Who may read a published node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The server's default (presence subscribers, for PEP).
    Default,
    /// Anyone (OMEMO bundles and device lists must be readable before a subscription).
    Open,
}

/// The iq set that publishes `payload` as item `item` of `node`.
pub fn publish_iq(id: &str, node: &str, item: &str, payload: Element, access: Access) -> Stanza {
    let publish = Publish {
        node: NodeName(node.to_owned()),
        items: vec![Item {
            id: Some(ItemId(item.to_owned())),
            publisher: None,
            payload: Some(payload),
        }],
    };
    let publish_options = match access {
        Access::Default => None,
        Access::Open => Some(PublishOptions {
            form: Some(DataForm::new(
                DataFormType::Submit,
                "http://jabber.org/protocol/pubsub#publish-options",
                vec![Field::text_single("pubsub#access_model", "open")],
            )),
        }),
    };
    Iq::from_set(
        id,
        PubSub::Publish {
            publish,
            publish_options,
        },
    )
    .into()
}
