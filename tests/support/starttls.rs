//! The server side of STARTTLS for tests that play an XMPP server themselves: a TLS acceptor
//! with the test Prosody's certificate, and a stream taken up to the TLS handshake.

use super::prosody;
use futures::{SinkExt, StreamExt};
use std::borrow::Cow;
use std::sync::Arc;
use tokio::io::BufStream;
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{ServerConfig, SupportedProtocolVersion};
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_xmpp::parsers::starttls::{Nonza, Proceed, StartTls};
use tokio_xmpp::parsers::stream_features::StreamFeatures;
use tokio_xmpp::xmlstream::{accept_stream, StreamHeader, Timeouts, XmppStreamElement};

/// The stream header the test server sends.
pub fn header() -> StreamHeader<'static> {
    StreamHeader {
        from: Some(Cow::Borrowed("localhost")),
        to: None,
        id: Some(Cow::Borrowed("s1")),
    }
}

/// A TLS acceptor for `localhost` speaking only `versions`.
pub fn acceptor(versions: &[&'static SupportedProtocolVersion]) -> TlsAcceptor {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(prosody::ca_file())
        .expect("test certificate")
        .collect::<Result<_, _>>()
        .expect("PEM");
    let key =
        PrivateKeyDer::from_pem_file(prosody::dir().join("certs/localhost.key")).expect("test key");
    let config = ServerConfig::builder_with_protocol_versions(versions)
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config");
    TlsAcceptor::from(Arc::new(config))
}

/// Opens the client's stream, offers STARTTLS (required), and runs the TLS handshake.
pub async fn accept(tcp: TcpStream, tls: &TlsAcceptor) -> Result<TlsStream<TcpStream>, String> {
    fn e(what: &'static str) -> impl Fn(std::io::Error) -> String {
        move |x| format!("{what}: {x}")
    }
    let features = StreamFeatures {
        starttls: Some(StartTls { required: true }),
        ..Default::default()
    };
    let mut s = accept_stream(BufStream::new(tcp), "jabber:client", Timeouts::default())
        .await
        .map_err(e("stream"))?
        .send_header(header())
        .await
        .map_err(e("header"))?
        .send_features::<XmppStreamElement>(&features)
        .await
        .map_err(e("features"))?;
    match s.next().await {
        Some(Ok(XmppStreamElement::Starttls(Nonza::Request(_)))) => {}
        other => return Err(format!("expected <starttls/>, got {other:?}")),
    }
    s.send(&XmppStreamElement::Starttls(Nonza::Proceed(Proceed)))
        .await
        .map_err(e("proceed"))?;
    tls.accept(s.into_inner().into_inner())
        .await
        .map_err(e("TLS"))
}
