//! SASL/SCRAM (RFC 5802, RFC 7677) as Kafka serves it: SCRAM-SHA-256 and SCRAM-SHA-512
//! credentials, the server side of one exchange, and the credential changes of KIP-554
//! (AlterUserScramCredentials).
//!
//! A credential is what Kafka keeps (`ScramCredential`): salt, StoredKey, ServerKey and the
//! iteration count, never the password. AlterUserScramCredentials carries the *salted*
//! password (the client computed it), from which the keys are derived
//! ([`ScramCredential::from_salted_password`]); [`ScramCredential::from_password`] does the
//! whole derivation, for configuration files and tests.
//!
//! The exchange has two client messages: client-first (`n,,n=user,r=nonce`) answered with
//! server-first (`r=nonce+server nonce,s=salt,i=iterations`), then client-final
//! (`c=binding,r=nonce,p=proof`) answered with server-final (`v=signature`). The server's
//! nonce comes from the driver (core draws no randomness), as every other input does.
//! Refusals use Kafka's `ScramSaslServer` words; a `SaslException` there becomes Kafka's
//! generic "invalid credentials" text in the answer, and so it does here.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};

use crate::error_code;

/// Kafka's lowest iteration count for both mechanisms (`ScramMechanism.minIterations`).
pub const MIN_ITERATIONS: u32 = 4096;
/// Kafka's highest iteration count a credential may be given (KIP-554).
pub const MAX_ITERATIONS: u32 = 16384;

/// A SCRAM mechanism, with its KIP-554 wire code.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum ScramMechanism {
    /// SCRAM-SHA-256 (code 1).
    Sha256,
    /// SCRAM-SHA-512 (code 2).
    Sha512,
}

impl ScramMechanism {
    /// Both mechanisms.
    pub const ALL: [Self; 2] = [Self::Sha256, Self::Sha512];

    /// The mechanism with KIP-554 code `code` (1 or 2).
    pub fn from_code(code: i8) -> Option<Self> {
        match code {
            1 => Some(Self::Sha256),
            2 => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Its KIP-554 code.
    pub fn code(self) -> i8 {
        match self {
            Self::Sha256 => 1,
            Self::Sha512 => 2,
        }
    }

    /// The mechanism SASL calls `name` (`SCRAM-SHA-256`, `SCRAM-SHA-512`).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "SCRAM-SHA-256" => Some(Self::Sha256),
            "SCRAM-SHA-512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// Its SASL name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SCRAM-SHA-256",
            Self::Sha512 => "SCRAM-SHA-512",
        }
    }

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length, so `new_from_slice` does not fail; were it to, the
        // empty result matches no key and authentication fails safely.
        match self {
            Self::Sha256 => match <Hmac<Sha256> as Mac>::new_from_slice(key) {
                Ok(mut mac) => {
                    mac.update(data);
                    mac.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
            Self::Sha512 => match <Hmac<Sha512> as Mac>::new_from_slice(key) {
                Ok(mut mac) => {
                    mac.update(data);
                    mac.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            },
        }
    }

    /// Hi(password, salt, iterations) of RFC 5802: PBKDF2 with this mechanism's HMAC.
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Self::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            Self::Sha512 => {
                let mut out = [0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }
}

/// What the broker keeps for one user and mechanism (Kafka's `ScramCredential`).
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScramCredential {
    /// The salt, as given.
    pub salt: Vec<u8>,
    /// H(ClientKey): checks a client's proof.
    pub stored_key: Vec<u8>,
    /// HMAC(SaltedPassword, "Server Key"): signs the server's final message.
    pub server_key: Vec<u8>,
    /// The PBKDF2 iteration count.
    pub iterations: u32,
}

impl core::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // As Kafka prints it: the keys are secrets.
        write!(
            f,
            "ScramCredential(iterations={}, keys hidden)",
            self.iterations
        )
    }
}

impl ScramCredential {
    /// The credential of a salted password (AlterUserScramCredentials' `salted_password`):
    /// ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey), ServerKey =
    /// HMAC(SaltedPassword, "Server Key") (RFC 5802 §3).
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salt: &[u8],
        salted_password: &[u8],
        iterations: u32,
    ) -> Self {
        let client_key = mechanism.hmac(salted_password, b"Client Key");
        Self {
            salt: salt.to_vec(),
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted_password, b"Server Key"),
            iterations,
        }
    }

    /// The credential of `password` with `salt` and `iterations` (the whole derivation).
    pub fn from_password(
        mechanism: ScramMechanism,
        password: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Self {
        let salted = mechanism.salted_password(password.as_bytes(), salt, iterations);
        Self::from_salted_password(mechanism, salt, &salted, iterations)
    }
}

