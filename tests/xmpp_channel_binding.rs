//! SCRAM channel binding (tls-exporter, RFC 9266) when the server offers SCRAM-*-PLUS.
//!
//! Debian's Prosody 0.12 binds only with tls-unique, which TLS 1.3 does not define, so it
//! never offers -PLUS here. This test runs its own small XMPP server instead (STARTTLS with
//! rustls, SCRAM-SHA-256 and -PLUS checked from the RFC 5802 formulas, resource binding):
//! it records what the bot's login sent and fails the login if the binding data is wrong.

mod support;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use futures::{SinkExt, StreamExt};
use otrbot::xmpp::login::Login;
use sasl::common::scram::{ScramProvider, Sha256};
use sasl::secret::{Pbkdf2Secret, Pbkdf2Sha256};
use std::time::Duration;
use support::{prosody, starttls};
use tokio::io::BufStream;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::rustls::version::{TLS12, TLS13};
use tokio_rustls::TlsAcceptor;
use tokio_xmpp::parsers::bind::{BindFeature, BindQuery, BindResponse};
use tokio_xmpp::parsers::iq::Iq;
use tokio_xmpp::parsers::sasl::{Challenge, Nonza as Sasl, Success};
use tokio_xmpp::parsers::stream_features::StreamFeatures;
use tokio_xmpp::xmlstream::{accept_stream, Timeouts, XmppStreamElement};
use tokio_xmpp::Stanza;

const T: Duration = Duration::from_secs(15);
const USER: &str = "learner";
const PASSWORD: &str = "binding-test-password";
const SALT: &[u8] = b"otrbot-test-salt";
const ITERATIONS: u32 = 4096;

/// What one login sent.
#[derive(Debug)]
struct Seen {
    mechanism: String,
    gs2_header: String,
    /// The `c=` attribute equalled the GS2 header plus the TLS exporter value (or nothing).
    binding_ok: bool,
}

fn attr<'a>(msg: &'a str, key: &str) -> Option<&'a str> {
    msg.split(',').find_map(|kv| kv.strip_prefix(key))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    Sha256::hmac(data, key).expect("HMAC key")
}

/// One client connection: STARTTLS, SCRAM (what the client sent goes to `seen`), bind.
async fn serve(
    tcp: TcpStream,
    tls: TlsAcceptor,
    mechs: &[&str],
    seen: mpsc::UnboundedSender<Seen>,
) -> Result<(), String> {
    fn e(what: &'static str) -> impl Fn(std::io::Error) -> String {
        move |x| format!("{what}: {x}")
    }
    let header = starttls::header;
    let tls = starttls::accept(tcp, &tls).await?;
    let mut exporter = [0u8; 32];
    tls.get_ref()
        .1
        .export_keying_material(&mut exporter, b"EXPORTER-Channel-Binding", None)
        .map_err(|x| format!("exporter: {x}"))?;

    let features = StreamFeatures {
        sasl_mechanisms: mechs.iter().map(|m| m.to_string()).collect(),
        ..Default::default()
    };
    let mut s = accept_stream(BufStream::new(tls), "jabber:client", Timeouts::default())
        .await
        .map_err(e("stream 2"))?
        .send_header(header())
        .await
        .map_err(e("header 2"))?
        .send_features::<XmppStreamElement>(&features)
        .await
        .map_err(e("features 2"))?;
    let (mechanism, first) = match s.next().await {
        Some(Ok(XmppStreamElement::Sasl(Sasl::Auth(a)))) => (a.mechanism.to_string(), a.data),
        other => return Err(format!("expected <auth/>, got {other:?}")),
    };
    let first = String::from_utf8(first).map_err(|x| x.to_string())?;
    let split = first.match_indices(',').nth(1).ok_or("no GS2 header")?.0 + 1;
    let (gs2_header, client_first_bare) = first.split_at(split);
    if attr(client_first_bare, "n=") != Some(USER) {
        return Err(format!("unexpected user in {client_first_bare:?}"));
    }
    let nonce = format!("{}server", attr(client_first_bare, "r=").ok_or("no nonce")?);
    let server_first = format!("r={nonce},s={},i={ITERATIONS}", B64.encode(SALT));
    s.send(&XmppStreamElement::Sasl(Sasl::Challenge(Challenge {
        data: server_first.clone().into_bytes(),
    })))
    .await
    .map_err(e("challenge"))?;
    let last = match s.next().await {
        Some(Ok(XmppStreamElement::Sasl(Sasl::Response(r)))) => r.data,
        other => return Err(format!("expected <response/>, got {other:?}")),
    };
    let last = String::from_utf8(last).map_err(|x| x.to_string())?;
    let (without_proof, proof) = last.rsplit_once(",p=").ok_or("no proof")?;
    let mut cbind = gs2_header.as_bytes().to_vec();
    if gs2_header.starts_with("p=") {
        cbind.extend_from_slice(&exporter);
    }
    let binding_ok = attr(without_proof, "c=") == Some(&B64.encode(&cbind))
        && attr(without_proof, "r=") == Some(&nonce);
    // RFC 5802 §3: the client proves the password over exactly what was exchanged.
    let salted = Pbkdf2Sha256::derive(PASSWORD, SALT, ITERATIONS).map_err(|x| x.to_string())?;
    let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
    let client_key = hmac(salted.digest(), b"Client Key");
    let signature = hmac(&Sha256::hash(&client_key), auth_message.as_bytes());
    let expected: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let _ = seen.send(Seen {
        mechanism,
        gs2_header: gs2_header.to_owned(),
        binding_ok,
    });
    if !binding_ok || B64.decode(proof).ok() != Some(expected) {
        return Err("authentication failed".into());
    }
    let server_key = hmac(salted.digest(), b"Server Key");
    let verifier = format!(
        "v={}",
        B64.encode(hmac(&server_key, auth_message.as_bytes()))
    );
    let success = XmppStreamElement::Sasl(Sasl::Success(Success {
        data: verifier.into_bytes(),
    }));
    let features = StreamFeatures {
        bind: Some(BindFeature { required: true }),
        ..Default::default()
    };
    let mut s = s
        .accept_reset(&success)
        .await
        .map_err(e("reset"))?
        .send_header(header())
        .await
        .map_err(e("header 3"))?
        .send_features::<XmppStreamElement>(&features)
        .await
        .map_err(e("features 3"))?;
    while let Some(Ok(el)) = s.next().await {
        if let XmppStreamElement::Stanza(Stanza::Iq(Iq::Set { id, payload, .. })) = el {
            if BindQuery::try_from(payload).is_ok() {
                let bound = BindResponse {
                    jid: format!("{USER}@localhost/bound").parse().expect("JID"),
                };
                let reply = Iq::from_result(id, Some(bound));
                s.send(&XmppStreamElement::Stanza(Stanza::Iq(reply)))
                    .await
                    .map_err(e("bind"))?;
                break;
            }
        }
    }
    Ok(())
}

