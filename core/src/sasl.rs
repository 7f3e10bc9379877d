//! SASL authentication on SASL_PLAINTEXT and SASL_SSL listeners (KIP-43, KIP-152): the state of
//! one connection and the PLAIN mechanism (RFC 4616).
//!
//! A connection starts unauthenticated, in the order Kafka's `SaslServerAuthenticator` keeps:
//! ApiVersions or SaslHandshake first; after the handshake only SaslAuthenticate; anything else
//! closes the connection. A refused handshake or a failed authentication is answered and ends
//! the connection ([`SaslError::closes`]). The result is the principal `User:<name>` that ACLs
//! will check.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::error_code;

/// ApiVersions' API key.
const API_VERSIONS: i16 = 18;
/// SaslHandshake's API key.
const SASL_HANDSHAKE: i16 = 17;
/// SaslAuthenticate's API key.
const SASL_AUTHENTICATE: i16 = 36;
/// Kafka's words for a SASL/PLAIN message that does not read (its `SaslException`s become
/// this generic text in the answer).
const INVALID_PLAIN: &str = "Authentication failed during authentication due to invalid credentials with SASL mechanism PLAIN";

/// The SASL mechanisms runnel serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// PLAIN (RFC 4616): a user name and password in the clear, for use under TLS.
    Plain,
}

impl Mechanism {
    /// The mechanism named `name` (SASL names are upper case), if runnel serves it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "PLAIN" => Some(Self::Plain),
            _ => None,
        }
    }

    /// Its SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
        }
    }
}

/// Why a SASL request was refused: a Kafka error code and the words Kafka uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SaslError {
    /// UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE or SASL_AUTHENTICATION_FAILED.
    pub code: i16,
    /// The message for the response's `error_message`.
    pub message: String,
    /// Whether the connection ends after the answer: every refusal before authentication
    /// (Kafka fails the connection), none after it.
    pub closes: bool,
}

impl SaslError {
    fn new(code: i16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            closes: true,
        }
    }
}

/// The PLAIN users a broker knows: user name → password.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlainUsers(BTreeMap<String, String>);

impl PlainUsers {
    /// Reads Kafka's broker-side JAAS text for PLAIN: every `user_NAME="PASSWORD"` option of
    /// `org.apache.kafka.common.security.plain.PlainLoginModule required ... ;` is a user
    /// (Kafka's `PlainServerCallbackHandler`). Errors: another login module, or no user.
    pub fn from_jaas(jaas: &str) -> Result<Self, String> {
        let text = jaas.trim().trim_end_matches(';').trim();
        let mut words = text.split_whitespace();
        let module = words.next().unwrap_or_default();
        if !module.ends_with("PlainLoginModule") {
            return Err(alloc::format!(
                "sasl.jaas.config: expected org.apache.kafka.common.security.plain.PlainLoginModule, found {module}"
            ));
        }
        let mut users = BTreeMap::new();
        let mut rest = text[module.len()..].trim_start();
        rest = rest
            .strip_prefix("required")
            .or_else(|| rest.strip_prefix("requisite"))
            .or_else(|| rest.strip_prefix("sufficient"))
            .or_else(|| rest.strip_prefix("optional"))
            .unwrap_or(rest);
        while let Some((key, after)) = rest.split_once('=') {
            let key = key.trim();
            let after = after.trim_start();
            let (value, next) = match after.strip_prefix('"') {
                // A quoted value: `\"` and `\\` are a quote and a backslash (JAAS's escapes).
                Some(quoted) => {
                    let mut value = String::new();
                    let mut chars = quoted.char_indices();
                    let mut end = None;
                    while let Some((i, c)) = chars.next() {
                        match c {
                            '\\' => {
                                if let Some((_, escaped)) = chars.next() {
                                    value.push(escaped);
                                }
                            }
                            '"' => {
                                end = Some(i);
                                break;
                            }
                            c => value.push(c),
                        }
                    }
                    let end = end
                        .ok_or_else(|| alloc::format!("sasl.jaas.config: {key}: unclosed quote"))?;
                    (value, &quoted[end + 1..])
                }
                None => {
                    let (value, next) =
                        after.split_at(after.find(char::is_whitespace).unwrap_or(after.len()));
                    (value.to_string(), next)
                }
            };
            if let Some(user) = key.strip_prefix("user_") {
                users.insert(user.to_string(), value);
            }
            rest = next;
        }
        if users.is_empty() {
            return Err("sasl.jaas.config: no user_NAME=\"PASSWORD\" entries".into());
        }
        Ok(Self(users))
    }

