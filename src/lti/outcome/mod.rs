//! LTI 1.1 Basic Outcomes: the `replaceResult` POX message, its signed POST, and the
//! outbox sender that retries with back-off until the LMS answers `success`.

pub mod http;
pub mod pox;

pub use http::{request, MAX_RESPONSE};
pub use pox::{code_major, replace_result_xml};

use super::oauth;
use crate::store::{GradeRequest, Store};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Why a grade was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The URL cannot be used.
    #[error("bad outcome URL: {0}")]
    Url(String),
    /// No secret for the consumer key (settings changed since the launch).
    #[error("consumer key {0:?} is no longer configured")]
    UnknownConsumer(String),
    /// Connecting, TLS or HTTP failed.
    #[error("{0}")]
    Transport(String),
    /// The LMS answered with an HTTP error.
    #[error("HTTP {0}")]
    Status(u16),
    /// The request could not be written (text XML cannot carry).
    #[error(transparent)]
    Xml(#[from] pox::XmlError),
    /// The LMS answered, but not with `success`.
    #[error("LMS answered imsx_codeMajor {0:?}")]
    NotSuccess(String),
}

fn random_token() -> String {
    let mut b = [0u8; 16];
    // getrandom only fails when the OS has no entropy source; a time-based nonce would then
    // still be unique enough for a retry, so fall back instead of panicking.
    if getrandom::fill(&mut b).is_err() {
        let t = crate::clock::unix_now();
        b[..8].copy_from_slice(&t.to_be_bytes());
    }
    data_encoding::HEXLOWER.encode(&b)
}

/// Sends one grade and waits for the LMS's answer.
pub async fn send(
    g: &GradeRequest,
    secret: &str,
    tls: Option<&Arc<tokio_rustls::rustls::ClientConfig>>,
    timeout: Duration,
    now: u64,
) -> Result<(), SendError> {
    let body = replace_result_xml(&random_token(), &g.sourcedid, g.score)?;
    let auth = oauth::authorization_for_body(
        &g.url,
        &g.consumer_key,
        secret,
        body.as_bytes(),
        now,
        &random_token(),
    )
    .map_err(|e| SendError::Url(e.to_string()))?;
    let headers = [
        (hyper::header::CONTENT_TYPE, "application/xml".to_owned()),
        (hyper::header::AUTHORIZATION, auth),
    ];
    let (status, text) = request(hyper::Method::POST, &g.url, &headers, body, tls, timeout).await?;
    if !(200..300).contains(&status) {
        return Err(SendError::Status(status));
    }
    match code_major(&text) {
        Some(c) if c == "success" => Ok(()),
        Some(c) => Err(SendError::NotSuccess(c)),
        None => Err(SendError::NotSuccess("(none)".into())),
    }
}

/// How the sender paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The delay after the first failure; doubled after each further one.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
    /// How often the outbox is looked at when nothing wakes the sender.
    pub poll: Duration,
    /// How long one try may take, connection to answer (`lti.grade_timeout`).
    pub timeout: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(3600),
            poll: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// Seconds to wait after failure number `attempts` (1 for the first).
    pub fn delay(&self, attempts: u32) -> u64 {
        let shift = attempts.saturating_sub(1).min(30);
        let d = self.base.as_secs().max(1).saturating_mul(1u64 << shift);
        d.min(self.max.as_secs().max(1))
    }
}

/// Where a grade goes: the outcome URL's scheme and authority. One LMS's grades are sent one
/// after another; different LMSes are served at once, so a slow one delays only itself.
pub fn lms_of(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase()
    )
}

/// What the sender needs for every try.
#[derive(Clone)]
pub struct Sender {
    /// The outbox.
    pub store: Store,
    /// Consumer key → secret, to sign with.
    pub consumers: Arc<BTreeMap<String, String>>,
    /// TLS for https outcome URLs.
    pub tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    /// Pacing and the per-try timeout.
    pub backoff: Backoff,
}

impl Sender {
    /// Tries `grades` of one LMS in order; each failure is retried `backoff` after the end
    /// of its try (not its start: a hung LMS is not retried at once). Returns how many the
    /// LMS accepted.
    pub async fn send_lms(&self, grades: Vec<(u64, GradeRequest)>) -> usize {
        let mut sent = 0;
        for (id, g) in grades {
            let started = crate::clock::unix_now();
            let r = match self.consumers.get(&g.consumer_key) {
                Some(secret) => {
                    send(&g, secret, self.tls.as_ref(), self.backoff.timeout, started).await
                }
                None => Err(SendError::UnknownConsumer(g.consumer_key.clone())),
            };
            match r {
                Ok(()) => {
                    tracing::info!(id, url = %g.url, attempts = g.attempts + 1, "grade accepted by the LMS");
                    if let Err(e) = self.store.grade_done(id) {
                        tracing::error!(id, error = %e, "grade outbox: cannot remove a sent grade");
                    }
                    sent += 1;
                }
                Err(e) => {
                    let ended = crate::clock::unix_now();
                    let next =
                        ended.saturating_add(self.backoff.delay(g.attempts.saturating_add(1)));
                    tracing::warn!(id, url = %g.url, attempts = g.attempts + 1, next_try = next, error = %e, "grade not accepted; will retry");
                    if let Err(e2) = self.store.grade_retry(id, next, &e.to_string()) {
                        tracing::error!(id, error = %e2, "grade outbox: cannot record a retry");
                    }
                }
            }
        }
        sent
    }

