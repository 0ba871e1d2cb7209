//! The bot's OMEMO device on the real server: published with PEP at login (device list and
//! bundle, readable by anyone), the same device after a restart, and a bundle an independent
//! implementation (python-omemo + oldmemo) accepts and starts a session with.

#[path = "support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use futures::StreamExt;
use otrbot::xmpp::omemo as glue;
use support::learner::start_bot_as;
use support::prosody;
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::minidom::Element;
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::pubsub::pubsub::Items;
use tokio_xmpp::parsers::pubsub::{NodeName, PubSub};
use tokio_xmpp::{Event, Stanza};
use xmpp_parsers::legacy_omemo as xml;

const T: Duration = Duration::from_secs(20);

/// The first item of `node` on `owner`'s PEP service, asked again until it is there.
async fn fetch(
    client: &mut otrbot::xmpp::stream::Connection,
    owner: &BareJid,
    node: &str,
) -> Element {
    let deadline = tokio::time::Instant::now() + T;
    for attempt in 0.. {
        let id = format!("fetch-{attempt}");
        let items = Items {
            max_items: None,
            node: NodeName(node.to_owned()),
            subid: None,
            items: Vec::new(),
        };
        let iq = Iq::from_get(id.clone(), PubSub::Items(items)).with_to(Jid::from(owner.clone()));
        client.send_stanza(iq.into()).await.unwrap();
        let answer = tokio::time::timeout_at(deadline, async {
            while let Some(ev) = client.next().await {
                if let Event::Stanza(Stanza::Iq(iq)) = ev {
                    match iq {
                        Iq::Result {
                            id: got, payload, ..
                        } if got == id => return payload,
                        Iq::Error { id: got, .. } if got == id => return None,
                        _ => {}
                    }
                }
            }
            None
        })
        .await
        .unwrap_or_else(|_| panic!("no answer for {node} within {T:?}"));
        let item = answer
            .and_then(|p| PubSub::try_from(p).ok())
            .and_then(|p| match p {
                PubSub::Items(items) => items.items.into_iter().next(),
                _ => None,
            })
            .and_then(|i| i.payload);
        if let Some(payload) = item {
            return payload;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{node} was not published within {T:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    unreachable!()
}

/// The bot's device list and bundle as a learner fetches them.
async fn published(learner: &str, pw: &str, bot: &BareJid) -> (Vec<u32>, String, omemo::Bundle) {
    let (mut client, _) = prosody::chat_client(learner, pw, T).await;
    let list = fetch(&mut client, bot, glue::DEVICE_LIST_NODE).await;
    let ids = glue::device_ids(&xml::DeviceList::try_from(list).unwrap()).unwrap();
    assert_eq!(
        ids.len(),
        2,
        "the bot lists its true device and the OMEMO lesson's impostor: {ids:?}"
    );
    let element = fetch(&mut client, bot, &glue::bundle_node(ids[0])).await;
    let bundle_xml = String::from(&element);
    let bundle = glue::bundle(&xml::Bundle::try_from(element).unwrap()).unwrap();
    (ids, bundle_xml, bundle)
}

#[tokio::test]
async fn the_bots_device_is_published_kept_across_restarts_and_accepted_by_python_omemo() {
    let (ljid, lpw) = prosody::fresh_account("omemo");
    let (bjid, bpw) = prosody::fresh_account("teacher");
    let dir = tempfile::tempdir().unwrap();
    let mut bot = start_bot_as(&bjid, &bpw, dir, &ljid, "");
    let bot_jid = bot.jid.clone();

    // A learner who is not yet the bot's contact reads both nodes (open access model).
    let (ids, bundle_xml, bundle) = published(&ljid, &lpw, &bot_jid).await;
    bundle
        .verify()
        .expect("the signed prekey's signature verifies");
    assert_eq!(bundle.pre_keys.len(), omemo::account::PRE_KEY_COUNT);

    // A restart on the same data: the same device, the same identity (the fingerprint the
    // course page will show does not change).
    let _ = bot.child.kill();
    let _ = bot.child.wait();
    let keep = std::mem::replace(&mut bot.dir, tempfile::tempdir().unwrap());
    drop(bot);
    let _bot = start_bot_as(&bjid, &bpw, keep, &ljid, "");
    let (ids_again, _, bundle_again) = published(&ljid, &lpw, &bot_jid).await;
    assert_eq!(ids_again, ids);
    assert_eq!(bundle_again.identity_key, bundle.identity_key);

    // python-omemo (oldmemo) takes the published list and bundle and encrypts to the device.
    let python = std::env::var("OTRBOT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut peer = Command::new(python)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/omemo/peer.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python with omemo (scripts/test makes .run/python)");
    let mut stdin = peer.stdin.take().unwrap();
    let mut stdout = BufReader::new(peer.stdout.take().unwrap());
    let mut call = |req: serde_json::Value| -> serde_json::Value {
        writeln!(stdin, "{req}").unwrap();
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let r: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(r["ok"], true, "{req} -> {r}");
        r
    };
    let b = bot_jid.to_string();
    call(serde_json::json!({"op": "device", "name": "l", "jid": ljid}));
    call(serde_json::json!({"op": "devices", "name": "l", "jid": b, "ids": ids}));
    call(
        serde_json::json!({"op": "bundle", "name": "l", "jid": b, "device_id": ids[0], "xml": bundle_xml}),
    );
    let r = call(serde_json::json!({"op": "encrypt", "name": "l", "to": b, "text": "hello bot"}));
    assert!(
        r["prekey_rids"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(ids[0])),
        "python started a session with the bot's device: {r}"
    );
    let _ = writeln!(stdin, "{}", serde_json::json!({"op": "quit"}));
    let _ = peer.wait();
}

/// Another client of the bot's account replaces the account's device list with its own (as a
/// client that does not merge would): the bot hears it (PEP notification, `+notify`) and
/// publishes the list again with its two devices first and the other client's kept.
#[tokio::test]
async fn a_device_list_replaced_by_another_client_of_the_account_is_published_again() {
    let (ljid, lpw) = prosody::fresh_account("omemoreader");
    let (bjid, bpw) = prosody::fresh_account("replaced");
    let bot = start_bot_as(&bjid, &bpw, tempfile::tempdir().unwrap(), &ljid, "");
    let bot_jid = bot.jid.clone();
    let (ids, _, _) = published(&ljid, &lpw, &bot_jid).await;

    // The other client, on the same account, publishes a list naming only its own device.
    let (mut other, _) = prosody::chat_client(&bjid, &bpw, T).await;
    let theirs = glue::Publication {
        ids: vec![424242],
        bundles: Vec::new(),
    };
    for st in theirs.stanzas() {
        other.send_stanza(st).await.unwrap();
    }

    let (mut reader, _) = prosody::chat_client(&ljid, &lpw, T).await;
    let deadline = tokio::time::Instant::now() + T;
    let last = loop {
        let list = fetch(&mut reader, &bot_jid, glue::DEVICE_LIST_NODE).await;
        let now = glue::device_ids(&xml::DeviceList::try_from(list).unwrap()).unwrap();
        if (now.contains(&424242) && now.starts_with(&ids))
            || tokio::time::Instant::now() > deadline
        {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        last,
        [ids[0], ids[1], 424242],
        "the bot's devices first, the other client's kept"
    );
}