    /// Whether `password` is `user`'s, compared in time that does not depend on where the
    /// two first differ.
    fn check(&self, user: &str, password: &str) -> bool {
        let Some(expected) = self.0.get(user) else {
            return false;
        };
        let (a, b) = (expected.as_bytes(), password.as_bytes());
        let mut diff = a.len() ^ b.len();
        for i in 0..a.len().max(b.len()) {
            diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
        }
        diff == 0
    }
}

/// Where one connection is in authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaslSession {
    /// No handshake yet.
    AwaitingHandshake,
    /// The handshake chose `Mechanism`; SaslAuthenticate next.
    AwaitingAuthenticate(Mechanism),
    /// Authenticated as the principal (`User:<name>`).
    Authenticated(String),
}

impl SaslSession {
    /// A new connection's state.
    pub fn new() -> Self {
        Self::AwaitingHandshake
    }

    /// Whether a request with `api_key` may be handled now: ApiVersions or SaslHandshake
    /// first, then only SaslAuthenticate, then anything (Kafka's order). A request that may
    /// not closes the connection.
    pub fn permits(&self, api_key: i16) -> bool {
        match self {
            Self::AwaitingHandshake => [API_VERSIONS, SASL_HANDSHAKE].contains(&api_key),
            Self::AwaitingAuthenticate(_) => api_key == SASL_AUTHENTICATE,
            Self::Authenticated(_) => true,
        }
    }

    /// The authenticated principal.
    pub fn principal(&self) -> Option<&str> {
        match self {
            Self::Authenticated(p) => Some(p),
            _ => None,
        }
    }

    /// SaslHandshake with `mechanism`, among the `enabled` ones. Errors (each ends the
    /// connection): a second handshake (ILLEGAL_SASL_STATE), a mechanism not enabled
    /// (UNSUPPORTED_SASL_MECHANISM).
    pub fn handshake(&mut self, mechanism: &str, enabled: &[Mechanism]) -> Result<(), SaslError> {
        if *self != Self::AwaitingHandshake {
            return Err(SaslError::new(
                error_code::ILLEGAL_SASL_STATE,
                "Unexpected handshake request with client mechanism",
            ));
        }
        match Mechanism::from_name(mechanism).filter(|m| enabled.contains(m)) {
            Some(m) => {
                *self = Self::AwaitingAuthenticate(m);
                Ok(())
            }
            None => Err(SaslError::new(
                error_code::UNSUPPORTED_SASL_MECHANISM,
                alloc::format!("Unsupported SASL mechanism {mechanism}"),
            )),
        }
    }

    /// SaslAuthenticate with the client's `auth_bytes`; on success the connection is
    /// authenticated and the principal returned. PLAIN's message is `[authzid] NUL authcid
    /// NUL passwd` (RFC 4616); an authorization id other than the user is refused, as Kafka's
    /// `PlainSaslServer` refuses it. Errors: no handshake yet (ILLEGAL_SASL_STATE), a bad
    /// message or wrong credentials (SASL_AUTHENTICATION_FAILED, with Kafka's words).
    pub fn authenticate(
        &mut self,
        auth_bytes: &[u8],
        users: &PlainUsers,
    ) -> Result<&str, SaslError> {
        match self {
            Self::AwaitingAuthenticate(Mechanism::Plain) => {}
            // Kafka answers and keeps an authenticated connection (no re-authentication here).
            Self::Authenticated(_) => {
                return Err(SaslError {
                    closes: false,
                    ..SaslError::new(
                        error_code::ILLEGAL_SASL_STATE,
                        "SaslAuthenticate request received after successful authentication",
                    )
                });
            }
            Self::AwaitingHandshake => {
                return Err(SaslError::new(
                    error_code::ILLEGAL_SASL_STATE,
                    "Unexpected Kafka request of type SASL_AUTHENTICATE during SASL handshake",
                ));
            }
        }
        let failed = |why: &str| SaslError::new(error_code::SASL_AUTHENTICATION_FAILED, why);
        let text = core::str::from_utf8(auth_bytes).map_err(|_| failed(INVALID_PLAIN))?;
        let parts: Vec<&str> = text.split('\0').collect();
        let [authzid, user, password] = parts[..] else {
            return Err(failed(INVALID_PLAIN));
        };
        if user.is_empty() {
            return Err(failed("Authentication failed: username not specified"));
        }
        if password.is_empty() {
            return Err(failed("Authentication failed: password not specified"));
        }
        if !authzid.is_empty() && authzid != user {
            return Err(failed(
                "Authentication failed: Client requested an authorization id that is different from username",
            ));
        }
        if !users.check(user, password) {
            return Err(failed(
                "Authentication failed: Invalid username or password",
            ));
        }
        *self = Self::Authenticated(alloc::format!("User:{user}"));
        match self {
            Self::Authenticated(p) => Ok(p),
            _ => Err(failed("Authentication failed")),
        }
    }
}

