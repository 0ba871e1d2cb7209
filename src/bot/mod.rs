//! The orchestrator: stanzas through `otr` and `lesson`, actions to `store` and `xmpp`.
//!
//! `run` owns the store and its background work (the key-pool filler, the deadline scanner,
//! the admin socket) and the XMPP connection, whose roster follows the whitelist. Each chat
//! message and each due deadline is a turn of the [`teach::Teacher`], run on its own task so
//! that one learner's crypto never holds up another.

pub mod admin;
pub mod admin_secret;
pub mod course;
mod data_dir;
pub mod omemo_device;
pub mod omemo_state;
pub mod otr_state;
pub mod pep;
pub mod roster;
pub mod teach;
pub mod turn_times;
pub mod turns;

#[cfg(test)]
mod blocking_tests;
#[cfg(test)]
mod bounds_tests;

use crate::exit::{ExitCode, Failure};
use crate::settings::Settings;
use crate::store::{self, scanner, Due, KeyPool, Store, Timeouts};
use crate::xmpp::link::{self, Command, Link};
use crate::xmpp::login::Login;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long the first XMPP login may take before the bot gives up with a clear error.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the running bot asks whether the OMEMO signed prekey is due for rotation.
const SIGNED_PRE_KEY_CHECK: Duration = Duration::from_secs(3600);

pub use data_dir::ensure_private_dir;

/// A store failure as a process failure (exit code `Store`).
pub fn store_failure(e: store::Error) -> Failure {
    Failure::new(ExitCode::Store, e.to_string())
}

/// The inactivity timeouts of `settings`.
pub fn timeouts(settings: &Settings) -> Timeouts {
    Timeouts {
        warning: settings.lesson.warning_timeout,
        session: settings.lesson.session_timeout,
    }
}

/// Creates the data directory (0700) and opens the store in it.
pub fn open_store(settings: &Settings) -> Result<Store, Failure> {
    let dir = &settings.store.data_dir;
    ensure_private_dir(dir).map_err(|e| {
        Failure::new(
            ExitCode::Store,
            format!("setting `store.data_dir` ({}): {e}", dir.display()),
        )
    })?;
    Store::open(dir).map_err(store_failure)
}

