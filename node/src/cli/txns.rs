//! Transaction commands (KIP-664's admin side, as `kafka-transactions.sh`): `txn list` asks
//! every broker's transaction coordinator for the transactional ids it knows
//! (ListTransactions); `txn describe` asks the coordinator of one id (FindCoordinator key type
//! 1, then DescribeTransactions) for its state, producer, timeout and partitions.

use std::collections::BTreeMap;

use kafka_protocol::messages::{
    ApiKey, DescribeTransactionsRequest, DescribeTransactionsResponse, ListTransactionsRequest,
    ListTransactionsResponse, TransactionalId,
};
use kafka_protocol::protocol::StrBytes;

use super::{Brokers, Cell, ClientError, Report, check};

/// `txn list`: every transactional id the cluster's coordinators know, with its producer id
/// and state, one row each, by id.
pub fn txn_list(brokers: &mut Brokers) -> Result<Report, ClientError> {
    brokers.metadata(Some(&[]))?;
    // Transactional id → (producer id, state).
    let mut txns: BTreeMap<String, (i64, String)> = BTreeMap::new();
    for id in brokers.broker_ids() {
        let request = ListTransactionsRequest::default().with_duration_filter(-1);
        let response: ListTransactionsResponse =
            brokers
                .broker(id)?
                .call(ApiKey::ListTransactions, 0, &request)?;
        check("list transactions", response.error_code)?;
        for t in &response.transaction_states {
            txns.insert(
                t.transactional_id.0.to_string(),
                (t.producer_id.0, t.transaction_state.to_string()),
            );
        }
    }
    Ok(Report {
        columns: vec!["TRANSACTIONAL ID", "PRODUCER ID", "STATE"],
        rows: txns
            .into_iter()
            .map(|(id, (producer, state))| vec![id.into(), Cell::Int(producer), state.into()])
            .collect(),
        ..Report::default()
    })
}

/// `txn describe ID`: the coordinator's view of `transactional_id` — its state, producer id
/// and epoch, `transaction.timeout.ms`, when the open transaction began, and its partitions
/// (one row each). Errors: TRANSACTIONAL_ID_NOT_FOUND for an id no producer used.
pub fn txn_describe(brokers: &mut Brokers, transactional_id: &str) -> Result<Report, ClientError> {
    let (coordinator, client) = brokers.txn_coordinator_with_id(transactional_id)?;
    let request =
        DescribeTransactionsRequest::default().with_transactional_ids(vec![TransactionalId(
            StrBytes::from_string(transactional_id.to_string()),
        )]);
    let response: DescribeTransactionsResponse =
        client.call(ApiKey::DescribeTransactions, 0, &request)?;
    let what = format!("describe transaction {transactional_id}");
    let state = response
        .transaction_states
        .first()
        .ok_or_else(|| ClientError::Protocol(format!("{what}: no answer for it")))?;
    check(&what, state.error_code)?;
    let mut rows = Vec::new();
    for topic in &state.topics {
        for p in &topic.partitions {
            rows.push(vec![
                topic.topic.0.to_string().into(),
                Cell::Int(i64::from(*p)),
            ]);
        }
    }
    let started = if state.transaction_start_time_ms >= 0 {
        Cell::Int(state.transaction_start_time_ms)
    } else {
        Cell::None
    };
    Ok(Report {
        title: Some(format!(
            "transaction {transactional_id}: {} (producer {} epoch {}, timeout {} ms, {}, \
             coordinator {coordinator})",
            state.transaction_state,
            state.producer_id.0,
            state.producer_epoch,
            state.transaction_timeout_ms,
            if state.transaction_start_time_ms >= 0 {
                format!("started at {} ms", state.transaction_start_time_ms)
            } else {
                "none open".to_string()
            }
        )),
        fields: vec![
            ("transactional_id", transactional_id.to_string().into()),
            ("state", state.transaction_state.to_string().into()),
            ("producer_id", Cell::Int(state.producer_id.0)),
            ("producer_epoch", Cell::Int(i64::from(state.producer_epoch))),
            (
                "transaction_timeout_ms",
                Cell::Int(i64::from(state.transaction_timeout_ms)),
            ),
            ("transaction_start_time_ms", started),
            ("coordinator", Cell::Int(i64::from(coordinator))),
        ],
        columns: vec!["TOPIC", "PARTITION"],
        rows,
        rows_key: "partitions",
        ..Report::default()
    })
}
