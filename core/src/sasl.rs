//! SASL authentication on SASL_PLAINTEXT and SASL_SSL listeners (KIP-43, KIP-152): the state of
//! one connection, the PLAIN mechanism (RFC 4616) and SCRAM-SHA-256/512 (RFC 5802, RFC 7677,
//! in [`crate::scram`]).
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
use crate::scram::{ScramClient, ScramCredentials, ScramExchange, ScramMechanism};

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
    /// SCRAM-SHA-256 or SCRAM-SHA-512: a challenge and response; the broker keeps salted
    /// keys, never the password.
    Scram(ScramMechanism),
}

impl Mechanism {
    /// The mechanism named `name` (SASL names are upper case), if runnel serves it.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "PLAIN" => Some(Self::Plain),
            _ => ScramMechanism::from_name(name).map(Self::Scram),
        }
    }

    /// Its SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::Scram(m) => m.name(),
        }
    }
}

/// What a connection's authentication checks against: the PLAIN users and the SCRAM
/// credentials.
#[derive(Clone, Copy, Debug)]
pub struct Credentials<'a> {
    /// PLAIN's users (from `sasl.jaas.config`).
    pub plain: &'a PlainUsers,
    /// SCRAM's credentials (AlterUserScramCredentials, KIP-554).
    pub scram: &'a ScramCredentials,
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
        let (module, options) = jaas_options(jaas)?;
        if !module.ends_with("PlainLoginModule") {
            return Err(alloc::format!(
                "sasl.jaas.config: expected org.apache.kafka.common.security.plain.PlainLoginModule, found {module}"
            ));
        }
        let users: BTreeMap<String, String> = options
            .into_iter()
            .filter_map(|(key, value)| Some((key.strip_prefix("user_")?.to_string(), value)))
            .collect();
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

/// The login module and options of a JAAS text (`Module required key="value" ...;`), as
/// Kafka's `JaasConfig` reads `sasl.jaas.config`: values quoted (with `\"` and `\\` escapes)
/// or bare words. Errors: an unclosed quote.
fn jaas_options(jaas: &str) -> Result<(String, BTreeMap<String, String>), String> {
    let text = jaas.trim().trim_end_matches(';').trim();
    let module = text.split_whitespace().next().unwrap_or_default();
    let mut options = BTreeMap::new();
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
                let end =
                    end.ok_or_else(|| alloc::format!("sasl.jaas.config: {key}: unclosed quote"))?;
                (value, &quoted[end + 1..])
            }
            None => {
                let (value, next) =
                    after.split_at(after.find(char::is_whitespace).unwrap_or(after.len()));
                (value.to_string(), next)
            }
        };
        options.insert(key.to_string(), value);
        rest = next;
    }
    Ok((module.to_string(), options))
}

/// The broker's own identity for inter-broker SASL: the `username` and `password` options of
/// its JAAS text (Kafka's `PlainLoginModule` and `ScramLoginModule` take them for the client
/// side of a broker's connections to other brokers). Errors: either option missing, or a
/// malformed text.
pub fn jaas_login(jaas: &str) -> Result<(String, String), String> {
    let (_, mut options) = jaas_options(jaas)?;
    match (options.remove("username"), options.remove("password")) {
        (Some(user), Some(password)) if !user.is_empty() => Ok((user, password)),
        _ => Err(
            "sasl.jaas.config: inter-broker SASL needs the broker's own username=\"...\" password=\"...\" options"
                .into(),
        ),
    }
}

/// The client side of one SASL exchange, whatever carries its messages (SaslAuthenticate for
/// the command line, the cluster transport's frames between nodes): PLAIN's one message
/// (RFC 4616), or SCRAM's two with the server's signature checked (RFC 5802).
#[derive(Clone, Debug)]
pub struct SaslClient(ClientStep);

#[derive(Clone, Debug)]
enum ClientStep {
    /// PLAIN's message was sent; an answer means success.
    PlainSent,
    /// SCRAM's client-first was sent; the server-first comes next.
    ScramFirstSent(ScramClient),
    /// SCRAM's client-final was sent; the server-final (its signature) comes next.
    ScramFinalSent(ScramClient),
    /// Authenticated.
    Done,
}

impl SaslClient {
    /// Starts authenticating `user` with `password`; `nonce` is fresh random printable text
    /// (SCRAM's client nonce, unused by PLAIN). Returns the client and its first message.
    pub fn start(mechanism: Mechanism, user: &str, password: &str, nonce: &str) -> (Self, Vec<u8>) {
        match mechanism {
            Mechanism::Plain => (
                Self(ClientStep::PlainSent),
                alloc::format!("\0{user}\0{password}").into_bytes(),
            ),
            Mechanism::Scram(m) => {
                let (scram, first) = ScramClient::start(m, user, password, nonce);
                (Self(ClientStep::ScramFirstSent(scram)), first)
            }
        }
    }