/// Runs the bot until SIGINT or SIGTERM.
pub fn run(settings: Settings) -> Result<(), Failure> {
    let store = open_store(&settings)?;
    let (added, removed) = store
        .seed_whitelist(&settings.whitelist, crate::clock::unix_now())
        .map_err(store_failure)?;
    tracing::info!(
        path = %store.path().display(),
        sessions = store.session_count(),
        keys_ready = store.pool_len(),
        whitelist_from_settings = settings.whitelist.len(),
        added_or_changed = added,
        removed,
        "store open"
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("otrbot")
        .build()
        .map_err(|e| Failure::new(ExitCode::Unknown, format!("cannot start the runtime: {e}")))?;
    rt.block_on(serve(settings, store))
}

async fn serve(settings: Settings, store: Store) -> Result<(), Failure> {
    let signal = shutdown_signal();
    let avatar = match &settings.account().avatar {
        Some(path) => Some(crate::xmpp::avatar::Avatar::load(path).map_err(|e| {
            let key = format!("xmpp.accounts.{}.avatar", settings.xmpp.default_account);
            Failure::new(ExitCode::BadSetting, format!("setting `{key}`: {e}"))
        })?),
        None => None,
    };
    let login = Login::from_settings(&settings)?;
    let (client, bound, info) = login.connect(LOGIN_TIMEOUT).await?;
    tracing::info!(
        jid = %bound,
        tls = ?info.negotiated,
        "xmpp online"
    );
    let pool_size = settings.store.key_pool_size;
    let refill = store::keypool::Refill {
        target: pool_size,
        threads: settings.store.key_threads(),
        nice: settings.store.key_nice,
    };
    let pool = KeyPool::start_with(store.clone(), refill, Arc::new(store::default_dsa_key))
        .map_err(|e| Failure::new(ExitCode::Unknown, format!("cannot start the key pool: {e}")))?;
    let pool = Arc::new(pool);
    let locales = settings.paths.locales();
    let catalogs = Arc::new(crate::i18n::Catalogs::load(locales).map_err(|e| {
        Failure::new(
            ExitCode::MissingDependency,
            format!(
                "setting `paths.locales`: cannot load the translations in {}: {e}",
                locales.display()
            ),
        )
    })?);
    let (stop_tx, stop_rx) = watch::channel(false);

    let interval = Duration::from_secs(settings.lesson.timeout_check_interval.max(1));
    let (due_tx, mut due_rx) = mpsc::channel::<Due>(1024);
    let scan = tokio::spawn(scanner::run(
        store.clone(),
        interval,
        due_tx,
        stop_rx.clone(),
    ));

    let sock = admin::socket_path(&settings.store.data_dir);
    let listener = admin::bind(&sock).map_err(|e| {
        Failure::new(
            ExitCode::Store,
            format!("cannot listen on {}: {e}", sock.display()),
        )
    })?;
    let (cmd_tx, cmd_rx) = mpsc::channel::<Command>(256);
    let (link_tx, mut link_rx) = mpsc::channel::<Link>(256);
    let status = Some(settings.format.project_name.clone());
    let teacher = teach::Teacher::new(
        store.clone(),
        pool.clone(),
        catalogs.clone(),
        teach::Teaching::from_settings(&settings),
        cmd_tx.clone(),
    )
    .map_err(|e| Failure::new(ExitCode::Store, format!("the bot's OMEMO devices: {e}")))?;
    let (admin_tx, mut admin_rx) = mpsc::channel(64);
    let admin_task = tokio::spawn(admin::serve(
        listener,
        store.clone(),
        teacher.clone(),
        admin_tx.clone(),
        stop_rx.clone(),
    ));
    // The LTI pages and the grade sender: same process, same runtime. The pages reach the bot
    // through `lti::Course` only, which the bot implements here; their changes arrive in the
    // main loop as admin events, like the admin socket's.
    let course = Arc::new(course::CoursePages {
        teacher: teacher.clone(),
        store: store.clone(),
        pool: pool.clone(),
        timeouts: timeouts(&settings),
        events: admin_tx,
        protocol: settings.lesson.protocol,
    });
    let lti = crate::lti::run::start(&settings, store.clone(), catalogs, course, stop_rx.clone())
        .await
        .map_err(|e| Failure::new(ExitCode::BadSetting, e))?;
    let omemo = teacher.omemo();
    tracing::info!(
        device = omemo.true_id(),
        fingerprint = %omemo.true_fingerprint(),
        impostor = omemo.impostor_id(),
        "OMEMO devices (published with PEP at every login)"
    );
    let published = link::Published {
        avatar,
        omemo: Some(omemo.publication()),
    };
    let me = login.jid().clone();
    let xmpp_task = tokio::spawn(link::run(
        client,
        login.jid().clone(),
        cmd_rx,
        link_tx,
        stop_rx,
        status,
        published,
    ));

    tracing::info!(
        account = %settings.account().jid,
        data = %settings.store.data_dir.display(),
        "otrbot started"
    );
    tracing::info!(
        target_keys = pool_size,
        threads = refill.threads,
        nice = refill.nice,
        "running: key pool fillers"
    );
    tracing::info!(every_s = interval.as_secs(), "running: deadline scanner");
    tracing::info!(socket = %sock.display(), "running: admin socket");
    tracing::info!(address = %lti.address, public_url = %settings.lti.public_url, "running: LTI pages and grade sender");

    tokio::pin!(signal);
    let mut web = lti.server;
    let mut web_failed = None;
    let mut mutual = roster::Mutual::default();
    let mut rotation = tokio::time::interval(SIGNED_PRE_KEY_CHECK);
    rotation.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut signal => break,
            _ = rotation.tick() => match teacher.omemo().rotate_if_due(crate::clock::unix_now()) {
                Ok(Some(p)) => {
                    tracing::info!("OMEMO signed prekey rotated");
                    queue(&cmd_tx, vec![Command::PublishOmemo(p)], false);
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "the OMEMO signed prekey could not be rotated"),
            },
            r = &mut web => {
                // The pages stopped on their own (they only stop after shutdown otherwise).
                web_failed = Some(match r {
                    Ok(Err(e)) => e,
                    Ok(Ok(())) => "the LTI web server stopped".to_owned(),
                    Err(e) => format!("the LTI web server failed: {e}"),
                });
                break;
            }
            Some(d) = due_rx.recv() => {
                let t = teacher.clone();
                tokio::spawn(async move { t.on_due(d).await });
            }
            Some(ev) = admin_rx.recv() => {
                tracing::info!(event = ?ev, "admin change");
                let cmds = match &ev {
                    admin::AdminEvent::WhitelistAdded { jid } => roster::on_whitelist_change(jid, true),
                    admin::AdminEvent::WhitelistRemoved { jid } => roster::on_whitelist_change(jid, false),
                    admin::AdminEvent::SessionKilled { .. } => Vec::new(),
                    _ => {
                        let t = teacher.clone();
                        tokio::spawn(async move { t.on_admin(ev).await });
                        Vec::new()
                    }
                };
                queue(&cmd_tx, cmds, false);
            }
            Some(link) = link_rx.recv() => on_link(&store, &cmd_tx, &teacher, &mut mutual, &me, link),
        }
    }

    tracing::info!("otrbot stopping");
    let _ = stop_tx.send(true);
    let _ = scan.await;
    let _ = admin_task.await;
    let _ = xmpp_task.await;
    if web_failed.is_none() {
        let _ = web.await;
    }
    let _ = lti.sender.await;
    if let Err(e) = std::fs::remove_file(&sock) {
        tracing::warn!(error = %e, "cannot remove the admin socket");
    }
    let _ = tokio::task::spawn_blocking(move || pool.stop()).await;
    store.flush_async().await.map_err(store_failure)?;
    tracing::info!("store flushed; stopped");
    match web_failed {
        Some(e) => Err(Failure::new(ExitCode::Unknown, e)),
        None => Ok(()),
    }
}