/// A refused credential change, with Kafka's code and words (`ScramControlManager`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialError {
    /// UNACCEPTABLE_CREDENTIAL, UNSUPPORTED_SASL_MECHANISM, RESOURCE_NOT_FOUND or
    /// DUPLICATE_RESOURCE.
    pub code: i16,
    /// Kafka's message.
    pub message: &'static str,
}

/// One change of AlterUserScramCredentials (KIP-554).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialChange {
    /// Set the user's credential for a mechanism (mechanism code as sent).
    Upsert {
        /// The user.
        user: String,
        /// KIP-554 mechanism code (1, 2; anything else is refused).
        mechanism: i8,
        /// Iterations, 4096..=16384.
        iterations: i32,
        /// The salt.
        salt: Vec<u8>,
        /// Hi(password, salt, iterations), computed by the client.
        salted_password: Vec<u8>,
    },
    /// Remove the user's credential for a mechanism.
    Delete {
        /// The user.
        user: String,
        /// KIP-554 mechanism code.
        mechanism: i8,
    },
}

impl CredentialChange {
    fn user(&self) -> &str {
        match self {
            Self::Upsert { user, .. } | Self::Delete { user, .. } => user,
        }
    }
}

/// Every SCRAM credential a broker (or a cluster's metadata) holds: (user, mechanism) →
/// credential.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScramCredentials {
    users: BTreeMap<String, BTreeMap<ScramMechanism, ScramCredential>>,
}

impl ScramCredentials {
    /// No credentials.
    pub fn new() -> Self {
        Self::default()
    }

    /// The credential of `user` for `mechanism`.
    pub fn get(&self, user: &str, mechanism: ScramMechanism) -> Option<&ScramCredential> {
        self.users.get(user)?.get(&mechanism)
    }

    /// Sets a credential (a change already validated, or a configured user).
    pub fn set(&mut self, user: &str, mechanism: ScramMechanism, credential: ScramCredential) {
        self.users
            .entry(user.to_string())
            .or_default()
            .insert(mechanism, credential);
    }

    /// Removes a credential; a user left with none is gone.
    pub fn remove(&mut self, user: &str, mechanism: ScramMechanism) {
        if let Some(mechanisms) = self.users.get_mut(user) {
            mechanisms.remove(&mechanism);
            if mechanisms.is_empty() {
                self.users.remove(user);
            }
        }
    }

