//! Our own tokio-xmpp connectors: STARTTLS with our rustls config and version checks,
//! and plain TCP for loopback test servers only.

use super::tls::version_ok;
use futures::{SinkExt, StreamExt};
use sasl::common::ChannelBinding;
use std::borrow::Cow;
use std::fmt;
use std::io;
use std::sync::{Arc, Mutex};
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_xmpp::connect::{DnsConfig, ServerConnector, ServerConnectorError};
use tokio_xmpp::jid::Jid;
use tokio_xmpp::parsers::starttls;
use tokio_xmpp::rustls::{pki_types::ServerName, ClientConfig, ProtocolVersion};
use tokio_xmpp::xmlstream::{
    initiate_stream, PendingFeaturesRecv, ReadError, StreamHeader, Timeouts, XmppStream,
    XmppStreamElement,
};
use tokio_xmpp::Error;

/// A TLS failure as the connector saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsFailure {
    /// The handshake failed (certificate, protocol).
    Handshake(String),
    /// The negotiated version or suite is not what the settings allow.
    NotAsConfigured(String),
    /// The server does not offer STARTTLS.
    NotOffered,
}

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsFailure::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
            TlsFailure::NotAsConfigured(e) => write!(f, "TLS not as configured: {e}"),
            TlsFailure::NotOffered => f.write_str("the server does not offer STARTTLS"),
        }
    }
}

impl std::error::Error for TlsFailure {}
impl ServerConnectorError for TlsFailure {}

/// What the last TLS handshake negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The protocol version, e.g. "TLSv1_3".
    pub version: String,
    /// The cipher suite, e.g. "TLS13_AES_256_GCM_SHA384".
    pub suite: String,
}

/// STARTTLS with our rustls configuration; remembers what was negotiated.
#[derive(Clone)]
pub struct StartTls {
    dns: DnsConfig,
    config: Arc<ClientConfig>,
    min_version: ProtocolVersion,
    channel_binding: bool,
    last: Arc<Mutex<Option<Negotiated>>>,
}

impl fmt::Debug for StartTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartTls")
            .field("dns", &self.dns)
            .field("min_version", &self.min_version)
            .field("channel_binding", &self.channel_binding)
            .finish()
    }
}

impl StartTls {
    /// A connector to `host:port` (or DNS for the JID's domain when `host` is None).
    pub fn new(dns: DnsConfig, config: Arc<ClientConfig>, min_version: ProtocolVersion) -> Self {
        StartTls {
            dns,
            config,
            min_version,
            channel_binding: false,
            last: Arc::default(),
        }
    }

    /// Offers tls-exporter channel binding (only when the server offers SCRAM-*-PLUS).
    pub fn with_channel_binding(mut self, on: bool) -> Self {
        self.channel_binding = on;
        self
    }

    /// What the most recent handshake negotiated.
    pub fn negotiated(&self) -> Option<Negotiated> {
        self.last.lock().ok().and_then(|g| g.clone())
    }
}

fn header(jid: &Jid) -> StreamHeader<'_> {
    StreamHeader {
        to: Some(Cow::Borrowed(jid.domain().as_str())),
        from: None,
        id: None,
    }
}

async fn request_starttls(stream: &mut XmppStream<BufStream<TcpStream>>) -> Result<(), Error> {
    stream
        .send(&XmppStreamElement::Starttls(starttls::Nonza::Request(
            starttls::Request,
        )))
        .await?;
    loop {
        match stream
            .next()
            .await
            .map(|r| r.and_then(|e| e.into_read_error()))
        {
            Some(Ok(XmppStreamElement::Starttls(starttls::Nonza::Proceed(_)))) => return Ok(()),
            Some(Ok(_)) | Some(Err(ReadError::SoftTimeout)) => {}
            Some(Err(ReadError::HardError(e))) => return Err(e.into()),
            Some(Err(ReadError::ParseError(e))) => {
                return Err(io::Error::new(io::ErrorKind::InvalidData, e).into())
            }
            None | Some(Err(ReadError::StreamFooterReceived)) => return Err(Error::Disconnected),
        }
    }
}

impl ServerConnector for StartTls {
    type Stream = BufStream<tokio_rustls::client::TlsStream<TcpStream>>;