async fn send_all(tx: &mpsc::Sender<Command>, cmds: Vec<Command>) {
    for c in cmds {
        if tx.send(c).await.is_err() {
            tracing::warn!("the XMPP connection has stopped");
            return;
        }
    }
}

/// Queues commands for the connection without ever waiting on it from the main loop: the
/// connection may itself be waiting for this loop to take its events (both channels full).
/// What does not fit now is sent from its own task; when `droppable` (refusals to strangers,
/// under a flood) it is dropped instead.
fn queue(tx: &mpsc::Sender<Command>, cmds: Vec<Command>, droppable: bool) {
    use tokio::sync::mpsc::error::TrySendError;
    let mut rest = cmds.into_iter();
    while let Some(c) = rest.next() {
        match tx.try_send(c) {
            Ok(()) => {}
            Err(TrySendError::Closed(_)) => {
                tracing::warn!("the XMPP connection has stopped");
                return;
            }
            Err(TrySendError::Full(_)) if droppable => {
                tracing::debug!("command queue full; a refusal is dropped");
                return;
            }
            Err(TrySendError::Full(c)) => {
                let (tx, more) = (tx.clone(), std::iter::once(c).chain(rest).collect());
                tokio::spawn(async move { send_all(&tx, more).await });
                return;
            }
        }
    }
}

fn on_link(
    store: &Store,
    tx: &mpsc::Sender<Command>,
    teacher: &teach::Teacher,
    mutual: &mut roster::Mutual,
    me: &tokio_xmpp::jid::BareJid,
    link: Link,
) {
    use crate::xmpp::stanza::{Incoming, Outgoing};
    match link {
        Link::Online(jid) => tracing::info!(%jid, "xmpp online again"),
        Link::Offline(why) => tracing::warn!(%why, "xmpp connection lost; reconnecting"),
        Link::In(i) => match roster::on_incoming(store, &i) {
            Some(cmds) => {
                tracing::debug!(event = ?i, commands = cmds.len(), "roster traffic");
                let refusal = cmds
                    .iter()
                    .all(|c| matches!(c, Command::Send(Outgoing::Unsubscribed(_))));
                queue(tx, cmds, refusal);
                for jid in roster::now_mutual(store, &i, mutual) {
                    let t = teacher.clone();
                    tokio::spawn(async move { t.on_subscribed(jid).await });
                }
            }
            None => match i {
                Incoming::Chat { from, body } => {
                    tracing::debug!(%from, text = %crate::logging::UserText(&body), "chat message");
                    teacher.chat_in_order(from, body);
                }
                Incoming::Omemo {
                    from,
                    message,
                    body,
                } => teacher.omemo_in_order(from, message, body),
                Incoming::PepAnswer { id, answer } => teacher.pep_answer(&id, answer),
                Incoming::DeviceList { from, ids } if from == *me => {
                    // The account's own list: another client of it may have replaced it.
                    if let Some(p) = teacher.omemo().publication_unless_listed(&ids) {
                        tracing::warn!(
                            listed = ?ids,
                            "the bot's OMEMO device list no longer names its devices; publishing it again"
                        );
                        queue(tx, vec![Command::PublishOmemo(p)], false);
                    }
                }
                Incoming::DeviceList { from, ids } => {
                    let t = teacher.clone();
                    tokio::spawn(async move { t.on_device_list(from, ids).await });
                }
                Incoming::TooLarge { from, bytes } => {
                    tracing::info!(%from, bytes, "oversized message ignored");
                }
                _ => {}
            },
        },
    }
}

/// Listens for SIGINT and SIGTERM from the moment it is called (inside the runtime); the
/// future resolves on the first of them.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    async move {
        match (term, int) {
            (Ok(mut t), Ok(mut i)) => {
                tokio::select! {
                    _ = t.recv() => {}
                    _ = i.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
}