    /// Every user with a credential, each with (mechanism, iterations): what
    /// DescribeUserScramCredentials shows (never the keys).
    pub fn describe(&self) -> impl Iterator<Item = (&str, Vec<(ScramMechanism, u32)>)> + '_ {
        self.users.iter().map(|(user, m)| {
            (
                user.as_str(),
                m.iter().map(|(m, c)| (*m, c.iterations)).collect(),
            )
        })
    }

    /// One user's (mechanism, iterations), `None` when the user has no credential.
    pub fn describe_user(&self, user: &str) -> Option<Vec<(ScramMechanism, u32)>> {
        let m = self.users.get(user)?;
        Some(m.iter().map(|(m, c)| (*m, c.iterations)).collect())
    }

    /// Checks AlterUserScramCredentials' changes as Kafka's controller does: a user named by
    /// two changes is refused in all of them (DUPLICATE_RESOURCE); an empty user name or
    /// iterations outside 4096..=16384 are UNACCEPTABLE_CREDENTIAL; an unknown mechanism is
    /// UNSUPPORTED_SASL_MECHANISM; deleting a credential that does not exist is
    /// RESOURCE_NOT_FOUND. Returns, in request order, each change's user and its outcome:
    /// `Ok(credential change to apply)` or the refusal. Changes nothing.
    pub fn validate(
        &self,
        changes: &[CredentialChange],
    ) -> Vec<(String, Result<ScramChange, CredentialError>)> {
        let mut named: BTreeMap<&str, usize> = BTreeMap::new();
        for change in changes {
            *named.entry(change.user()).or_default() += 1;
        }
        let mut out = Vec::new();
        let mut answered: Vec<&str> = Vec::new();
        for change in changes {
            let user = change.user();
            if named.get(user).copied().unwrap_or(0) > 1 {
                if !answered.contains(&user) {
                    answered.push(user);
                    out.push((
                        user.to_string(),
                        Err(CredentialError {
                            code: error_code::DUPLICATE_RESOURCE,
                            message: "A user credential cannot be altered twice in the same request",
                        }),
                    ));
                }
                continue;
            }
            out.push((user.to_string(), self.validate_one(change)));
        }
        out
    }

    fn validate_one(&self, change: &CredentialChange) -> Result<ScramChange, CredentialError> {
        let (user, code) = match change {
            CredentialChange::Upsert {
                user, mechanism, ..
            }
            | CredentialChange::Delete { user, mechanism } => (user, *mechanism),
        };
        if user.is_empty() {
            return Err(CredentialError {
                code: error_code::UNACCEPTABLE_CREDENTIAL,
                message: "Username must not be empty",
            });
        }
        let Some(mechanism) = ScramMechanism::from_code(code) else {
            return Err(CredentialError {
                code: error_code::UNSUPPORTED_SASL_MECHANISM,
                message: "Unknown SCRAM mechanism",
            });
        };
        match change {
            CredentialChange::Upsert {
                iterations,
                salt,
                salted_password,
                ..
            } => {
                if *iterations < MIN_ITERATIONS as i32 {
                    return Err(CredentialError {
                        code: error_code::UNACCEPTABLE_CREDENTIAL,
                        message: "Too few iterations",
                    });
                }
                if *iterations > MAX_ITERATIONS as i32 {
                    return Err(CredentialError {
                        code: error_code::UNACCEPTABLE_CREDENTIAL,
                        message: "Too many iterations",
                    });
                }
                Ok(ScramChange {
                    user: user.clone(),
                    mechanism,
                    credential: Some(ScramCredential::from_salted_password(
                        mechanism,
                        salt,
                        salted_password,
                        *iterations as u32,
                    )),
                })
            }
            CredentialChange::Delete { .. } => {
                if self.get(user, mechanism).is_none() {
                    return Err(CredentialError {
                        code: error_code::RESOURCE_NOT_FOUND,
                        message: "Attempt to delete a user credential that does not exist",
                    });
                }
                Ok(ScramChange {
                    user: user.clone(),
                    mechanism,
                    credential: None,
                })
            }
        }
    }

    /// Applies a validated change.
    pub fn apply(&mut self, change: &ScramChange) {
        match &change.credential {
            Some(c) => self.set(&change.user, change.mechanism, c.clone()),
            None => self.remove(&change.user, change.mechanism),
        }
    }
}

/// A validated credential change, as the metadata log records it (Kafka's
/// `UserScramCredentialRecord` / `RemoveUserScramCredentialRecord`): keys, never a password.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScramChange {
    /// The user.
    pub user: String,
    /// The mechanism.
    pub mechanism: ScramMechanism,
    /// The new credential, or `None` to remove it.
    pub credential: Option<ScramCredential>,
}

/// The server's side of one SCRAM exchange, between its two client messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramExchange {
    mechanism: ScramMechanism,
    user: String,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    credential: ScramCredential,
}

/// Why a SCRAM message was refused: Kafka's words for the client (`client_message`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramError {
    /// What the SaslAuthenticate answer says.
    pub client_message: String,
}

impl ScramError {
    /// A `SaslException` in Kafka: the client gets the generic text.
    fn generic(mechanism: ScramMechanism) -> Self {
        Self {
            client_message: alloc::format!(
                "Authentication failed during authentication due to invalid credentials with SASL mechanism {}",
                mechanism.name()
            ),
        }
    }
}