impl Default for SaslSession {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> PlainUsers {
        PlainUsers::from_jaas(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required
               username="admin" password="admin-secret"
               user_admin="admin-secret" user_alice="alice secret" user_empty=""
               user_q="a\"b\\c";"#,
        )
        .expect("jaas")
    }

    /// Kafka's order: ApiVersions or the handshake, then only SaslAuthenticate, then
    /// anything; a second SaslAuthenticate is answered and the connection kept.
    #[test]
    fn a_client_is_authenticated_by_handshake_then_plain() {
        let mut session = SaslSession::new();
        assert!(session.permits(18) && session.permits(17) && !session.permits(36));
        assert!(!session.permits(3), "Metadata before authentication");
        session
            .handshake("PLAIN", &[Mechanism::Plain])
            .expect("handshake");
        assert!(session.permits(36) && !session.permits(18) && !session.permits(17));
        let principal = session
            .authenticate(b"\0alice\0alice secret", &users())
            .expect("alice");
        assert_eq!(principal, "User:alice");
        assert!(session.permits(3));
        assert_eq!(session.principal(), Some("User:alice"));
        let again = session
            .authenticate(b"\0alice\0alice secret", &users())
            .expect_err("no re-authentication");
        assert_eq!(again.code, error_code::ILLEGAL_SASL_STATE);
        assert!(!again.closes, "an authenticated connection stays");
    }

    /// Wrong password, unknown user, another authorization id, a malformed message, an empty
    /// password: all SASL_AUTHENTICATION_FAILED, the connection ends, nothing is authenticated.
    #[test]
    fn wrong_credentials_fail_with_kafkas_code() {
        for bytes in [
            &b"\0alice\0wrong"[..],
            b"\0mallory\0alice secret",
            b"admin\0alice\0alice secret",
            b"alice alice secret",
            b"\0\0",
            b"\0alice\0",
            b"\0empty\0",
        ] {
            let mut session = SaslSession::new();
            session
                .handshake("PLAIN", &[Mechanism::Plain])
                .expect("handshake");
            let err = session.authenticate(bytes, &users()).expect_err("refused");
            assert_eq!(
                err.code,
                error_code::SASL_AUTHENTICATION_FAILED,
                "{bytes:?}"
            );
            assert!(err.message.starts_with("Authentication failed"));
            assert!(err.closes);
            assert!(!session.permits(3));
        }
    }

    /// Out-of-turn requests and unknown mechanisms get Kafka's codes and end the connection.
    #[test]
    fn requests_out_of_turn_are_refused() {
        let mut session = SaslSession::new();
        let early = session.authenticate(b"\0alice\0alice secret", &users());
        assert_eq!(early.unwrap_err().code, error_code::ILLEGAL_SASL_STATE);
        let gssapi = session
            .handshake("GSSAPI", &[Mechanism::Plain])
            .unwrap_err();
        assert_eq!(gssapi.code, error_code::UNSUPPORTED_SASL_MECHANISM);
        assert!(gssapi.closes);
        session
            .handshake("PLAIN", &[Mechanism::Plain])
            .expect("handshake");
        let again = session.handshake("PLAIN", &[Mechanism::Plain]);
        assert_eq!(again.unwrap_err().code, error_code::ILLEGAL_SASL_STATE);
    }

    /// Kafka's JAAS syntax: only `user_*` options are users, quoted values take `\"` and
    /// `\\`; other modules are refused.
    #[test]
    fn jaas_users_are_read_as_kafka_reads_them() {
        let u = users();
        assert!(u.check("admin", "admin-secret") && u.check("alice", "alice secret"));
        assert!(!u.check("username", "admin") && !u.check("alice", "alice"));
        assert!(u.check("q", "a\"b\\c"), "JAAS escapes");
        let other = PlainUsers::from_jaas(
            "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        );
        assert!(other.unwrap_err().contains("PlainLoginModule"));
        let none = PlainUsers::from_jaas(
            "org.apache.kafka.common.security.plain.PlainLoginModule required;",
        );
        assert!(none.unwrap_err().contains("no user_NAME"));
    }
}
