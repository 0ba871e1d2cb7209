//! The running connection: stanzas in as [`Link`] events, [`Command`]s out; presence re-sent
//! after every reconnect (the stanza stream reconnects with back-off by itself once online).

use super::avatar::{self, Avatar};
use super::stanza::{incoming, outgoing, Incoming, Outgoing};
use super::stream::Connection;
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::{Event, Stanza};

/// What the connection tells the bot.
#[derive(Debug, Clone, PartialEq)]
pub enum Link {
    /// Online (again) as this full JID.
    Online(Jid),
    /// The connection dropped; tokio-xmpp reconnects with back-off.
    Offline(String),
    /// Something arrived.
    In(Incoming),
}

/// What the bot asks the connection to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Send a stanza.
    Send(Outgoing),
    /// Change the status text sent with presence (also after reconnects).
    SetStatus(Option<String>),
    /// Publish (again) what changed of the bot's OMEMO devices.
    PublishOmemo(super::omemo::Publication),
}

/// The stanzas that befriend a whitelisted learner: roster entry, subscription both ways.
pub fn add_jid(jid: &BareJid) -> Vec<Command> {
    vec![
        Command::Send(Outgoing::RosterAdd(jid.clone())),
        Command::Send(Outgoing::Subscribed(jid.clone())),
        Command::Send(Outgoing::Subscribe(jid.clone())),
    ]
}

/// The answer to a subscription request: accepted and returned when whitelisted, else refused.
pub fn answer_subscription(from: &BareJid, whitelisted: bool) -> Vec<Command> {
    if whitelisted {
        add_jid(from)
    } else {
        vec![Command::Send(Outgoing::Unsubscribed(from.clone()))]
    }
}

/// What the bot publishes about itself whenever it comes online.
#[derive(Default)]
pub struct Published {
    /// The avatar (XEP-0084, and its XEP-0153 hash in presence).
    pub avatar: Option<Avatar>,
    /// The OMEMO device list and bundle.
    pub omemo: Option<super::omemo::Publication>,
}

/// Pumps `client` until `shutdown` turns true or the command channel closes, publishing
/// `published` whenever online.
pub async fn run(
    mut client: Connection,
    own: BareJid,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Link>,
    mut shutdown: watch::Receiver<bool>,
    mut status: Option<String>,
    mut published: Published,
) {
    // The roster first: it makes the server deliver subscription requests to this resource.
    send(&mut client, Outgoing::RosterGet).await;
    announce(&mut client, &status, &published).await;
    loop {
        tokio::select! {
            _ = shutdown.changed() => {
                if *shutdown.borrow() { break; }
            }
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { break };
                match cmd {
                    Command::Send(o) => send(&mut client, o).await,
                    Command::PublishOmemo(p) => {
                        for st in p.stanzas() {
                            send_raw(&mut client, st).await;
                        }
                        // A reconnection publishes the latest, never a used prekey again.
                        match &mut published.omemo {
                            Some(o) => o.update(&p),
                            None => published.omemo = Some(p),
                        }
                    }
                    Command::SetStatus(s) => {
                        status = s;
                        send_raw(&mut client, presence(&status, published.avatar.as_ref())).await;
                    }
                }
            }
            ev = client.next() => {
                let Some(ev) = ev else { break };
                tracing::trace!(event = ?crate::logging::IfAllowed(&ev), "raw xmpp event");
                let link = match ev {
                    Event::Online { bound_jid, .. } => {
                        send(&mut client, Outgoing::RosterGet).await;
                        announce(&mut client, &status, &published).await;
                        Link::Online(bound_jid)
                    }
                    Event::Disconnected(e) => Link::Offline(e.to_string()),
                    Event::Stanza(st) => {
                        // Requests to the bot (disco, ping, anything else) are answered here.
                        let reply = match &st {
                            Stanza::Iq(iq) => super::disco::answer(iq),
                            _ => None,
                        };
                        if let Some(reply) = reply {
                            send_raw(&mut client, Stanza::Iq(reply)).await;
                            continue;
                        }
                        match from_server_or_peer(st, &own) {
                            Some(Incoming::RosterPush { id, items }) => {
                                send(&mut client, Outgoing::RosterPushResult { id: id.clone() }).await;
                                Link::In(Incoming::RosterPush { id, items })
                            }
                            Some(i) => Link::In(i),
                            None => continue,
                        }
                    }
                };
                tracing::debug!(?link, "xmpp event");
                if events.send(link).await.is_err() { break; }
            }
        }
    }
    let _ = client.send_end().await;
}

/// Drops roster pushes and results that do not come from our own account (RFC 6121 §2.1.6).
fn from_server_or_peer(st: Stanza, own: &BareJid) -> Option<Incoming> {
    if let Stanza::Iq(iq) = &st {
        use tokio_xmpp::parsers::iq::Iq;
        let from = match iq {
            // Answers to our PEP queries come from the accounts asked.
            Iq::Result { id, .. } | Iq::Error { id, .. }
                if id.starts_with(super::omemo::QUERY_ID_PREFIX) =>
            {
                None
            }
            Iq::Set { from, .. } | Iq::Result { from, .. } => from.clone(),
            Iq::Error { id, error, .. } if avatar::PUBLISH_IDS.contains(&id.as_str()) => {
                tracing::warn!(?error, "the server refused to publish the avatar");
                return None;
            }
            _ => return None,
        };
        if from.is_some_and(|f| f.to_bare() != *own) {
            return None;
        }
    }
    match incoming(st) {
        Incoming::Ignored => None,
        i => Some(i),
    }
}

async fn send(client: &mut Connection, o: Outgoing) {
    send_raw(client, outgoing(o)).await
}

async fn send_raw(client: &mut Connection, st: Stanza) {
    if let Err(e) = client.send_stanza(st).await {
        tracing::warn!(error = %e, "could not queue a stanza");
    }
}

/// The bot's presence to all, with the avatar's XEP-0153 hash when there is one.
fn presence(status: &Option<String>, avatar: Option<&Avatar>) -> Stanza {
    let mut st = outgoing(Outgoing::Available {
        status: status.clone(),
    });
    if let Stanza::Presence(p) = &mut st {
        // Caps: learners' servers push their OMEMO device lists (XEP-0163 +notify).
        p.payloads.push(super::disco::presence_caps().into());
        if let Some(a) = avatar {
            p.payloads.push(a.presence_update());
        }
    }
    st
}

/// Once online: the avatar is published (before the presence that announces its hash), then
/// the presence is sent.
async fn announce(client: &mut Connection, status: &Option<String>, published: &Published) {
    let avatar = published.avatar.as_ref();
    if let Some(a) = avatar {
        for st in a.publish() {
            send_raw(client, st).await;
        }
    }
    if let Some(o) = &published.omemo {
        for st in o.stanzas() {
            send_raw(client, st).await;
        }
    }
    send_raw(client, presence(status, avatar)).await;
}