/// `saslname` back to the user name: `=2C` is a comma, `=3D` an equals sign (RFC 5802 §5.1;
/// Kafka's `ScramFormatter.username`). Any other `=` escape is malformed.
fn unescape_name(name: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let escape = rest.get(i..i + 3)?;
        out.push(match escape {
            "=2C" => ',',
            "=3D" => '=',
            _ => return None,
        });
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// The values of a SCRAM message's first two attributes, which must be `first` and `second`
/// (`n=`/`r=`, `c=`/`r=`), and the attributes after them.
fn leading_fields<'a>(
    text: &'a str,
    first: &str,
    second: &str,
) -> Option<(&'a str, &'a str, core::str::Split<'a, char>)> {
    let mut fields = text.split(',');
    let a = fields.next()?.strip_prefix(first)?;
    let b = fields.next()?.strip_prefix(second)?;
    Some((a, b, fields))
}

/// The printable characters a nonce may hold (RFC 5802: any printable but `,`).
fn valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

impl ScramExchange {
    /// Reads the client-first message and answers with server-first; `server_nonce` is the
    /// driver's fresh random printable text (no `,`). Errors (the generic text, as Kafka):
    /// a malformed message, an unknown user; an authorization id other than the user gets
    /// Kafka's own words.
    pub fn start(
        mechanism: ScramMechanism,
        client_first: &[u8],
        credentials: &ScramCredentials,
        server_nonce: &str,
    ) -> Result<(Self, Vec<u8>), ScramError> {
        let generic = || ScramError::generic(mechanism);
        let text = core::str::from_utf8(client_first).map_err(|_| generic())?;
        // gs2-header: channel binding flag (n or y; no binding is offered), authzid, then the
        // bare message.
        let mut parts = text.splitn(3, ',');
        let flag = parts.next().ok_or_else(generic)?;
        let authzid_field = parts.next().ok_or_else(generic)?;
        let bare = parts.next().ok_or_else(generic)?;
        let gs2_header = text[..flag.len() + authzid_field.len() + 2].to_string();
        if flag != "n" && flag != "y" {
            return Err(generic());
        }
        let authzid = match authzid_field.strip_prefix("a=") {
            Some(a) => unescape_name(a).ok_or_else(generic)?,
            None if authzid_field.is_empty() => String::new(),
            None => return Err(generic()),
        };
        let (name, client_nonce, mut extensions) =
            leading_fields(bare, "n=", "r=").ok_or_else(generic)?;
        // Extensions (Kafka's tokenauth, ...) follow; runnel has no delegation tokens, and an
        // extension it does not know is ignored, as Kafka ignores it.
        if extensions.any(|f| f.starts_with("tokenauth=true")) {
            return Err(generic());
        }
        let user = unescape_name(name).ok_or_else(generic)?;
        if user.is_empty() || !valid_nonce(client_nonce) || !valid_nonce(server_nonce) {
            return Err(generic());
        }
        let credential = credentials.get(&user, mechanism).ok_or_else(generic)?;
        if !authzid.is_empty() && authzid != user {
            return Err(ScramError {
                client_message: "Authentication failed: Client requested an authorization id that is different from username".to_string(),
            });
        }
        if credential.iterations < MIN_ITERATIONS {
            return Err(generic());
        }
        let nonce = alloc::format!("{client_nonce}{server_nonce}");
        let server_first = alloc::format!(
            "r={nonce},s={},i={}",
            BASE64.encode(&credential.salt),
            credential.iterations
        );
        let exchange = Self {
            mechanism,
            user,
            gs2_header,
            client_first_bare: bare.to_string(),
            server_first: server_first.clone(),
            nonce,
            credential: credential.clone(),
        };
        Ok((exchange, server_first.into_bytes()))
    }

