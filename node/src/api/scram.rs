//! DescribeUserScramCredentials and AlterUserScramCredentials (KIP-554): SCRAM users as
//! Kafka's admin clients (`kafka-configs --entity-type users`, confluent-kafka's
//! `alter_user_scram_credentials`, `runnel user`) manage them. The rules are core's
//! (`runnel_core::scram`); credentials show mechanism and iterations, never keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use runnel_core::error_code;
use runnel_core::scram::{CredentialChange, ScramMechanism};

use super::s;
use crate::broker::Broker;

/// What one user's credentials show: (mechanism code, iterations) each.
fn infos(credentials: &[(ScramMechanism, u32)]) -> Vec<CredentialInfo> {
    credentials
        .iter()
        .map(|(m, iterations)| {
            CredentialInfo::default()
                .with_mechanism(m.code())
                .with_iterations(i32::try_from(*iterations).unwrap_or(i32::MAX))
        })
        .collect()
}

/// DescribeUserScramCredentials: every user with a credential when `users` is null or empty,
/// else the users named, each once: a user named twice is DUPLICATE_RESOURCE, one without a
/// credential RESOURCE_NOT_FOUND (Kafka's `describeScramCredentials`).
pub(super) fn describe_user_scram_credentials(
    broker: &Arc<Broker>,
    request: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let scram = broker.scram_credentials();
    let named: Vec<String> = request
        .users
        .unwrap_or_default()
        .into_iter()
        .map(|u| u.name.to_string())
        .collect();
    let results = if named.is_empty() {
        scram
            .describe()
            .map(|(user, credentials)| {
                DescribeUserScramCredentialsResult::default()
                    .with_user(s(user))
                    .with_credential_infos(infos(&credentials))
            })
            .collect()
    } else {
        let mut times: BTreeMap<&str, usize> = BTreeMap::new();
        for user in &named {
            *times.entry(user).or_default() += 1;
        }
        let mut answered = Vec::new();
        let mut results = Vec::new();
        for user in &named {
            if answered.contains(user) {
                continue;
            }
            answered.push(user.clone());
            let result = DescribeUserScramCredentialsResult::default().with_user(s(user.clone()));
            results.push(if times[user.as_str()] > 1 {
                result
                    .with_error_code(error_code::DUPLICATE_RESOURCE)
                    .with_error_message(Some(s(format!(
                        "Cannot describe SCRAM credentials for the same user twice in a single request: {user}"
                    ))))
            } else {
                match scram.describe_user(user) {
                    Some(credentials) => result.with_credential_infos(infos(&credentials)),
                    None => result
                        .with_error_code(error_code::RESOURCE_NOT_FOUND)
                        .with_error_message(Some(s(format!(
                            "Attempt to describe a user credential that does not exist: {user}"
                        )))),
                }
            });
        }
        results
    };
    DescribeUserScramCredentialsResponse::default().with_results(results)
}

/// AlterUserScramCredentials: deletions, then upsertions (Kafka's order), checked by core as
/// Kafka's controller checks them; one result per user named.
pub(super) async fn alter_user_scram_credentials(
    broker: &Arc<Broker>,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let mut changes: Vec<CredentialChange> = request
        .deletions
        .into_iter()
        .map(|d| CredentialChange::Delete {
            user: d.name.to_string(),
            mechanism: d.mechanism,
        })
        .collect();
    changes.extend(
        request
            .upsertions
            .into_iter()
            .map(|u| CredentialChange::Upsert {
                user: u.name.to_string(),
                mechanism: u.mechanism,
                iterations: u.iterations,
                salt: u.salt.to_vec(),
                salted_password: u.salted_password.to_vec(),
            }),
    );
    let users: Vec<String> = {
        let mut users: Vec<String> = Vec::new();
        for change in &changes {
            let user = match change {
                CredentialChange::Upsert { user, .. } | CredentialChange::Delete { user, .. } => {
                    user
                }
            };
            if !users.contains(user) {
                users.push(user.clone());
            }
        }
        users
    };
    let results = match broker.alter_scram_credentials(&changes).await {
        Ok(outcome) => outcome
            .into_iter()
            .map(|(user, result)| {
                let answer = AlterUserScramCredentialsResult::default().with_user(s(user));
                match result {
                    Ok(()) => answer,
                    Err(e) => answer
                        .with_error_code(e.code)
                        .with_error_message(Some(s(e.message))),
                }
            })
            .collect(),
        Err(e) => users
            .into_iter()
            .map(|user| {
                AlterUserScramCredentialsResult::default()
                    .with_user(s(user))
                    .with_error_code(e.code)
                    .with_error_message(Some(s(e.message.clone())))
            })
            .collect(),
    };
    AlterUserScramCredentialsResponse::default().with_results(results)
}