    /// Takes the server's answer to the last message: `Some` message to send next, or `None`
    /// once authenticated. Errors: a SCRAM message that does not read, or a server signature
    /// that does not match (the server does not know the credential); an answer after the end.
    pub fn step(&mut self, answer: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match core::mem::replace(&mut self.0, ClientStep::Done) {
            ClientStep::PlainSent => Ok(None),
            ClientStep::ScramFirstSent(mut scram) => {
                let last = scram.finish(answer)?;
                self.0 = ClientStep::ScramFinalSent(scram);
                Ok(Some(last))
            }
            ClientStep::ScramFinalSent(scram) => scram.verify(answer).map(|()| None),
            ClientStep::Done => Err("SASL: an answer after authentication ended".into()),
        }
    }
}

/// Where one connection is in authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SaslSession {
    /// No handshake yet.
    AwaitingHandshake,
    /// The handshake chose `Mechanism`; SaslAuthenticate next.
    AwaitingAuthenticate(Mechanism),
    /// SCRAM's server-first was sent; the client-final message next.
    ScramFinal(alloc::boxed::Box<ScramExchange>),
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
            Self::AwaitingAuthenticate(_) | Self::ScramFinal(_) => api_key == SASL_AUTHENTICATE,
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

    /// SaslAuthenticate with the client's `auth_bytes`; returns the bytes to answer with
    /// (empty for PLAIN; SCRAM's server-first, then server-final). The connection is
    /// authenticated once [`SaslSession::principal`] says so: after PLAIN's one message, after
    /// SCRAM's second. `server_nonce` is the driver's fresh random printable text for SCRAM.
    ///
    /// PLAIN's message is `[authzid] NUL authcid NUL passwd` (RFC 4616); an authorization id
    /// other than the user is refused, as Kafka's `PlainSaslServer` refuses it. Errors: no
    /// handshake yet (ILLEGAL_SASL_STATE), a bad message or wrong credentials
    /// (SASL_AUTHENTICATION_FAILED, with Kafka's words).
    pub fn authenticate(
        &mut self,
        auth_bytes: &[u8],
        credentials: Credentials<'_>,
        server_nonce: &str,
    ) -> Result<Vec<u8>, SaslError> {
        let failed = |why: &str| SaslError::new(error_code::SASL_AUTHENTICATION_FAILED, why);
        match core::mem::replace(self, Self::AwaitingHandshake) {
            Self::AwaitingAuthenticate(Mechanism::Plain) => {
                let user = plain(auth_bytes, credentials.plain).map_err(failed)?;
                *self = Self::Authenticated(alloc::format!("User:{user}"));
                Ok(Vec::new())
            }
            Self::AwaitingAuthenticate(Mechanism::Scram(mechanism)) => {
                let (exchange, server_first) =
                    ScramExchange::start(mechanism, auth_bytes, credentials.scram, server_nonce)
                        .map_err(|e| failed(&e.client_message))?;
                *self = Self::ScramFinal(alloc::boxed::Box::new(exchange));
                Ok(server_first)
            }
            Self::ScramFinal(exchange) => {
                let (user, server_final) = exchange
                    .finish(auth_bytes)
                    .map_err(|e| failed(&e.client_message))?;
                *self = Self::Authenticated(alloc::format!("User:{user}"));
                Ok(server_final)
            }
            // Kafka answers and keeps an authenticated connection (no re-authentication here).
            Self::Authenticated(principal) => {
                *self = Self::Authenticated(principal);
                Err(SaslError {
                    closes: false,
                    ..SaslError::new(
                        error_code::ILLEGAL_SASL_STATE,
                        "SaslAuthenticate request received after successful authentication",
                    )
                })
            }
            Self::AwaitingHandshake => Err(SaslError::new(
                error_code::ILLEGAL_SASL_STATE,
                "Unexpected Kafka request of type SASL_AUTHENTICATE during SASL handshake",
            )),
        }
    }
}

/// PLAIN's one message checked against `users`: the user, or Kafka's words for why not.
fn plain<'a>(auth_bytes: &'a [u8], users: &PlainUsers) -> Result<&'a str, &'static str> {
    let text = core::str::from_utf8(auth_bytes).map_err(|_| INVALID_PLAIN)?;
    let parts: Vec<&str> = text.split('\0').collect();
    let [authzid, user, password] = parts[..] else {
        return Err(INVALID_PLAIN);
    };
    if user.is_empty() {
        return Err("Authentication failed: username not specified");
    }
    if password.is_empty() {
        return Err("Authentication failed: password not specified");
    }
    if !authzid.is_empty() && authzid != user {
        return Err(
            "Authentication failed: Client requested an authorization id that is different from username",
        );
    }
    if !users.check(user, password) {
        return Err("Authentication failed: Invalid username or password");
    }
    Ok(user)
}