    /// Reads the client-final message, checks its proof, and answers with server-final;
    /// returns the authenticated user too. Errors (the generic text): a malformed message,
    /// another channel binding, a nonce that does not end with the exchange's, a wrong proof
    /// (a wrong password).
    pub fn finish(&self, client_final: &[u8]) -> Result<(String, Vec<u8>), ScramError> {
        let generic = || ScramError::generic(self.mechanism);
        let text = core::str::from_utf8(client_final).map_err(|_| generic())?;
        let (without_proof, proof) = text.rsplit_once(",p=").ok_or_else(generic)?;
        let (binding, nonce, _) = leading_fields(without_proof, "c=", "r=").ok_or_else(generic)?;
        // Kafka 3.8.1+ checks that the nonce *ends with* the exchange's (apache/kafka
        // 0a004562): librdkafka before 2.6.1 sends the client's part twice (librdkafka #4895),
        // and its proof is computed over what it sent, so the signature check still binds it.
        if binding != BASE64.encode(self.gs2_header.as_bytes()) || !nonce.ends_with(&self.nonce) {
            return Err(generic());
        }
        let proof = BASE64.decode(proof).map_err(|_| generic())?;
        let auth_message = alloc::format!(
            "{},{},{without_proof}",
            self.client_first_bare,
            self.server_first
        );
        let client_signature = self
            .mechanism
            .hmac(&self.credential.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err(generic());
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(p, s)| p ^ s)
            .collect();
        let stored_key = self.mechanism.hash(&client_key);
        // Constant time, as Kafka's MessageDigest.isEqual.
        let differs = stored_key
            .iter()
            .zip(&self.credential.stored_key)
            .fold(0u8, |d, (a, b)| d | (a ^ b));
        if differs != 0 || stored_key.len() != self.credential.stored_key.len() {
            return Err(generic());
        }
        let signature = self
            .mechanism
            .hmac(&self.credential.server_key, auth_message.as_bytes());
        let server_final = alloc::format!("v={}", BASE64.encode(signature));
        Ok((self.user.clone(), server_final.into_bytes()))
    }
}

/// The client's side of one SCRAM exchange (the command line's): client-first, then the
/// client-final message from the server's first, then the server's signature checked.
#[derive(Clone, Debug)]
pub struct ScramClient {
    mechanism: ScramMechanism,
    password: String,
    client_nonce: String,
    client_first_bare: String,
    server_signature: Option<Vec<u8>>,
}

impl ScramClient {
    /// Starts an exchange for `user` with `password`; `client_nonce` is fresh random printable
    /// text (no `,`). Returns the client and its client-first message (`n,,n=user,r=nonce`,
    /// the name escaped as RFC 5802 §5.1 says).
    pub fn start(
        mechanism: ScramMechanism,
        user: &str,
        password: &str,
        client_nonce: &str,
    ) -> (Self, Vec<u8>) {
        let name = user.replace('=', "=3D").replace(',', "=2C");
        let client_first_bare = alloc::format!("n={name},r={client_nonce}");
        let first = alloc::format!("n,,{client_first_bare}");
        let client = Self {
            mechanism,
            password: password.to_string(),
            client_nonce: client_nonce.to_string(),
            client_first_bare,
            server_signature: None,
        };
        (client, first.into_bytes())
    }

