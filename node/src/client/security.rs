//! How the command line secures its connections: librdkafka's property names, given as kcat
//! takes them (`-X security.protocol=sasl_ssl -X ssl.ca.location=ca.pem ...`) or in the
//! profile file's `properties` table.
//!
//! TLS is rustls (ring) with the authorities of `ssl.ca.location` (PEM) and, for mutual TLS,
//! `ssl.certificate.location` and `ssl.key.location`; the broker's certificate must name the
//! host or IP address the CLI dialled. SASL is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
//! (`sasl.mechanism`, `sasl.username`, `sasl.password`), through SaslHandshake v1 and
//! SaslAuthenticate (KIP-152); SCRAM is core's client side of RFC 5802.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::PrivateKeyDer;
use rustls::pki_types::pem::PemObject;

use super::ClientError;

/// The security every connection of this process uses.
#[derive(Debug)]
pub(crate) struct ClientSecurity {
    /// TLS settings (security.protocol `ssl` or `sasl_ssl`).
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    /// SASL mechanism, user name and password (security.protocol `sasl_plaintext` or
    /// `sasl_ssl`).
    pub(crate) sasl: Option<(runnel_core::sasl::Mechanism, String, String)>,
}

impl ClientSecurity {
    /// What this broker's connections to other brokers use: the protocol of its inter-broker
    /// listener (`inter.broker.listener.name`), with its truststore and keystore for TLS
    /// ([`crate::tls::inter_broker_client`]) and, for SASL,
    /// `sasl.mechanism.inter.broker.protocol` with the `username`/`password` of
    /// `sasl.jaas.config`. `None`: PLAINTEXT.
    ///
    /// # Errors
    /// A setting that does not read, in one line naming it.
    pub(crate) fn inter_broker(
        config: &crate::config::BrokerConfig,
    ) -> Result<Option<Self>, String> {
        let protocol = config.inter_broker_listener()?.protocol;
        let tls = match protocol.tls() {
            true => Some(crate::tls::inter_broker_client(config)?),
            false => None,
        };
        let sasl = match protocol.sasl() {
            true => {
                let jaas = config.sasl_jaas_config.as_deref().unwrap_or_default();
                let (user, password) = runnel_core::sasl::jaas_login(jaas)?;
                Some((config.inter_broker_mechanism()?, user, password))
            }
            false => None,
        };
        Ok((tls.is_some() || sasl.is_some()).then_some(Self { tls, sasl }))
    }
}

static SECURITY: OnceLock<ClientSecurity> = OnceLock::new();

/// The security set by [`configure`] (none: PLAINTEXT, as for the broker's own fetchers).
pub(crate) fn current() -> Option<&'static ClientSecurity> {
    SECURITY.get()
}

/// Reads the properties (librdkafka's names) and sets them for every connection this process
/// makes. Known: `security.protocol` (plaintext, ssl, sasl_plaintext, sasl_ssl),
/// `ssl.ca.location`, `ssl.certificate.location`, `ssl.key.location`, `sasl.mechanism` (PLAIN,
/// SCRAM-SHA-256, SCRAM-SHA-512), `sasl.username`, `sasl.password`.
///
/// # Errors
/// [`ClientError::Usage`] naming an unknown property, a bad value, a missing companion setting or
/// an unreadable file.
pub fn configure(properties: &BTreeMap<String, String>) -> Result<(), ClientError> {
    let usage = |m: String| ClientError::Usage(m);
    for key in properties.keys() {
        if ![
            "security.protocol",
            "ssl.ca.location",
            "ssl.certificate.location",
            "ssl.key.location",
            "sasl.mechanism",
            "sasl.mechanisms",
            "sasl.username",
            "sasl.password",
        ]
        .contains(&key.as_str())
        {
            return Err(usage(format!(
                "-X {key}: unknown property (known: security.protocol, ssl.ca.location, ssl.certificate.location, ssl.key.location, sasl.mechanism, sasl.username, sasl.password)"
            )));
        }
    }
    let get = |k: &str| properties.get(k).map(String::as_str);
    let protocol = get("security.protocol")
        .unwrap_or("plaintext")
        .to_ascii_lowercase();
    let (tls, sasl) = match protocol.as_str() {
        "plaintext" => (false, false),
        "ssl" => (true, false),
        "sasl_plaintext" => (false, true),
        "sasl_ssl" => (true, true),
        other => {
            return Err(usage(format!(
                "-X security.protocol={other}: one of plaintext, ssl, sasl_plaintext, sasl_ssl"
            )));
        }
    };
    let tls = if tls {
        Some(Arc::new(tls_config(
            get("ssl.ca.location"),
            get("ssl.certificate.location"),
            get("ssl.key.location"),
        )?))
    } else {
        None
    };
    let sasl = if sasl {
        let name = get("sasl.mechanism")
            .or(get("sasl.mechanisms"))
            .unwrap_or("PLAIN");
        let Some(mechanism) = runnel_core::sasl::Mechanism::from_name(&name.to_ascii_uppercase())
        else {
            return Err(usage(format!(
                "-X sasl.mechanism={name}: the command line speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512"
            )));
        };
        let user = get("sasl.username").ok_or_else(|| {
            usage("SASL needs -X sasl.username=... and -X sasl.password=...".into())
        })?;
        let password =
            get("sasl.password").ok_or_else(|| usage("SASL needs -X sasl.password=...".into()))?;
        Some((mechanism, user.to_string(), password.to_string()))
    } else {
        None
    };
    let _ = SECURITY.set(ClientSecurity { tls, sasl });
    Ok(())
}

/// A rustls client configuration: the authorities of `ca` (PEM), and the client certificate
/// and key when both are given.
fn tls_config(
    ca: Option<&str>,
    certificate: Option<&str>,
    key: Option<&str>,
) -> Result<rustls::ClientConfig, ClientError> {
    let usage = |m: String| ClientError::Usage(m);
    let ca = ca.ok_or_else(|| {
        usage("TLS needs -X ssl.ca.location=FILE (the PEM certificates of the authorities that signed the broker's)".into())
    })?;
    let roots =
        crate::tls::roots(ca.as_ref(), &format!("-X ssl.ca.location={ca}")).map_err(usage)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| usage(format!("TLS: {e}")))?
        .with_root_certificates(roots);
    match (certificate, key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(certificate), Some(key)) => {
            let chain = crate::tls::certificates(
                certificate.as_ref(),
                &format!("-X ssl.certificate.location={certificate}"),
            )
            .map_err(usage)?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| usage(format!("-X ssl.key.location={key}: {e}")))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| usage(format!("the client certificate and key: {e}")))
        }
        _ => Err(usage(
            "a client certificate needs both -X ssl.certificate.location and -X ssl.key.location"
                .into(),
        )),
    }
}