    async fn connect(
        &self,
        jid: &Jid,
        ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<(PendingFeaturesRecv<Self::Stream>, ChannelBinding), Error> {
        let tcp = BufStream::new(self.dns.resolve().await?);
        let pending = initiate_stream(tcp, ns, header(jid), timeouts).await?;
        let (features, mut stream) = pending.recv_features().await?;
        if !features.can_starttls() {
            return Err(Error::Connection(Box::new(TlsFailure::NotOffered)));
        }
        request_starttls(&mut stream).await?;
        let tcp = stream.into_inner().into_inner();
        let name = ServerName::try_from(jid.domain().as_str().to_owned())
            .map_err(|e| Error::Connection(Box::new(TlsFailure::Handshake(e.to_string()))))?;
        let tls = TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| Error::Connection(Box::new(handshake_failure(&e, self.min_version))))?;
        let conn = tls.get_ref().1;
        let version = conn.protocol_version();
        let suite = conn.negotiated_cipher_suite();
        let seen = Negotiated {
            version: version.map_or("none".into(), |v| format!("{v:?}")),
            suite: suite.map_or("none".into(), |s| format!("{:?}", s.suite())),
        };
        if let Ok(mut g) = self.last.lock() {
            *g = Some(seen.clone());
        }
        if !version.is_some_and(|v| version_ok(v, self.min_version)) || suite.is_none() {
            return Err(Error::Connection(Box::new(TlsFailure::NotAsConfigured(
                format!(
                    "negotiated {} with {}; setting `tls.min_version` requires {:?} or later",
                    seen.version, seen.suite, self.min_version
                ),
            ))));
        }
        let binding = if self.channel_binding && version == Some(ProtocolVersion::TLSv1_3) {
            let data = conn
                .export_keying_material(vec![0u8; 32], b"EXPORTER-Channel-Binding", None)
                .map_err(|e| Error::Connection(Box::new(TlsFailure::Handshake(e.to_string()))))?;
            ChannelBinding::TlsExporter(data)
        } else {
            ChannelBinding::None
        };
        let pending = initiate_stream(BufStream::new(tls), ns, header(jid), timeouts).await?;
        Ok((pending, binding))
    }
}

/// Names a failed handshake: one that the settings ruled out (the server offers no protocol
/// version or cipher suite they allow) is [`TlsFailure::NotAsConfigured`], anything else
/// (certificate, I/O) [`TlsFailure::Handshake`].
fn handshake_failure(e: &io::Error, min: ProtocolVersion) -> TlsFailure {
    use tokio_xmpp::rustls::{AlertDescription as A, Error as R};
    let ruled_out = matches!(
        e.get_ref().and_then(|i| i.downcast_ref::<R>()),
        Some(
            R::PeerIncompatible(_)
                | R::AlertReceived(
                    A::ProtocolVersion | A::HandshakeFailure | A::InsufficientSecurity
                )
        )
    );
    if ruled_out {
        TlsFailure::NotAsConfigured(format!(
            "the server offers no TLS version or cipher suite that the settings allow \
             (setting `tls.min_version`: {min:?} or later): {e}"
        ))
    } else {
        TlsFailure::Handshake(e.to_string())
    }
}

/// Plain TCP, for a loopback test server when `tls.allow_plaintext_loopback` is set.
#[derive(Debug, Clone)]
pub struct PlainLoopback(pub DnsConfig);

impl ServerConnector for PlainLoopback {
    type Stream = BufStream<TcpStream>;

    async fn connect(
        &self,
        jid: &Jid,
        ns: &'static str,
        timeouts: Timeouts,
    ) -> Result<(PendingFeaturesRecv<Self::Stream>, ChannelBinding), Error> {
        let tcp = self.0.resolve().await?;
        let loopback = tcp
            .peer_addr()
            .map(|a| a.ip().is_loopback())
            .unwrap_or(false);
        if !loopback {
            return Err(Error::Connection(Box::new(TlsFailure::NotAsConfigured(
                "plain text is only allowed to a loopback address".into(),
            ))));
        }
        let pending = initiate_stream(BufStream::new(tcp), ns, header(jid), timeouts).await?;
        Ok((pending, ChannelBinding::None))
    }
}
