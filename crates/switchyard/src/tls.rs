//! TLS configurations (MRIM's `STARTTLS`, the HTTPS nexus): a certificate from configuration,
//! or a self-signed one made at start-up for the names clients expect.

use anyhow::Context as _;
use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// Loads `cert` and `key` (PEM) when both are given, or generates a self-signed certificate
/// for `names`.
pub fn server_config(
    cert: Option<&Path>,
    key: Option<&Path>,
    names: &[&str],
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let (chain, key) = match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .with_context(|| format!("cannot read certificate {}", cert.display()))?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("bad certificate {}", cert.display()))?;
            let key =
                PrivateKeyDer::from_pem_file(key).with_context(|| format!("cannot read key {}", key.display()))?;
            (chain, key)
        }
        (None, None) => {
            let generated =
                rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
            let key = PrivateKeyDer::try_from(generated.signing_key.serialize_der()).map_err(anyhow::Error::msg)?;
            (vec![generated.cert.der().clone()], key)
        }
        _ => anyhow::bail!("a TLS certificate needs both its certificate and its key file"),
    };
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS certificate and key do not fit together")?;
    Ok(Arc::new(config))
}
