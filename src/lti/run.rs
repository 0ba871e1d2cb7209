//! Starting the LTI side inside `otrbot run`: Rocket on the bot's runtime and the grade
//! outbox sender, both stopped by the bot's shutdown signal.

use super::outcome::{self, Backoff};
use super::Course;
use super::{figment, path_prefix, rocket, App, Pages};
use crate::i18n::Catalogs;
use crate::settings::Settings;
use crate::store::{Store, Timeouts};
use std::sync::Arc;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// The running LTI side.
pub struct Running {
    /// Rocket's task; ends after shutdown, or early with why it failed.
    pub server: JoinHandle<Result<(), String>>,
    /// The grade sender's task.
    pub sender: JoinHandle<()>,
    /// The address Rocket listens on.
    pub address: String,
}

/// Starts Rocket and the grade sender; both stop when `stop` turns true. The pages reach the
/// bot only through `course`.
pub async fn start(
    settings: &Settings,
    store: Store,
    catalogs: Arc<Catalogs>,
    course: Arc<dyn Course>,
    stop: watch::Receiver<bool>,
) -> Result<Running, String> {
    let fig = figment(&settings.lti)?;
    let pages = Pages::load(
        settings.paths.templates(),
        catalogs,
        &settings.lesson.default_locale,
    )
    .map_err(|e| format!("setting `paths.templates`: {e}"))?;
    let timeouts = Timeouts {
        warning: settings.lesson.warning_timeout,
        session: settings.lesson.session_timeout,
    };
    let wake = Arc::new(Notify::new());
    let app = App {
        store: store.clone(),
        course,
        grade_wake: wake.clone(),
        pages,
        lti: settings.lti.clone(),
        format: settings.format.clone(),
        bot_jid: settings.account().jid.clone(),
        timeouts,
        visit_max_age: settings.lesson.session_timeout.max(3600) * 2,
        prefix: path_prefix(&settings.lti.public_url),
    };
    let ignited = rocket(app, fig)
        .ignite()
        .await
        .map_err(|e| format!("the LTI web server cannot start: {e}"))?;
    let (ip, port) = (ignited.config().address, ignited.config().port);
    let address = format!("{ip}:{port}");
    // Rocket binds only inside launch(), where a failure would leave the bot running without
    // its pages; a port that is taken or not allowed is found out here, before starting.
    if port != 0 {
        std::net::TcpListener::bind((ip, port)).map_err(|e| {
            format!(
                "setting `lti.address`/`lti.port`: the LTI pages cannot listen on {address}: {e}"
            )
        })?;
    }
    let shutdown = ignited.shutdown();
    let mut stop_web = stop.clone();
    tokio::spawn(async move {
        let _ = stop_web.wait_for(|s| *s).await;
        shutdown.notify();
    });
    let server = tokio::spawn(async move {
        ignited
            .launch()
            .await
            .map(|_| ())
            .map_err(|e| format!("the LTI web server failed: {e}"))
    });
    let tls = match crate::xmpp::tls::client_config(&settings.tls) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(error = %e, "grade sender: no TLS configuration; https outcome URLs will fail");
            None
        }
    };
    let sender = tokio::spawn(outcome::run_sender(
        store,
        settings.lti.consumers.clone(),
        tls,
        Backoff {
            timeout: std::time::Duration::from_secs(settings.lti.grade_timeout),
            ..Backoff::default()
        },
        wake,
        stop,
    ));
    Ok(Running {
        server,
        sender,
        address,
    })
}