    /// The grades due at `now`, by LMS ([`lms_of`]), oldest first within each.
    fn due_by_lms(&self, now: u64) -> BTreeMap<String, Vec<(u64, GradeRequest)>> {
        let mut by = BTreeMap::<String, Vec<_>>::new();
        match self.store.grades_due(now) {
            Ok(due) => {
                for (id, g) in due {
                    by.entry(lms_of(&g.url)).or_default().push((id, g));
                }
            }
            Err(e) => tracing::error!(error = %e, "grade outbox: cannot read"),
        }
        by
    }
}

/// Sends what is due in the outbox once, every LMS at the same time; returns how many were
/// accepted.
pub async fn send_due(
    store: &Store,
    consumers: &BTreeMap<String, String>,
    tls: Option<&Arc<tokio_rustls::rustls::ClientConfig>>,
    backoff: Backoff,
    now: u64,
) -> usize {
    let sender = Sender {
        store: store.clone(),
        consumers: Arc::new(consumers.clone()),
        tls: tls.cloned(),
        backoff,
    };
    let runs = sender
        .due_by_lms(now)
        .into_values()
        .map(|grades| sender.send_lms(grades));
    futures::future::join_all(runs).await.into_iter().sum()
}

/// The outbox sender task: runs until `stop` turns true; `wake` makes it look at once
/// (after a grade was enqueued). It reads the outbox at start, so grades survive restarts.
/// Each LMS gets its own task while it has grades due, so one that hangs or is down holds
/// back no other LMS's grades.
pub async fn run_sender(
    store: Store,
    consumers: BTreeMap<String, String>,
    tls: Option<Arc<tokio_rustls::rustls::ClientConfig>>,
    backoff: Backoff,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let sender = Sender {
        store,
        consumers: Arc::new(consumers),
        tls,
        backoff,
    };
    let mut busy = tokio::task::JoinSet::new();
    let mut sending = std::collections::BTreeSet::<String>::new();
    loop {
        if *stop.borrow() {
            break;
        }
        let now = crate::clock::unix_now();
        for (lms, grades) in sender.due_by_lms(now) {
            if sending.insert(lms.clone()) {
                let s = sender.clone();
                busy.spawn(async move {
                    s.send_lms(grades).await;
                    lms
                });
            }
        }
        // The next due grade of an LMS that is not being served right now.
        let next = sender.store.grades().ok().and_then(|gs| {
            gs.iter()
                .filter(|(_, g)| !sending.contains(&lms_of(&g.url)))
                .map(|(_, g)| g.next_try)
                .min()
        });
        let now = crate::clock::unix_now();
        let wait = match next {
            Some(t) if t <= now => Duration::from_millis(100),
            Some(t) => Duration::from_secs(t - now).min(backoff.poll),
            None => backoff.poll,
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = wake.notified() => {}
            Some(done) = busy.join_next(), if !busy.is_empty() => {
                match done {
                    Ok(lms) => { sending.remove(&lms); }
                    Err(e) => {
                        tracing::error!(error = %e, "grade sender task failed");
                        sending.clear();
                    }
                }
            }
            _ = stop.wait_for(|s| *s) => break,
        }
    }
    busy.abort_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lms_is_scheme_and_authority() {
        assert_eq!(
            lms_of("https://LMS.example.org:8443/outcomes?x=1"),
            "https://lms.example.org:8443"
        );
        assert_eq!(lms_of("http://a.example/b#c"), "http://a.example");
        assert_ne!(lms_of("https://a.example/x"), lms_of("https://b.example/x"));
    }

    #[test]
    fn backoff_doubles_up_to_max() {
        let b = Backoff {
            base: Duration::from_secs(10),
            max: Duration::from_secs(100),
            poll: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
        };
        assert_eq!(
            (1..=6).map(|a| b.delay(a)).collect::<Vec<_>>(),
            [10, 20, 40, 80, 100, 100]
        );
        assert_eq!(b.delay(u32::MAX), 100);
    }
}
