//! The rustls client configuration: system roots plus an optional CA file, a minimum version.

use crate::settings::Tls;
use std::sync::Arc;
use tokio_xmpp::rustls::{
    self, pki_types::pem::PemObject, ClientConfig, ProtocolVersion, RootCertStore,
};

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The CA file could not be read or holds no certificate.
    #[error("setting `tls.ca_file`: {0}")]
    CaFile(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The lowest protocol version the settings allow.
pub fn min_version(tls: &Tls) -> ProtocolVersion {
    if tls.min_version == "1.3" {
        ProtocolVersion::TLSv1_3
    } else {
        ProtocolVersion::TLSv1_2
    }
}

/// Builds a client config that checks certificates against the system roots and `ca_file`.
pub fn client_config(tls: &Tls) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = &tls.ca_file {
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| TlsSetupError::CaFile(format!("{}: {e}", path.display())))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsSetupError::CaFile(format!("{}: {e}", path.display())))?;
        if certs.is_empty() {
            return Err(TlsSetupError::CaFile(format!(
                "{}: no certificate in it",
                path.display()
            )));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| TlsSetupError::CaFile(format!("{}: {e}", path.display())))?;
        }
    }
    let versions: &[&'static rustls::SupportedProtocolVersion] =
        if min_version(tls) == ProtocolVersion::TLSv1_3 {
            &[&rustls::version::TLS13]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Whether a negotiated version meets the configured minimum.
pub fn version_ok(negotiated: ProtocolVersion, min: ProtocolVersion) -> bool {
    let rank = |v: ProtocolVersion| match v {
        ProtocolVersion::TLSv1_3 => 3,
        ProtocolVersion::TLSv1_2 => 2,
        _ => 0,
    };
    rank(negotiated) >= rank(min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(version_ok(
            ProtocolVersion::TLSv1_3,
            ProtocolVersion::TLSv1_2
        ));
        assert!(!version_ok(
            ProtocolVersion::TLSv1_2,
            ProtocolVersion::TLSv1_3
        ));
        assert!(!version_ok(
            ProtocolVersion::TLSv1_1,
            ProtocolVersion::TLSv1_2
        ));
    }

    #[test]
    fn bad_ca_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not a certificate").unwrap();
        let tls = Tls {
            ca_file: Some(p),
            ..Tls::default()
        };
        let e = client_config(&tls).unwrap_err().to_string();
        assert!(e.contains("tls.ca_file"), "{e}");
    }
}