/// Starts the server offering `mechs`; what each login sent arrives on the channel.
async fn server(mechs: &'static [&'static str]) -> (u16, mpsc::UnboundedReceiver<Seen>) {
    let acceptor = starttls::acceptor(&[&TLS13, &TLS12]);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            tokio::spawn(async move {
                if let Err(err) = serve(tcp, acceptor, mechs, tx).await {
                    eprintln!("test server: {err}");
                }
            });
        }
    });
    (port, rx)
}

fn login(port: u16) -> Login {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = prosody::settings_text(&format!("{USER}@localhost"), PASSWORD, dir.path()).replace(
        &format!("port = {}", prosody::port()),
        &format!("port = {port}"),
    );
    let s =
        otrbot::settings::from_toml(&text, std::path::Path::new(""), &|_| None).expect("settings");
    Login::from_settings(&s).expect("login")
}

#[tokio::test]
async fn plus_offered_the_session_is_bound_to_the_tls_channel() {
    let (port, mut seen) = server(&["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]).await;
    let (conn, bound, info) = login(port).connect(T).await.expect("online");
    assert_eq!(bound.to_string(), "learner@localhost/bound");
    assert!(info.plus_offered, "{info:?}");
    drop(conn);
    // The probe (which checks the password and closes after SASL) and then the connection
    // that stays.
    let probe = seen.recv().await.expect("the probe's login");
    let kept = seen.recv().await.expect("the connection's login");
    assert_eq!(kept.mechanism, "SCRAM-SHA-256-PLUS", "{kept:?}");
    assert_eq!(kept.gs2_header, "p=tls-exporter,,", "{kept:?}");
    assert!(kept.binding_ok, "{kept:?}");
    assert_eq!(probe.mechanism, "SCRAM-SHA-256", "{probe:?}");
    assert!(probe.binding_ok, "{probe:?}");
}

#[tokio::test]
async fn plus_not_offered_no_binding_is_claimed() {
    let (port, mut seen) = server(&["SCRAM-SHA-256"]).await;
    let (conn, _, info) = login(port).connect(T).await.expect("online");
    assert!(!info.plus_offered);
    drop(conn);
    for _ in 0..2 {
        let s = seen.recv().await.expect("a login");
        assert_eq!(s.mechanism, "SCRAM-SHA-256", "{s:?}");
        assert!(
            s.gs2_header.starts_with("n,") || s.gs2_header.starts_with("y,"),
            "{s:?}"
        );
        assert!(s.binding_ok, "{s:?}");
    }
}
