//! The running connection: stanzas in as [`Link`] events, [`Command`]s out; presence re-sent
//! after every reconnect (tokio-xmpp reconnects with back-off by itself once online).

use super::login::{Login, LoginError, ProbeInfo};
use super::stanza::{incoming, outgoing, Incoming, Outgoing};
use futures::StreamExt;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::{Client, Event, Stanza};

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

/// Logs in with `login`, then pumps the connection (as [`run`]) on a thread of its own with a
/// current-thread runtime; resolves once online, with the pump's thread.
///
/// Why a thread: tokio-xmpp 6.0's client worker polls its stream with `try_lock` and returns
/// `Pending` without a waker when `send_stanza` holds the lock at that moment; on a
/// multi-threaded runtime that race stalls every incoming stanza for good (seen under load).
/// On one thread the lock is never seen held, because [`run`] sends one stanza at a time and
/// such a send never yields while holding it.
pub async fn connect_and_run(
    login: Login,
    timeout: Duration,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Link>,
    shutdown: watch::Receiver<bool>,
    status: Option<String>,
) -> Result<(Jid, ProbeInfo, std::thread::JoinHandle<()>), LoginError> {
    let (ready_tx, ready_rx) = oneshot::channel();
    let thread = std::thread::Builder::new()
        .name("otrbot-xmpp".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(LoginError::Setup(format!(
                        "cannot start the XMPP thread's runtime: {e}"
                    ))));
                    return;
                }
            };
            rt.block_on(async move {
                match login.connect(timeout).await {
                    Ok((client, bound, info)) => {
                        let _ = ready_tx.send(Ok((bound, info)));
                        run(
                            client,
                            login.jid().clone(),
                            commands,
                            events,
                            shutdown,
                            status,
                        )
                        .await;
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
            });
        })
        .map_err(|e| LoginError::Setup(format!("cannot start the XMPP thread: {e}")))?;
    match ready_rx.await {
        Ok(Ok((bound, info))) => Ok((bound, info, thread)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(LoginError::Setup("the XMPP thread stopped".into())),
    }
}

/// Pumps `client` until `shutdown` turns true or the command channel closes.
pub async fn run(
    mut client: Client,
    own: BareJid,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Link>,
    mut shutdown: watch::Receiver<bool>,
    mut status: Option<String>,
) {
    // The roster first: it makes the server deliver subscription requests to this resource.
    send(&mut client, Outgoing::RosterGet).await;
    send(
        &mut client,
        Outgoing::Available {
            status: status.clone(),
        },
    )
    .await;
    loop {
        tokio::select! {
            _ = shutdown.changed() => {
                if *shutdown.borrow() { break; }
            }
            cmd = commands.recv() => {
                let Some(cmd) = cmd else { break };
                match cmd {
                    Command::Send(o) => send(&mut client, o).await,
                    Command::SetStatus(s) => {
                        status = s;
                        send(&mut client, Outgoing::Available { status: status.clone() }).await;
                    }
                }
            }
            ev = client.next() => {
                let Some(ev) = ev else { break };
                tracing::trace!(?ev, "raw xmpp event");
                let link = match ev {
                    Event::Online { bound_jid, .. } => {
                        send(&mut client, Outgoing::RosterGet).await;
                        send(&mut client, Outgoing::Available { status: status.clone() }).await;
                        Link::Online(bound_jid)
                    }
                    Event::Disconnected(e) => Link::Offline(e.to_string()),
                    Event::Stanza(st) => match from_server_or_peer(st, &own) {
                        Some(Incoming::RosterPush { id, items }) => {
                            send(&mut client, Outgoing::RosterPushResult { id: id.clone() }).await;
                            Link::In(Incoming::RosterPush { id, items })
                        }
                        Some(i) => Link::In(i),
                        None => continue,
                    },
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
            Iq::Set { from, .. } | Iq::Result { from, .. } => from.clone(),
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

async fn send(client: &mut Client, o: Outgoing) {
    if let Err(e) = client.send_stanza(outgoing(o)).await {
        tracing::warn!(error = %e, "could not queue a stanza");
    }
}
