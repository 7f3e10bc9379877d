//! `runnel user`: SCRAM users (KIP-554) as `kafka-configs --entity-type users
//! --add-config 'SCRAM-SHA-512=[password=...]'` manages them. The client salts and hashes the
//! password itself (AlterUserScramCredentials carries only the salted password, as Kafka's
//! admin client sends it); the broker keeps keys derived from it.

use kafka_protocol::messages::alter_user_scram_credentials_request::{
    ScramCredentialDeletion, ScramCredentialUpsertion,
};
use kafka_protocol::messages::describe_user_scram_credentials_request::UserName;
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse, ApiKey,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;
use runnel_core::scram::ScramMechanism;

use super::{Brokers, Cell, ClientError, Report};
use crate::client::check_with;

/// Kafka's default iteration count for new credentials (`kafka-configs`, 4096).
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// A mechanism by its SASL name (`SCRAM-SHA-256`, `SCRAM-SHA-512`, any case).
///
/// # Errors
/// [`ClientError::Usage`] for another name.
pub fn scram_mechanism(name: &str) -> Result<ScramMechanism, ClientError> {
    ScramMechanism::from_name(&name.to_ascii_uppercase()).ok_or_else(|| {
        ClientError::Usage(format!(
            "--mechanism {name}: give SCRAM-SHA-256 or SCRAM-SHA-512"
        ))
    })
}

/// Sets `user`'s credential for `mechanism` from `password`, with a fresh random salt and
/// `iterations` (4096..=16384, Kafka's bounds).
///
/// # Errors
/// The broker's refusal ([`ClientError::Kafka`], e.g. UNACCEPTABLE_CREDENTIAL), or a network
/// error.
pub fn user_create(
    brokers: &mut Brokers,
    user: &str,
    password: &str,
    mechanism: ScramMechanism,
    iterations: u32,
) -> Result<Report, ClientError> {
    if password.is_empty() {
        return Err(ClientError::Usage("--password must not be empty".into()));
    }
    let salt = crate::tls::random_bytes::<32>("a salt").map_err(ClientError::Usage)?;
    let salted = mechanism.salted_password(password.as_bytes(), &salt, iterations);
    let request = AlterUserScramCredentialsRequest::default().with_upsertions(vec![
        ScramCredentialUpsertion::default()
            .with_name(StrBytes::from_string(user.to_string()))
            .with_mechanism(mechanism.code())
            .with_iterations(i32::try_from(iterations).unwrap_or(i32::MAX))
            .with_salt(salt.to_vec().into())
            .with_salted_password(salted.into()),
    ]);
    alter(
        brokers,
        &request,
        &format!("set the {} credential of {user}", mechanism.name()),
    )?;
    Ok(Report::message(
        format!(
            "user {user}: {} credential set ({iterations} iterations)",
            mechanism.name()
        ),
        vec![
            ("user", Cell::Text(user.to_string())),
            ("mechanism", Cell::Text(mechanism.name().to_string())),
            ("iterations", Cell::Int(i64::from(iterations))),
        ],
    ))
}

/// Removes `user`'s credentials: for `mechanism`, or every one it has.
///
/// # Errors
/// The user has no such credential (RESOURCE_NOT_FOUND), or a network error.
pub fn user_delete(
    brokers: &mut Brokers,
    user: &str,
    mechanism: Option<ScramMechanism>,
) -> Result<Report, ClientError> {
    let mechanisms = match mechanism {
        Some(m) => vec![m],
        None => {
            let described = describe(brokers, Some(user))?;
            let Some((_, credentials)) = described.into_iter().next() else {
                return Err(ClientError::Usage(format!(
                    "user {user} has no SCRAM credential"
                )));
            };
            credentials.into_iter().map(|(m, _)| m).collect()
        }
    };
    // Kafka refuses one user twice in a request: one request per mechanism.
    for m in &mechanisms {
        let request = AlterUserScramCredentialsRequest::default().with_deletions(vec![
            ScramCredentialDeletion::default()
                .with_name(StrBytes::from_string(user.to_string()))
                .with_mechanism(m.code()),
        ]);
        alter(
            brokers,
            &request,
            &format!("delete the {} credential of {user}", m.name()),
        )?;
    }
    let names: Vec<&str> = mechanisms.iter().map(|m| m.name()).collect();
    Ok(Report::message(
        format!("user {user}: {} removed", names.join(", ")),
        vec![
            ("user", Cell::Text(user.to_string())),
            ("mechanisms", Cell::Text(names.join(","))),
        ],
    ))
}

/// Every SCRAM user, with each mechanism and its iterations.
///
/// # Errors
/// A network error or the broker's refusal.
pub fn user_list(brokers: &mut Brokers) -> Result<Report, ClientError> {
    let rows = describe(brokers, None)?
        .into_iter()
        .flat_map(|(user, credentials)| {
            credentials.into_iter().map(move |(m, iterations)| {
                vec![
                    Cell::Text(user.clone()),
                    Cell::Text(m.name().to_string()),
                    Cell::Int(i64::from(iterations)),
                ]
            })
        })
        .collect();
    Ok(Report {
        columns: vec!["USER", "MECHANISM", "ITERATIONS"],
        rows,
        ..Report::default()
    })
}

fn alter(
    brokers: &mut Brokers,
    request: &AlterUserScramCredentialsRequest,
    what: &str,
) -> Result<(), ClientError> {
    let response: AlterUserScramCredentialsResponse =
        brokers
            .any()
            .call(ApiKey::AlterUserScramCredentials, 0, request)?;
    for result in &response.results {
        check_with(what, result.error_code, result.error_message.as_ref())?;
    }
    Ok(())
}

type Described = Vec<(String, Vec<(ScramMechanism, u32)>)>;

fn describe(brokers: &mut Brokers, user: Option<&str>) -> Result<Described, ClientError> {
    let users =
        user.map(|u| vec![UserName::default().with_name(StrBytes::from_string(u.to_string()))]);
    let request = DescribeUserScramCredentialsRequest::default().with_users(users);
    let response: DescribeUserScramCredentialsResponse =
        brokers
            .any()
            .call(ApiKey::DescribeUserScramCredentials, 0, &request)?;
    check_with(
        "describe SCRAM users",
        response.error_code,
        response.error_message.as_ref(),
    )?;
    let mut out = Vec::new();
    for result in response.results {
        let name = result.user.to_string();
        check_with(
            &format!("describe user {name}"),
            result.error_code,
            result.error_message.as_ref(),
        )?;
        let credentials = result
            .credential_infos
            .iter()
            .filter_map(|c| {
                ScramMechanism::from_code(c.mechanism)
                    .map(|m| (m, u32::try_from(c.iterations).unwrap_or(0)))
            })
            .collect();
        out.push((name, credentials));
    }
    Ok(out)
}
