//! The grade sender's HTTP client: one HTTP/1.1 request over hyper's connection API, with
//! the whole exchange (connect, TLS, request, answer) under one timeout, the answer's body
//! bounded by [`MAX_RESPONSE`], and https certificates checked by the same rustls
//! configuration as the XMPP connection (`[tls]`: CA file, minimum version).
//!
//! Why not reqwest (with rustls): hyper 1 and hyper-util are already here, and this is the
//! whole client. reqwest would add its own stack (hyper-util's pooled client, tower,
//! hyper-rustls, ...) and two defaults that are wrong for a signed grade POST, which would
//! have to be switched off: it follows redirects (re-sending or dropping the signed body to
//! another URL) and takes proxies from `HTTP(S)_PROXY`. It bounds no body either, so the
//! size limit would still be code of ours; it would take the same rustls configuration.

use super::SendError;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use std::sync::Arc;
use std::time::Duration;

/// The longest LMS answer read, in bytes.
pub const MAX_RESPONSE: usize = 64 * 1024;

/// One HTTP/1.1 request to an http(s) URL (certificates checked with `tls`), within `timeout`;
/// returns the status and the (bounded) body.
pub async fn request(
    method: hyper::Method,
    url: &str,
    headers: &[(hyper::header::HeaderName, String)],
    body: String,
    tls: Option<&Arc<tokio_rustls::rustls::ClientConfig>>,
    timeout: Duration,
) -> Result<(u16, String), SendError> {
    let uri: hyper::Uri = url.parse().map_err(|e| SendError::Url(format!("{e}")))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(SendError::Url("not http(s)".into())),
    };
    let host = uri
        .host()
        .ok_or_else(|| SendError::Url("no host".into()))?
        .to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .unwrap_or_else(|| host.clone());
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::USER_AGENT, "otrbot");
    for (k, v) in headers {
        builder = builder.header(k, v);
    }
    let req = builder
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| SendError::Url(e.to_string()))?;
    let t = |e: &dyn std::fmt::Display| SendError::Transport(e.to_string());
    let work = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| t(&e))?;
        if https {
            let cfg = tls.ok_or_else(|| SendError::Transport("no TLS configuration".into()))?;
            let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| SendError::Url(e.to_string()))?;
            let stream = tokio_rustls::TlsConnector::from(cfg.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| t(&e))?;
            exchange(hyper_util::rt::TokioIo::new(stream), req).await
        } else {
            exchange(hyper_util::rt::TokioIo::new(tcp), req).await
        }
    };
    tokio::time::timeout(timeout, work).await.map_err(|_| {
        SendError::Transport(format!("no answer within {} s", timeout.as_secs_f32()))
    })?
}

async fn exchange<I>(io: I, req: hyper::Request<Full<Bytes>>) -> Result<(u16, String), SendError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let t = |e: &dyn std::fmt::Display| SendError::Transport(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| t(&e))?;
    let driver = tokio::spawn(conn);
    let resp = sender.send_request(req).await.map_err(|e| t(&e))?;
    let status = resp.status().as_u16();
    let body = Limited::new(resp.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| t(&*e))?
        .to_bytes();
    driver.abort();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server on a loopback port that answers one request with a body of `len` bytes.
    async fn answering(len: usize) -> u16 {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n");
            let _ = s.write_all(head.as_bytes()).await;
            let _ = s.write_all(&vec![b'x'; len]).await;
        });
        port
    }

    async fn get(port: u16) -> Result<(u16, String), SendError> {
        let url = format!("http://127.0.0.1:{port}/outcomes");
        request(
            hyper::Method::POST,
            &url,
            &[],
            "x".into(),
            None,
            Duration::from_secs(10),
        )
        .await
    }

    #[tokio::test]
    async fn answers_are_bounded() {
        let (status, body) = get(answering(MAX_RESPONSE).await).await.unwrap();
        assert_eq!((status, body.len()), (200, MAX_RESPONSE));
        let past = get(answering(MAX_RESPONSE + 1).await).await;
        assert!(matches!(past, Err(SendError::Transport(_))), "{past:?}");
    }

    #[tokio::test]
    async fn https_needs_a_tls_configuration_and_other_schemes_are_refused() {
        // The server is there; without a TLS configuration nothing is sent to it in clear.
        let port = answering(0).await;
        let url = format!("https://127.0.0.1:{port}/outcomes");
        let r = request(
            hyper::Method::POST,
            &url,
            &[],
            String::new(),
            None,
            Duration::from_secs(5),
        )
        .await;
        assert!(
            matches!(&r, Err(SendError::Transport(m)) if m == "no TLS configuration"),
            "{r:?}"
        );
        let r = request(
            hyper::Method::POST,
            "ftp://lms.example.org/x",
            &[],
            String::new(),
            None,
            Duration::from_secs(5),
        )
        .await;
        assert!(matches!(r, Err(SendError::Url(_))), "{r:?}");
    }
}
