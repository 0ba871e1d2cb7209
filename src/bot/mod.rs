//! The orchestrator: stanzas through `otr` and `lesson`, actions to `store` and `xmpp`.
//!
//! For now `run` owns the store and its background work: the key-pool filler, the deadline
//! scanner and the admin socket. The XMPP side comes later and will consume the same events.

pub mod admin;
mod data_dir;

use crate::exit::{ExitCode, Failure};
use crate::settings::Settings;
use crate::store::{self, scanner, DeadlineKind, Due, KeyPool, Store, Timeouts};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

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
        .seed_whitelist(&settings.whitelist, scanner::unix_now())
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
    let pool_size = settings.store.key_pool_size;
    let pool = KeyPool::start(store.clone(), pool_size, Arc::new(store::default_dsa_key))
        .map_err(|e| Failure::new(ExitCode::Unknown, format!("cannot start the key pool: {e}")))?;
    let pool = Arc::new(pool);
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
    let (admin_tx, mut admin_rx) = mpsc::channel(64);
    let admin_task = tokio::spawn(admin::serve(
        listener,
        store.clone(),
        admin_tx.clone(),
        stop_rx.clone(),
    ));
    // The LTI pages and the grade sender: same process, same runtime, same commands.
    let catalogs = match crate::i18n::Catalogs::load(std::path::Path::new("locales")) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            tracing::warn!(error = %e, "no translations loaded; pages and chat in English");
            Arc::new(crate::i18n::Catalogs::empty())
        }
    };
    let lti = crate::lti::run::start(
        &settings,
        store.clone(),
        pool.clone(),
        catalogs,
        admin_tx,
        stop_rx,
    )
    .await
    .map_err(|e| Failure::new(ExitCode::BadSetting, e))?;

    tracing::info!(
        account = %settings.account().jid,
        data = %settings.store.data_dir.display(),
        "otrbot started"
    );
    tracing::info!(target_keys = pool_size, "running: key pool filler");
    tracing::info!(every_s = interval.as_secs(), "running: deadline scanner");
    tracing::info!(socket = %sock.display(), "running: admin socket");
    tracing::info!(address = %lti.address, public_url = %settings.lti.public_url, "running: LTI pages and grade sender");

    tokio::pin!(signal);
    loop {
        tokio::select! {
            _ = &mut signal => break,
            Some(d) = due_rx.recv() => on_due(&store, d).await,
            Some(ev) = admin_rx.recv() => tracing::info!(event = ?ev, "admin change"),
        }
    }

    tracing::info!("otrbot stopping");
    let _ = stop_tx.send(true);
    let _ = scan.await;
    let _ = admin_task.await;
    let _ = lti.server.await;
    let _ = lti.sender.await;
    if let Err(e) = std::fs::remove_file(&sock) {
        tracing::warn!(error = %e, "cannot remove the admin socket");
    }
    let _ = tokio::task::spawn_blocking(move || pool.stop()).await;
    store.flush_async().await.map_err(store_failure)?;
    tracing::info!("store flushed; stopped");
    Ok(())
}

/// Acts on a due deadline: each transition happens once even if the scanner repeats itself.
async fn on_due(store: &Store, d: Due) {
    let now = scanner::unix_now();
    let (s, jid) = (store.clone(), d.jid.clone());
    let r = tokio::task::spawn_blocking(move || match d.kind {
        DeadlineKind::Warn => s.mark_warned(&jid, now).map(|w| w.then_some("warned")),
        DeadlineKind::Expire => s
            .expire_if_due(&jid, now)
            .map(|r| r.map(|_| "expired and deleted")),
    })
    .await;
    match r {
        Ok(Ok(Some(what))) => tracing::info!(jid = %d.jid, "session {what}"),
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::error!(jid = %d.jid, error = %e, "cannot act on a deadline"),
        Err(e) => tracing::error!(error = %e, "deadline task failed"),
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
