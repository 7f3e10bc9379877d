//! TLS for SSL listeners, with rustls (ring as the crypto provider; no OpenSSL).
//!
//! Kafka's PEM keystore (`ssl.keystore.type=PEM`): `ssl.keystore.location` is one PEM file
//! holding the broker's private key and its certificate chain. With `ssl.client.auth`
//! `requested` or `required`, client certificates are checked against the authorities in
//! `ssl.truststore.location` (PEM), and the client's principal is its certificate's subject
//! ([`certificate_principal`]). The acceptor is built once at start; a bad file stops the
//! start with a line that names it.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

use crate::config::BrokerConfig;

/// The ACL principal of a client that presented `certificate` (DER) on an SSL listener:
/// `User:` and the certificate's subject as RFC 2253/4514 writes it, most specific part first
/// (`User:CN=client-1,O=Example`), as Kafka's default principal builder
/// (`DefaultKafkaPrincipalBuilder`, `ssl.principal.mapping.rules=DEFAULT`) makes it from
/// `X500Principal.getName()`. `None` when the certificate does not read (rustls has checked
/// it against the truststore before this).
pub fn certificate_principal(certificate: &[u8]) -> Option<String> {
    use x509_cert::der::Decode;
    let certificate = x509_cert::Certificate::from_der(certificate).ok()?;
    Some(format!("User:{}", certificate.tbs_certificate.subject))
}

/// The principal of the client certificate a TLS connection presented, if any
/// ([`certificate_principal`] of the first in its chain): the Kafka listener's SSL principal
/// and a cluster link's alike.
pub fn peer_principal(connection: &rustls::ServerConnection) -> Option<String> {
    certificate_principal(connection.peer_certificates()?.first()?)
}

/// The TLS acceptor for this broker's SSL listeners (`client_auth`: `ssl.client.auth` applies)
/// or SASL_SSL ones (it does not: Kafka applies a broker-wide `ssl.client.auth` to SSL
/// listeners only; SASL authenticates those clients).
///
/// # Errors
/// A missing or unreadable keystore or truststore, no key or no certificate in it, or a key
/// that does not match the certificate: the message names the file and setting.
pub fn acceptor(config: &BrokerConfig, client_auth: bool) -> Result<TlsAcceptor, String> {
    let keystore = config
        .ssl_keystore_location
        .as_deref()
        .ok_or("an SSL listener needs ssl.keystore.location")?;
    let certs = certificates(
        keystore,
        &format!("ssl.keystore.location {}", keystore.display()),
    )?;
    let key = PrivateKeyDer::from_pem_file(keystore).map_err(|e| {
        format!(
            "ssl.keystore.location {}: no private key: {e}",
            keystore.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let auth = if client_auth {
        config.ssl_client_auth.as_str()
    } else {
        "none"
    };
    let builder = match auth {
        "requested" | "required" => {
            let truststore = config
                .ssl_truststore_location
                .as_deref()
                .ok_or("ssl.client.auth needs ssl.truststore.location")?;
            let roots = roots(
                truststore,
                &format!("ssl.truststore.location {}", truststore.display()),
            )?;
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let verifier = if auth == "requested" {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("TLS: {e}"))?)
        }
        _ => builder.with_no_client_auth(),
    };
    let server = builder.with_single_cert(certs, key).map_err(|e| {
        format!(
            "ssl.keystore.location {}: the key and certificate do not go together: {e}",
            keystore.display()
        )
    })?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

/// The authorities of a PEM file, for checking the other side's certificate; errors start
/// with `label`.
pub(crate) fn roots(path: &Path, label: &str) -> Result<rustls::RootCertStore, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(path, label)? {
        roots.add(cert).map_err(|e| format!("{label}: {e}"))?;
    }
    Ok(roots)
}

/// The TLS client side of this broker's connections to other brokers (replication, Raft) on
/// a TLS inter-broker listener: their certificates are checked against
/// `ssl.truststore.location` and must name the address dialled; this broker presents its own
/// keystore, as Kafka's inter-broker clients do, so `ssl.client.auth=required` works between
/// nodes too.
///
/// # Errors
/// No truststore, or an unreadable truststore or keystore: the message names the setting.
pub fn inter_broker_client(config: &BrokerConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    let truststore = config
        .ssl_truststore_location
        .as_deref()
        .ok_or("a TLS inter-broker listener needs ssl.truststore.location")?;
    let roots = roots(
        truststore,
        &format!("ssl.truststore.location {}", truststore.display()),
    )?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots);
    let client = match config.ssl_keystore_location.as_deref() {
        None => builder.with_no_client_auth(),
        Some(keystore) => {
            let label = format!("ssl.keystore.location {}", keystore.display());
            let chain = certificates(keystore, &label)?;
            let key = PrivateKeyDer::from_pem_file(keystore)
                .map_err(|e| format!("{label}: no private key: {e}"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("{label}: {e}"))?
        }
    };
    Ok(Arc::new(client))
}

/// Every certificate in a PEM file (at least one); errors start with `label` (the setting and
/// the file, as the caller names them).
pub(crate) fn certificates(
    path: &Path,
    label: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{label}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{label}: no certificate in the file"));
    }
    Ok(certs)
}

/// `N` random bytes from the TLS library's secure generator (SCRAM nonces and salts). Errors:
/// the generator failed, with `what` named.
pub(crate) fn random_bytes<const N: usize>(what: &str) -> Result<[u8; N], String> {
    let mut bytes = [0u8; N];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| format!("no randomness for {what}"))?;
    Ok(bytes)
}

/// A fresh SCRAM nonce: 24 random bytes as hex (printable, no `,`, as RFC 5802 asks).
pub(crate) fn scram_nonce() -> Result<String, String> {
    Ok(random_bytes::<24>("a SCRAM nonce")?
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
