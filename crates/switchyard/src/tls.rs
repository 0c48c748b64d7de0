//! TLS configurations (MRIM's `STARTTLS`, the HTTPS nexus): a certificate from configuration,
//! or a self-signed one for the names clients expect, made once and kept in the data directory
//! (`tls/<name>.crt`, and its key `tls/<name>.key` readable by the owner only), so that a client
//! told to trust it need not be told again after a restart.

use anyhow::Context as _;
use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a certificate of its own is kept when none is configured.
pub struct Generated<'a> {
    /// The data directory.
    pub data_dir: &'a Path,
    /// The file name stem: `mrim`, `https`.
    pub stem: &'a str,
    /// The names it is made for.
    pub names: &'a [&'a str],
}

/// Loads `cert` and `key` (PEM) when both are given; else the certificate kept in the data
/// directory, made (self-signed) the first time.
pub fn server_config(
    cert: Option<&Path>,
    key: Option<&Path>,
    generated: Generated<'_>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let (cert, key) = match (cert, key) {
        (Some(cert), Some(key)) => (cert.to_path_buf(), key.to_path_buf()),
        (None, None) => kept_self_signed(&generated)?,
        _ => anyhow::bail!("a TLS certificate needs both its certificate and its key file"),
    };
    let chain = CertificateDer::pem_file_iter(&cert)
        .with_context(|| format!("cannot read certificate {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("bad certificate {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key).with_context(|| format!("cannot read key {}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the TLS certificate and key do not fit together")?;
    Ok(Arc::new(config))
}

/// The paths of the data directory's own certificate and key, made now if they are not there.
fn kept_self_signed(generated: &Generated<'_>) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = generated.data_dir.join("tls");
    let cert = dir.join(format!("{}.crt", generated.stem));
    let key = dir.join(format!("{}.key", generated.stem));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let made = rcgen::generate_simple_self_signed(generated.names.iter().map(|n| n.to_string()).collect::<Vec<_>>())?;
    write_new(&key, made.signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&cert, made.cert.pem().as_bytes(), 0o644)?;
    tracing::info!(certificate = %cert.display(), names = ?generated.names, "self-signed certificate made and kept");
    Ok((cert, key))
}

fn write_new(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents)?;
    Ok(())
}
