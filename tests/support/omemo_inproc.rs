//! An OMEMO learner device in-process, on otrbot's own `omemo` crate and XMPP glue: for load
//! (a python client per learner would measure Python) and for races an outside client cannot
//! be made to run on cue (two clients picking the same one-time prekey). Interop with
//! independent implementations is what `omemo_learner` (python-omemo) and Profanity show.

use futures::StreamExt;
use omemo::{Account, Bundle, OsRandom, Session};
use otrbot::xmpp::omemo as glue;
use otrbot::xmpp::stanza::{incoming, outgoing, Incoming, Outgoing};
use otrbot::xmpp::stream::Connection;
use tokio_xmpp::jid::{BareJid, Jid};

/// The next stanza that `pick` takes, skipping others.
pub async fn next<T>(
    client: &mut Connection,
    mut pick: impl FnMut(Incoming) -> Option<T>,
) -> Result<T, String> {
    while let Some(ev) = client.next().await {
        if let tokio_xmpp::Event::Stanza(st) = ev {
            if let Some(t) = pick(incoming(st)) {
                return Ok(t);
            }
        }
    }
    Err("the connection closed".into())
}

/// Sends one outgoing stanza.
pub async fn send(client: &mut Connection, o: Outgoing) -> Result<(), String> {
    client
        .send_stanza(outgoing(o))
        .await
        .map_err(|e| e.to_string())
}

/// The bundle of `bot`'s device `id`, fetched from its PEP service as a client does.
pub async fn fetch_bundle(
    client: &mut Connection,
    bot: &BareJid,
    id: u32,
) -> Result<Bundle, String> {
    let qid = format!("{}learner", glue::QUERY_ID_PREFIX);
    send(
        client,
        Outgoing::PepGet {
            id: qid.clone(),
            to: bot.clone(),
            node: glue::bundle_node(id),
        },
    )
    .await?;
    let answer = next(client, |i| match i {
        Incoming::PepAnswer { id, answer } if id == qid => Some(answer),
        _ => None,
    })
    .await?;
    let item = answer?.into_iter().next().ok_or("no bundle")?;
    glue::bundle_from(item).map_err(|e| e.to_string())
}

/// A learner's device: a new account, published (device list and bundle) as clients do at
/// once, so that the bot can start a session with it.
pub async fn new_device(client: &mut Connection) -> Result<Account, String> {
    let account = tokio::task::spawn_blocking(|| {
        let rng = &mut OsRandom;
        Account::random_device_id(rng).and_then(|id| Account::generate(id, 0, rng))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let own = glue::Publication {
        ids: vec![account.device_id()],
        bundles: vec![(account.device_id(), account.bundle())],
    };
    for st in own.stanzas() {
        client.send_stanza(st).await.map_err(|e| e.to_string())?;
    }
    Ok(account)
}

/// Writes `text` with OMEMO for the bot's device `to` only (the impostor refused).
pub async fn write(
    client: &mut Connection,
    bot: &BareJid,
    account: &Account,
    to: (u32, &mut Session),
    text: &str,
) -> Result<(), String> {
    let message = omemo::encrypt(account, &mut [to], Some(text.as_bytes()), &mut OsRandom)
        .map_err(|e| e.to_string())?;
    send(
        client,
        Outgoing::Omemo {
            to: Jid::from(bot.clone()),
            message: Box::new(message),
            fallback: "OMEMO".into(),
        },
    )
    .await
}

/// The next OMEMO message, decrypted with `session` (replaced by a key exchange from the bot,
/// as XEP-0384 says): its text and whether it started a new session.
pub async fn read(
    client: &mut Connection,
    account: &mut Account,
    session: &mut Session,
) -> Result<(String, bool), String> {
    let m = next(client, |i| match i {
        Incoming::Omemo { message, .. } => Some(message),
        _ => None,
    })
    .await?;
    let d = omemo::decrypt(account, Some(session), &m, &mut OsRandom)
        .map_err(|e| format!("the bot's reply does not decrypt: {e}"))?;
    *session = d.session;
    let text = String::from_utf8_lossy(&d.body.unwrap_or_default()).into_owned();
    Ok((text, d.prekey))
}

/// Accepts the bot's subscription request and asks for its own.
pub async fn befriend(client: &mut Connection) -> Result<(), String> {
    let from = next(client, |i| match i {
        Incoming::SubscribeRequest { from } => Some(from),
        _ => None,
    })
    .await?;
    send(client, Outgoing::Subscribed(from.clone())).await?;
    send(client, Outgoing::Subscribe(from)).await
}

/// The bot's true device id, from its log line at start.
pub fn true_device(log: &std::path::Path) -> u32 {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(id) = text
            .lines()
            .find(|l| l.contains("OMEMO devices"))
            .and_then(|l| l.split(" device=").nth(1))
            .and_then(|r| r.split_whitespace().next())
            .and_then(|d| d.parse().ok())
        {
            return id;
        }
        assert!(
            std::time::Instant::now() < until,
            "the bot logs its OMEMO devices"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
