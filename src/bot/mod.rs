//! The orchestrator: stanzas through `otr` and `lesson`, actions to `store` and `xmpp`.

mod data_dir;

use crate::exit::{ExitCode, Failure};
use crate::settings::Settings;

pub use data_dir::ensure_private_dir;

/// Runs the bot until SIGINT or SIGTERM.
pub fn run(settings: Settings) -> Result<(), Failure> {
    ensure_private_dir(&settings.store.data_dir).map_err(|e| {
        Failure::new(
            ExitCode::Store,
            format!(
                "setting `store.data_dir` ({}): {e}",
                settings.store.data_dir.display()
            ),
        )
    })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("otrbot")
        .build()
        .map_err(|e| Failure::new(ExitCode::Unknown, format!("cannot start the runtime: {e}")))?;
    rt.block_on(async {
        tracing::info!(
            account = %settings.account().jid,
            data = %settings.store.data_dir.display(),
            "otrbot started"
        );
        shutdown_signal().await;
        tracing::info!("otrbot stopping");
    });
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