impl Default for SaslSession {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<T>(f: impl FnOnce(Credentials<'_>) -> T) -> T {
        let scram = ScramCredentials::new();
        f(Credentials {
            plain: &users(),
            scram: &scram,
        })
    }

    fn users() -> PlainUsers {
        PlainUsers::from_jaas(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required
               username="admin" password="admin-secret"
               user_admin="admin-secret" user_alice="alice secret" user_empty=""
               user_q="a\"b\\c";"#,
        )
        .expect("jaas")
    }

    /// A broker's own inter-broker identity is its JAAS text's `username`/`password` (Kafka's
    /// `PlainLoginModule` and `ScramLoginModule` options); without them it has none.
    #[test]
    fn the_brokers_own_login_comes_from_username_and_password() {
        let jaas = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="b s\"x" user_broker="b s\"x";"#;
        assert_eq!(
            jaas_login(jaas),
            Ok(("broker".to_string(), "b s\"x".to_string()))
        );
        assert!(
            jaas_login(
                r#"org.apache.kafka.common.security.plain.PlainLoginModule required user_a="x";"#
            )
            .is_err()
        );
        assert!(jaas_login(r#"x required username="a password="b";"#).is_err());
    }

    /// The client side against the server side: PLAIN in one message, SCRAM in two with the
    /// server's signature checked; a wrong password fails at the server.
    #[test]
    fn the_client_side_authenticates_against_the_server_side() {
        let mut scram = ScramCredentials::new();
        let m = ScramMechanism::Sha512;
        scram.set(
            "bob",
            m,
            crate::scram::ScramCredential::from_password(m, "bob-secret", b"saltsaltsalt", 4096),
        );
        let plain = users();
        let credentials = Credentials {
            plain: &plain,
            scram: &scram,
        };
        for (mechanism, user, password, ok) in [
            (Mechanism::Plain, "admin", "admin-secret", true),
            (Mechanism::Plain, "admin", "nope", false),
            (Mechanism::Scram(m), "bob", "bob-secret", true),
            (Mechanism::Scram(m), "bob", "nope", false),
        ] {
            let mut server = SaslSession::new();
            server
                .handshake(mechanism.name(), &[Mechanism::Plain, Mechanism::Scram(m)])
                .expect("handshake");
            let (mut client, mut message) = SaslClient::start(mechanism, user, password, "cnonce");
            let outcome = loop {
                match server.authenticate(&message, credentials, "snonce") {
                    Err(e) => break Err(e.message),
                    Ok(answer) => match client.step(&answer) {
                        Ok(Some(next)) => message = next,
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    },
                }
            };
            assert_eq!(outcome.is_ok(), ok, "{mechanism:?} {password}: {outcome:?}");
            assert_eq!(
                server.principal().is_some(),
                ok,
                "the server agrees: {mechanism:?} {password}"
            );
        }
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
        with(|c| session.authenticate(b"\0alice\0alice secret", c, "nonce")).expect("alice");
        assert!(session.permits(3));
        assert_eq!(session.principal(), Some("User:alice"));
        let again = with(|c| session.authenticate(b"\0alice\0alice secret", c, "nonce"))
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
            let err = with(|c| session.authenticate(bytes, c, "nonce")).expect_err("refused");
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
        let early = with(|c| session.authenticate(b"\0alice\0alice secret", c, "nonce"));
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

    /// SCRAM through the session: two SaslAuthenticate rounds (RFC 7677's example), then
    /// authenticated; a wrong proof ends the connection unauthenticated.
    #[test]
    fn a_client_is_authenticated_by_two_scram_rounds() {
        use crate::scram::{ScramCredential, ScramMechanism};
        let salt = [
            0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36,
            0xfa, 0x81,
        ];
        let mut scram = ScramCredentials::new();
        scram.set(
            "user",
            ScramMechanism::Sha256,
            ScramCredential::from_password(ScramMechanism::Sha256, "pencil", &salt, 4096),
        );
        let plain = users();
        let credentials = Credentials {
            plain: &plain,
            scram: &scram,
        };
        let enabled = [Mechanism::Plain, Mechanism::Scram(ScramMechanism::Sha256)];
        let nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        for (proof, accepted) in [
            ("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", true),
            ("AAzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", false),
        ] {
            let mut session = SaslSession::new();
            session
                .handshake("SCRAM-SHA-256", &enabled)
                .expect("handshake");
            let first = session
                .authenticate(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", credentials, nonce)
                .expect("server-first");
            assert!(first.starts_with(b"r=rOprNGfwEbeRWgbNEkqO%hvY"));
            assert!(session.permits(36) && session.principal().is_none());
            let last = alloc::format!(
                "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p={proof}"
            );
            let answer = session.authenticate(last.as_bytes(), credentials, nonce);
            if accepted {
                assert_eq!(
                    answer.expect("server-final"),
                    b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
                );
                assert_eq!(session.principal(), Some("User:user"));
            } else {
                let err = answer.expect_err("wrong proof");
                assert_eq!(err.code, error_code::SASL_AUTHENTICATION_FAILED);
                assert!(err.closes && session.principal().is_none());
            }
        }
    }
}