    /// The client-final message answering `server_first`. Errors: a message that does not
    /// read, a nonce that does not start with the client's, iterations outside 4096..=16384
    /// (a hostile server cannot make the client hash for long).
    pub fn finish(&mut self, server_first: &[u8]) -> Result<Vec<u8>, String> {
        let text = core::str::from_utf8(server_first)
            .map_err(|_| "the server's SCRAM message is not UTF-8".to_string())?;
        let mut nonce = None;
        let mut salt = None;
        let mut iterations = None;
        for field in text.split(',') {
            match field.split_once('=') {
                Some(("r", v)) => nonce = Some(v),
                Some(("s", v)) => salt = BASE64.decode(v).ok(),
                Some(("i", v)) => iterations = v.parse::<u32>().ok(),
                _ => {}
            }
        }
        let (Some(nonce), Some(salt), Some(iterations)) = (nonce, salt, iterations) else {
            return Err(alloc::format!(
                "the server's SCRAM message does not read: {text}"
            ));
        };
        if !nonce.starts_with(&self.client_nonce) || nonce.len() == self.client_nonce.len() {
            return Err("the server's SCRAM nonce does not extend the client's".into());
        }
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(alloc::format!(
                "the server asks for {iterations} SCRAM iterations, outside Kafka's 4096..=16384"
            ));
        }
        let m = self.mechanism;
        let salted = m.salted_password(self.password.as_bytes(), &salt, iterations);
        let without_proof = alloc::format!("c=biws,r={nonce}");
        let auth = alloc::format!("{},{text},{without_proof}", self.client_first_bare);
        let client_key = m.hmac(&salted, b"Client Key");
        let signature = m.hmac(&m.hash(&client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        self.server_signature = Some(m.hmac(&m.hmac(&salted, b"Server Key"), auth.as_bytes()));
        Ok(alloc::format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }

    /// Checks the server-final message (`v=signature`): the server knew the credential.
    /// Errors: another signature, or a server error (`e=...`).
    pub fn verify(&self, server_final: &[u8]) -> Result<(), String> {
        let text = core::str::from_utf8(server_final).unwrap_or_default();
        let signature = text.strip_prefix("v=").and_then(|v| BASE64.decode(v).ok());
        match (&self.server_signature, signature) {
            (Some(expected), Some(got)) if *expected == got => Ok(()),
            _ => Err(alloc::format!(
                "the server's SCRAM signature does not match: {text}"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 §3's user: "user", password "pencil", its salt, 4096 iterations.
    fn rfc_7677_credentials() -> ScramCredentials {
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
        let mut credentials = ScramCredentials::new();
        credentials.set(
            "user",
            ScramMechanism::Sha256,
            ScramCredential::from_password(ScramMechanism::Sha256, "pencil", &salt, 4096),
        );
        credentials
    }

    /// RFC 7677 §3's SCRAM-SHA-256 example, end to end: user "user", password "pencil".
    #[test]
    fn the_rfc_7677_exchange_passes_and_signs_as_the_rfc_says() {
        let credentials = rfc_7677_credentials();
        let (exchange, server_first) = ScramExchange::start(
            ScramMechanism::Sha256,
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            &credentials,
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        )
        .expect("client-first");
        assert_eq!(
            server_first,
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let (user, server_final) = exchange
            .finish(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .expect("client-final");
        assert_eq!(user, "user");
        assert_eq!(
            server_final,
            b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn a_wrong_proof_an_unknown_user_and_another_nonce_are_refused_in_kafkas_words() {
        let credentials = rfc_7677_credentials();
        let generic = "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256";
        let nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let unknown = ScramExchange::start(
            ScramMechanism::Sha256,
            b"n,,n=nobody,r=abc",
            &credentials,
            nonce,
        );
        assert_eq!(unknown.map(|_| ()).unwrap_err().client_message, generic);
        let other_authzid = ScramExchange::start(
            ScramMechanism::Sha256,
            b"n,a=admin,n=user,r=abc",
            &credentials,
            nonce,
        );
        assert!(
            other_authzid
                .unwrap_err()
                .client_message
                .contains("authorization id that is different from username")
        );
        let (exchange, _) = ScramExchange::start(
            ScramMechanism::Sha256,
            b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            &credentials,
            nonce,
        )
        .expect("client-first");
        let wrong_proof = exchange.finish(b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        assert_eq!(wrong_proof.unwrap_err().client_message, generic);
        let wrong_nonce = exchange.finish(
            b"c=biws,r=rOprNGfwEbeRWgbNEkqOxx,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        );
        assert_eq!(wrong_nonce.unwrap_err().client_message, generic);
        for garbage in [&b""[..], b"p=", b"c=biws", b"\xff\xfe"] {
            assert!(exchange.finish(garbage).is_err(), "{garbage:?}");
        }
    }

    /// librdkafka before 2.6.1 repeats its own nonce in client-final (`r=` client nonce, then
    /// the server's whole nonce); Kafka 3.8.1+ accepts it (`endsWith`), and kcat 2.0.2 needs it.
    #[test]
    fn a_client_final_nonce_with_the_client_part_repeated_is_accepted() {
        let mechanism = ScramMechanism::Sha512;
        let mut credentials = ScramCredentials::new();
        credentials.set(
            "alice",
            mechanism,
            ScramCredential::from_password(mechanism, "alice-secret", b"salt", 4096),
        );
        let (exchange, first) =
            ScramExchange::start(mechanism, b"n,,n=alice,r=cli", &credentials, "srv")
                .expect("client-first");
        assert_eq!(first, b"r=clisrv,s=c2FsdA==,i=4096");
        // The client side, as RFC 5802 computes it, over a repeated nonce.
        let without_proof = "c=biws,r=cliclisrv";
        let auth = alloc::format!("n=alice,r=cli,r=clisrv,s=c2FsdA==,i=4096,{without_proof}");
        let salted = mechanism.salted_password(b"alice-secret", b"salt", 4096);
        let client_key = mechanism.hmac(&salted, b"Client Key");
        let signature = mechanism.hmac(&mechanism.hash(&client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let last = alloc::format!("{without_proof},p={}", BASE64.encode(&proof));
        let (user, _) = exchange.finish(last.as_bytes()).expect("accepted");
        assert_eq!(user, "alice");
        let other = alloc::format!("c=biws,r=clisrvX,p={}", BASE64.encode(&proof));
        assert!(
            exchange.finish(other.as_bytes()).is_err(),
            "must end with the nonce"
        );
    }

    #[test]
    fn sasl_names_unescape_commas_and_equals_signs() {
        assert_eq!(unescape_name("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(unescape_name("plain").as_deref(), Some("plain"));
        assert_eq!(unescape_name("bad=2"), None);
        assert_eq!(unescape_name("bad=41"), None);
    }

    /// KIP-554's rules, as Kafka's `ScramControlManager` applies them.
    #[test]
    fn credential_changes_follow_kafkas_controller() {
        let mut credentials = ScramCredentials::new();
        let upsert = |user: &str, mechanism: i8, iterations: i32| CredentialChange::Upsert {
            user: user.to_string(),
            mechanism,
            iterations,
            salt: b"salt".to_vec(),
            salted_password: b"salted".to_vec(),
        };
        let outcome = credentials.validate(&[
            upsert("alice", 2, 8192),
            upsert("", 2, 8192),
            upsert("bob", 3, 8192),
            upsert("carol", 1, 4095),
            upsert("dave", 1, 16385),
            CredentialChange::Delete {
                user: "erin".to_string(),
                mechanism: 1,
            },
            upsert("frank", 1, 4096),
            CredentialChange::Delete {
                user: "frank".to_string(),
                mechanism: 2,
            },
        ]);
        let codes: Vec<(&str, i16)> = outcome
            .iter()
            .map(|(u, r)| (u.as_str(), r.as_ref().map_or_else(|e| e.code, |_| 0)))
            .collect();
        assert_eq!(
            codes,
            [
                ("alice", 0),
                ("", error_code::UNACCEPTABLE_CREDENTIAL),
                ("bob", error_code::UNSUPPORTED_SASL_MECHANISM),
                ("carol", error_code::UNACCEPTABLE_CREDENTIAL),
                ("dave", error_code::UNACCEPTABLE_CREDENTIAL),
                ("erin", error_code::RESOURCE_NOT_FOUND),
                ("frank", error_code::DUPLICATE_RESOURCE),
            ]
        );
        for (_, change) in &outcome {
            if let Ok(change) = change {
                credentials.apply(change);
            }
        }
        assert_eq!(
            credentials.describe_user("alice"),
            Some(alloc::vec![(ScramMechanism::Sha512, 8192)])
        );
        let remove = credentials.validate(&[CredentialChange::Delete {
            user: "alice".to_string(),
            mechanism: 2,
        }]);
        let Ok(change) = &remove[0].1 else {
            panic!("{remove:?}");
        };
        credentials.apply(change);
        assert_eq!(
            credentials.describe().count(),
            0,
            "alice had one credential"
        );
    }

    /// The client and the server agree with each other (both ways of the signature).
    #[test]
    fn the_client_side_authenticates_to_the_server_side() {
        for mechanism in ScramMechanism::ALL {
            let mut credentials = ScramCredentials::new();
            credentials.set(
                "a,b=c",
                mechanism,
                ScramCredential::from_password(mechanism, "pw", b"NaCl", 4096),
            );
            for (password, accepted) in [("pw", true), ("wrong", false)] {
                let (mut client, first) = ScramClient::start(mechanism, "a,b=c", password, "cn");
                let (exchange, server_first) =
                    ScramExchange::start(mechanism, &first, &credentials, "sn").expect("first");
                let last = client.finish(&server_first).expect("client-final");
                match exchange.finish(&last) {
                    Ok((user, server_final)) => {
                        assert!(accepted);
                        assert_eq!(user, "a,b=c");
                        client
                            .verify(&server_final)
                            .expect("the server's signature");
                        assert!(client.verify(b"v=AAAA").is_err());
                    }
                    Err(_) => assert!(!accepted),
                }
            }
        }
    }
}
