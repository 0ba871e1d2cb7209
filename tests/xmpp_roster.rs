//! The bot's connection against the loopback Prosody: befriending a whitelisted learner,
//! refusing a stranger, messages and chat states both ways.

mod support;

use futures::StreamExt;
use otrbot::xmpp::link::{add_jid, answer_subscription, run, Command, Link, Published};
use otrbot::xmpp::stanza::{incoming, outgoing, Incoming, Outgoing};
use otrbot::xmpp::stream::Connection;
use std::time::Duration;
use support::prosody;
use tokio::sync::{mpsc, watch};
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::parsers::chatstates::ChatState;
use tokio_xmpp::Event;

const T: Duration = Duration::from_secs(15);

async fn login(prefix: &str) -> (Connection, Jid, BareJid) {
    let (jid, pw) = prosody::fresh_account(prefix);
    let (client, bound) = prosody::chat_client(&jid, &pw, T).await;
    (client, bound, jid.parse().unwrap())
}

/// Waits for a stanza on a plain client that `pred` accepts.
async fn expect(client: &mut Connection, what: &str, pred: impl Fn(&Incoming) -> bool) -> Incoming {
    let fut = async {
        while let Some(ev) = client.next().await {
            if let Event::Stanza(st) = ev {
                let i = incoming(st);
                if pred(&i) {
                    return i;
                }
            }
        }
        panic!("client ended while waiting for {what}");
    };
    tokio::time::timeout(T, fut)
        .await
        .unwrap_or_else(|_| panic!("no {what} within {T:?}"))
}

async fn expect_link(
    rx: &mut mpsc::Receiver<Link>,
    what: &str,
    pred: impl Fn(&Link) -> bool,
) -> Link {
    let fut = async {
        while let Some(l) = rx.recv().await {
            if pred(&l) {
                return l;
            }
        }
        panic!("bot connection ended while waiting for {what}");
    };
    tokio::time::timeout(T, fut)
        .await
        .unwrap_or_else(|_| panic!("bot saw no {what} within {T:?}"))
}

#[tokio::test]
async fn befriends_learner_refuses_stranger_and_talks() {
    let (bot, _bot_full, bot_bare) = login("bot").await;
    let (mut learner, learner_full, learner_bare) = login("learner").await;
    let (mut stranger, _, stranger_bare) = login("stranger").await;

    let (cmd_tx, cmd_rx) = mpsc::channel(16);
    let (ev_tx, mut ev_rx) = mpsc::channel(64);
    let (stop_tx, stop_rx) = watch::channel(false);
    let task = tokio::spawn(run(
        bot,
        bot_bare.clone(),
        cmd_rx,
        ev_tx,
        stop_rx,
        Some("ready".into()),
        Published::default(),
    ));

    // The bot befriends the whitelisted learner: the learner is asked to subscribe.
    for c in add_jid(&learner_bare) {
        cmd_tx.send(c).await.unwrap();
    }
    let bot_b = bot_bare.clone();
    expect(
        &mut learner,
        "subscription request",
        move |i| matches!(i, Incoming::SubscribeRequest { from } if *from == bot_b),
    )
    .await;
    learner
        .send_stanza(outgoing(Outgoing::Subscribed(bot_bare.clone())))
        .await
        .unwrap();
    learner
        .send_stanza(outgoing(Outgoing::Subscribe(bot_bare.clone())))
        .await
        .unwrap();
    // The bot sees the learner's approval; the learner's own request is granted by the bot's
    // pre-approval (RFC 6121 §3.4), so the server answers it without asking the bot.
    let lb = learner_bare.clone();
    expect_link(
        &mut ev_rx,
        "learner's approval",
        move |l| matches!(l, Link::In(Incoming::Subscribed { from }) if *from == lb),
    )
    .await;
    // The learner now sees the bot online.
    let bot_b = bot_bare.clone();
    expect(
        &mut learner,
        "bot's presence",
        move |i| matches!(i, Incoming::Available { from } if from.to_bare() == bot_b),
    )
    .await;

    // Messages and chat states both ways.
    learner
        .send_stanza(outgoing(Outgoing::Chat {
            to: bot_bare.clone().into(),
            body: "hello".into(),
        }))
        .await
        .unwrap();
    let lf = learner_full.clone();
    expect_link(&mut ev_rx, "learner's hello", move |l| {
        matches!(l, Link::In(Incoming::Chat { from, body }) if *from == lf && body == "hello")
    })
    .await;
    cmd_tx
        .send(Command::Send(Outgoing::ChatState {
            to: learner_full.clone(),
            state: ChatState::Composing,
        }))
        .await
        .unwrap();
    cmd_tx
        .send(Command::Send(Outgoing::Chat {
            to: learner_full.clone(),
            body: "hi there".into(),
        }))
        .await
        .unwrap();
    expect(&mut learner, "composing", |i| {
        matches!(
            i,
            Incoming::ChatState {
                state: ChatState::Composing,
                ..
            }
        )
    })
    .await;
    expect(
        &mut learner,
        "reply",
        |i| matches!(i, Incoming::Chat { body, .. } if body == "hi there"),
    )
    .await;

    // A stranger asking for a subscription is refused, and told nothing else.
    stranger
        .send_stanza(outgoing(Outgoing::Subscribe(bot_bare.clone())))
        .await
        .unwrap();
    let sb = stranger_bare.clone();
    expect_link(
        &mut ev_rx,
        "stranger's request",
        move |l| matches!(l, Link::In(Incoming::SubscribeRequest { from }) if *from == sb),
    )
    .await;
    for c in answer_subscription(&stranger_bare, false) {
        cmd_tx.send(c).await.unwrap();
    }
    let bot_b = bot_bare.clone();
    expect(
        &mut stranger,
        "refusal",
        move |i| matches!(i, Incoming::Unsubscribed { from } if *from == bot_b),
    )
    .await;

    stop_tx.send(true).unwrap();
    tokio::time::timeout(T, task)
        .await
        .expect("connection stops")
        .unwrap();
    learner.send_end().await.ok();
    stranger.send_end().await.ok();
}
