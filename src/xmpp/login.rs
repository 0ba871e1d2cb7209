//! Logging in: a probe that reports why a login fails (tokio-xmpp only retries), then the client.

use super::connector::{Negotiated, PlainLoopback, StartTls, TlsFailure};
use super::stream::Connection;
use super::tls::{client_config, min_version};
use crate::exit::{ExitCode, Failure};
use crate::settings::Settings;
use futures::StreamExt;
use sasl::common::{ChannelBinding, Credentials};
use std::net::IpAddr;
use std::time::Duration;
use tokio_xmpp::connect::{DnsConfig, ServerConnector};
use tokio_xmpp::jid::{BareJid, Jid};
use tokio_xmpp::xmlstream::Timeouts;
use tokio_xmpp::Event;
use zeroize::Zeroizing;

/// Why the bot could not log in.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The server could not be reached (DNS, refused, timeout).
    #[error("cannot reach the XMPP server {server}: {detail}")]
    Unreachable {
        /// Host and port tried.
        server: String,
        /// What failed.
        detail: String,
    },
    /// TLS failed or was not as configured.
    #[error("{0}")]
    Tls(TlsFailure),
    /// The server refused the credentials.
    #[error("the XMPP server refused the login of {jid} ({detail}): check the password and that the account exists")]
    Auth {
        /// The account.
        jid: String,
        /// The server's reason.
        detail: String,
    },
    /// Anything else on the stream.
    #[error("XMPP login failed: {0}")]
    Protocol(String),
    /// No answer in time.
    #[error("no XMPP login after {0:?}")]
    Timeout(Duration),
    /// The settings cannot make a connection.
    #[error("{0}")]
    Setup(String),
}

impl LoginError {
    /// The exit code this failure deserves.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            LoginError::Tls(TlsFailure::NotAsConfigured(_)) => ExitCode::TlsNotAsConfigured,
            LoginError::Setup(_) => ExitCode::BadSetting,
            _ => ExitCode::XmppLogin,
        }
    }
}

impl From<LoginError> for Failure {
    fn from(e: LoginError) -> Self {
        Failure::new(e.exit_code(), e.to_string())
    }
}

/// What a successful probe learnt.
#[derive(Debug, Clone)]
pub struct ProbeInfo {
    /// The TLS version and suite (None for plain loopback).
    pub negotiated: Option<Negotiated>,
    /// SASL mechanisms offered.
    pub mechanisms: Vec<String>,
    /// Whether SCRAM-*-PLUS (channel binding) is offered.
    pub plus_offered: bool,
}

/// How to log in as one account.
#[derive(Clone)]
pub struct Login {
    jid: BareJid,
    password: Zeroizing<String>,
    dns: DnsConfig,
    server: String,
    tls: Option<StartTls>,
}

fn dns_for(host: Option<&str>, port: u16, domain: &str) -> (DnsConfig, String) {
    match host {
        Some(h) => match h.parse::<IpAddr>() {
            Ok(IpAddr::V6(ip)) => (
                DnsConfig::addr(&format!("[{ip}]:{port}")),
                format!("[{ip}]:{port}"),
            ),
            Ok(ip) => (
                DnsConfig::addr(&format!("{ip}:{port}")),
                format!("{ip}:{port}"),
            ),
            Err(_) => (DnsConfig::no_srv(h, port), format!("{h}:{port}")),
        },
        None => (
            DnsConfig::srv_default_client(domain),
            format!("{domain} (SRV)"),
        ),
    }
}

fn classify(e: tokio_xmpp::Error, jid: &BareJid, server: &str) -> LoginError {
    use tokio_xmpp::Error as E;
    match e {
        E::Io(io) => LoginError::Unreachable {
            server: server.into(),
            detail: io.to_string(),
        },
        E::Connection(c) => {
            let c: &(dyn std::error::Error + 'static) = &*c;
            match c.downcast_ref::<TlsFailure>() {
                Some(t) => LoginError::Tls(t.clone()),
                None => LoginError::Protocol(c.to_string()),
            }
        }
        E::Auth(a) => LoginError::Auth {
            jid: jid.to_string(),
            detail: a.to_string(),
        },
        E::Disconnected => LoginError::Unreachable {
            server: server.into(),
            detail: "the server closed the connection".into(),
        },
        #[allow(unreachable_patterns)]
        e @ (E::DnsProto(_) | E::DnsNet(_) | E::Idna) => LoginError::Unreachable {
            server: server.into(),
            detail: e.to_string(),
        },
        other => LoginError::Protocol(other.to_string()),
    }
}

impl Login {
    /// The default account of the settings.
    pub fn from_settings(s: &Settings) -> Result<Login, LoginError> {
        let a = s.account();
        let jid = super::jid::parse_bare(&a.jid).map_err(|e| {
            LoginError::Setup(format!(
                "setting `xmpp.accounts.{}.jid`: {e}",
                s.xmpp.default_account
            ))
        })?;
        let password = a.password.clone().ok_or_else(|| {
            LoginError::Setup(format!(
                "setting `xmpp.accounts.{}.password` is missing",
                s.xmpp.default_account
            ))
        })?;
        let (dns, server) = dns_for(a.host.as_deref(), a.port, jid.domain().as_str());
        let tls = if s.tls.enabled {
            let cfg = client_config(&s.tls).map_err(|e| LoginError::Setup(e.to_string()))?;
            Some(StartTls::new(dns.clone(), cfg, min_version(&s.tls)))
        } else {
            None
        };
        Ok(Login {
            jid,
            password: Zeroizing::new(password),
            dns,
            server,
            tls,
        })
    }

    /// The account's bare JID.
    pub fn jid(&self) -> &BareJid {
        &self.jid
    }

    async fn probe_with<C: ServerConnector>(&self, c: &C) -> Result<ProbeInfo, tokio_xmpp::Error> {
        let jid = Jid::from(self.jid.clone());
        let (pending, _) = c
            .connect(&jid, "jabber:client", Timeouts::default())
            .await?;
        let (features, stream) = pending.recv_features().await?;
        let mechanisms: Vec<String> = features.sasl_mechanisms.iter().cloned().collect();
        let plus_offered = mechanisms.iter().any(|m| m.ends_with("-PLUS"));
        let node = self.jid.node().map(|n| n.as_str()).unwrap_or_default();
        let creds = Credentials::default()
            .with_username(node)
            .with_password(self.password.as_str())
            .with_channel_binding(ChannelBinding::None);
        tokio_xmpp::client_login(stream, features.sasl_mechanisms, creds).await?;
        Ok(ProbeInfo {
            negotiated: None,
            mechanisms,
            plus_offered,
        })
    }

    /// Connects once and authenticates, reporting exactly why it fails.
    pub async fn probe(&self, timeout: Duration) -> Result<ProbeInfo, LoginError> {
        let fut = async {
            match &self.tls {
                Some(t) => self.probe_with(t).await.map(|mut p| {
                    p.negotiated = t.negotiated();
                    p
                }),
                None => self.probe_with(&PlainLoopback(self.dns.clone())).await,
            }
        };
        match tokio::time::timeout(timeout, fut).await {
            Ok(r) => r.map_err(|e| classify(e, &self.jid, &self.server)),
            Err(_) => Err(LoginError::Timeout(timeout)),
        }
    }

    /// Probes, then starts a reconnecting connection and waits until it is online.
    pub async fn connect(
        &self,
        timeout: Duration,
    ) -> Result<(Connection, Jid, ProbeInfo), LoginError> {
        let info = self.probe(timeout).await?;
        let jid = Jid::from(self.jid.clone());
        let password = self.password.as_str().to_owned();
        let mut conn = match &self.tls {
            Some(t) => Connection::start(
                t.clone().with_channel_binding(info.plus_offered),
                jid,
                password,
            ),
            None => Connection::start(PlainLoopback(self.dns.clone()), jid, password),
        };
        // The probe has shown that a login works; a failed attempt now is retried.
        let wait = async {
            while let Some(ev) = conn.next().await {
                if let Event::Online { bound_jid, .. } = ev {
                    return Ok(bound_jid);
                }
            }
            Err(LoginError::Protocol(
                "the connection stopped before going online".into(),
            ))
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(bound)) => Ok((conn, bound, info)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(LoginError::Timeout(timeout)),
        }
    }
}
