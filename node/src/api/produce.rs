//! Produce and InitProducerId: appending records, with idempotent-producer deduplication.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::produce_request::TopicProduceData;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse, ProducerId,
    TopicName,
};

use std::time::Duration;

use runnel_core::acl::{AclOperation, ResourceType};
use runnel_core::error_code;

use super::{Context, s};
use crate::broker::{ApiError, Broker, Produced, code};

/// How long after a produce request's own timeout the connection stops waiting for core's
/// answer (which comes at the timeout).
const PRODUCE_BACKSTOP_SLACK_MS: u64 = 1_000;

/// Produce. acks=0 gets no response at all. acks=-1 waits until the ISR has the records (or
/// the request's timeout passes) and is refused with NOT_ENOUGH_REPLICAS below
/// `min.insync.replicas`; on a single node the ISR is this node alone, so acks=-1 is answered
/// after the append (and the fsync, if configured) like acks=1, unless the topic asks for 2
/// or more in-sync replicas.
///
/// As Kafka's `ReplicaManager.appendRecords` does, every partition of the request is appended
/// first, and only then does the request wait, once, for all of them (one `DelayedProduce`
/// whose deadline is the request's `timeout_ms`, Kafka's protocol doc: "the timeout to await
/// a response"). Waiting partition by partition would hold later partitions' batches back by
/// earlier partitions' waits and append them after the client may have given up.
///
/// ACLs (Kafka's `handleProduceRequest`): WRITE on each topic, else its partitions are
/// answered TOPIC_AUTHORIZATION_FAILED and nothing is written; a topic that does not exist is
/// created only for a principal that may CREATE it. Nobody appends to `__consumer_offsets`
/// (INVALID_TOPIC_EXCEPTION, as Kafka).
pub(super) async fn produce(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: ProduceRequest,
) -> Option<ProduceResponse> {
    let version = ctx.header.request_api_version;
    let acks = request.acks;
    let timeout_ms = u64::try_from(request.timeout_ms).unwrap_or(0).max(1);
    // Core ends each acks=all wait at `timeout_ms` (`HostedPartition::poll_timeout`, run by
    // the timer task) and answers REQUEST_TIMED_OUT itself; this later deadline only stops
    // this connection waiting on an answer that never comes (a dropped partition).
    let backstop = Duration::from_millis(timeout_ms + PRODUCE_BACKSTOP_SLACK_MS);
    let deadline = tokio::time::Instant::now() + backstop;
    if let Some(refusal) = transactional_refusal(broker, ctx, &request) {
        let responses = request
            .topic_data
            .into_iter()
            .map(|t| {
                let answers = t
                    .partition_data
                    .iter()
                    .map(|d| partition_response(version, &t.name.0, d.index, Err(refusal.clone())))
                    .collect();
                TopicProduceResponse::default()
                    .with_name(t.name)
                    .with_partition_responses(answers)
            })
            .collect();
        return (acks != 0).then(|| ProduceResponse::default().with_responses(responses));
    }
    // KIP-890 part 1 with the coordinator on another node: asked before anything is appended.
    let unverified = match request.transactional_id.as_ref() {
        Some(id) => {
            broker
                .verify_txn_writes_remotely(id.0.as_str(), transactional_writes(&request))
                .await
        }
        None => BTreeMap::new(),
    };
    // First every append, in request order, waking waiting fetches once at the end.
    let appended = broker.appending(|| {
        append_all(
            broker,
            ctx,
            request.topic_data,
            (acks, timeout_ms),
            &unverified,
        )
    });
    // Then the waits for the in-sync replicas (core answers each by the request's timeout).
    let mut responses = Vec::with_capacity(appended.len());
    for (topic_name, partitions) in appended {
        let mut answers = Vec::with_capacity(partitions.len());
        for (index, produced) in partitions {
            let result = match produced {
                Ok(Produced::Done(base, start, append_time)) => Ok((base, start, append_time)),
                Ok(Produced::Waiting(rx, start, append_time)) => {
                    match tokio::time::timeout_at(deadline, rx).await {
                        Ok(Ok(Ok(base))) => Ok((base, start, append_time)),
                        Ok(Ok(Err(e))) => Err(ApiError::new(e.kafka_error_code(), e.to_string())),
                        _ => Err(ApiError::new(
                            error_code::REQUEST_TIMED_OUT,
                            "the in-sync replicas did not confirm in time",
                        )),
                    }
                }
                Err(e) => Err(e),
            };
            answers.push(partition_response(version, &topic_name.0, index, result));
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic_name)
                .with_partition_responses(answers),
        );
    }
    (acks != 0).then(|| ProduceResponse::default().with_responses(responses))
}

/// (topic, partition, producer id, epoch) of each transactional batch a produce request
/// carries (its first batch per partition: a request holds one producer's batches).
fn transactional_writes(request: &ProduceRequest) -> Vec<(String, i32, i64, i16)> {
    request
        .topic_data
        .iter()
        .flat_map(|t| t.partition_data.iter().map(move |d| (t, d)))
        .filter_map(|(t, d)| {
            let header = runnel_core::batch::BatchHeader::decode(d.records.as_ref()?).ok()?;
            header.is_transactional().then(|| {
                (
                    t.name.0.to_string(),
                    d.index,
                    header.producer_id,
                    header.producer_epoch,
                )
            })
        })
        .collect()
}

/// Every append of a produce request, in request order: per topic, its name and each
/// partition's outcome (the base offset, or the wait for the ISR, or why it was refused).
/// `(acks, timeout_ms)` as the request asks; `unverified`: partitions whose transactional
/// batch the coordinator on another node refused (nothing is appended there).
#[allow(clippy::type_complexity)]
fn append_all(
    broker: &Broker,
    ctx: &Context,
    topic_data: Vec<TopicProduceData>,
    (acks, timeout_ms): (i16, u64),
    unverified: &BTreeMap<(String, i32), ApiError>,
) -> Vec<(TopicName, Vec<(i32, Result<Produced, ApiError>)>)> {
    let mut appended = Vec::with_capacity(topic_data.len());
    for topic_data in topic_data {
        let name = topic_data.name.0.to_string();
        let writable = ctx.may(broker, AclOperation::Write, ResourceType::Topic, &name);
        let topic = if crate::broker::is_internal_topic(&name) {
            // Kafka's ReplicaManager: "Cannot append to internal topic" (only the coordinator
            // writes commits there, else anyone could forge another group's offsets).
            Err(ApiError::new(
                error_code::INVALID_TOPIC_EXCEPTION,
                format!("Cannot append to internal topic {name}"),
            ))
        } else if writable {
            // Auto-creation (runnel's, on produce too) needs CREATE; asked only when it would
            // happen, so a denial is logged only then.
            let create = broker.topic(&name).is_none()
                && broker.config.auto_create_topics
                && ctx.may_create_topic(broker, &name);
            broker.topic_or_create(&name, create)
        } else {
            Err(ApiError::new(
                error_code::TOPIC_AUTHORIZATION_FAILED,
                format!("not authorized to write to topic {name}"),
            ))
        };
        let mut partitions = Vec::with_capacity(topic_data.partition_data.len());
        for data in topic_data.partition_data {
            if !matches!(acks, -1..=1) {
                let refused = ApiError::new(code::INVALID_REQUIRED_ACKS, "acks must be -1, 0 or 1");
                partitions.push((data.index, Err(refused)));
                continue;
            }
            let produced = topic
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|_| broker.led_partition(&name, data.index))
                .and_then(|partition| {
                    if let Some(refused) = unverified.get(&(name.clone(), data.index)) {
                        return Err(refused.clone());
                    }
                    let records = data.records.unwrap_or_default();
                    verify_transactional(broker, &records, &name, data.index)?;
                    broker.produce_acks(&partition, &records, acks, timeout_ms)
                });
            partitions.push((data.index, produced));
        }
        appended.push((topic_data.name, partitions));
    }
    appended
}

/// Kafka's `handleProduceRequest`: a request carrying transactional records needs a
/// transactional id the principal may WRITE, else the whole request is refused with
/// TRANSACTIONAL_ID_AUTHORIZATION_FAILED (so a producer that never went through the
/// coordinator cannot open a transaction no coordinator knows, which would hold the
/// partition's last stable offset for ever).
fn transactional_refusal(
    broker: &Broker,
    ctx: &Context,
    request: &ProduceRequest,
) -> Option<ApiError> {
    let transactional = request
        .topic_data
        .iter()
        .flat_map(|t| &t.partition_data)
        .filter_map(|d| d.records.as_ref())
        .any(|r| runnel_core::batch::headers(r).any(|h| h.is_transactional()));
    if !transactional {
        return None;
    }
    let allowed = request.transactional_id.as_ref().is_some_and(|id| {
        ctx.may(
            broker,
            AclOperation::Write,
            ResourceType::TransactionalId,
            id.0.as_str(),
        )
    });
    (!allowed).then(|| {
        ApiError::new(
            error_code::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            "transactional records need a transactional id the client may write",
        )
    })
}

/// A transactional batch may only go to a partition its transaction added (KIP-890 part 1,
/// checked with the coordinator); on a node that serves no transactions none can have been
/// added. Errors: INVALID_TXN_STATE, INVALID_PRODUCER_EPOCH.
fn verify_transactional(
    broker: &Broker,
    records: &[u8],
    topic: &str,
    index: i32,
) -> Result<(), ApiError> {
    let Ok(header) = runnel_core::batch::BatchHeader::decode(records) else {
        return Ok(()); // the append refuses it with the batch's own error
    };
    if !header.is_transactional() {
        return Ok(());
    }
    broker.verify_txn_write(header.producer_id, header.producer_epoch, topic, index)
}

/// One partition's answer: its base offset, LogAppendTime and log start offset, or its error
/// with, from v8 on (KIP-467), the message and each refused record.
fn partition_response(
    version: i16,
    topic: &str,
    index: i32,
    result: Result<(i64, i64, i64), ApiError>,
) -> PartitionProduceResponse {
    let response = PartitionProduceResponse::default()
        .with_index(index)
        .with_base_offset(-1)
        .with_log_append_time_ms(-1);
    match result {
        Ok((base_offset, log_start, append_time)) => response
            .with_base_offset(base_offset)
            .with_log_append_time_ms(append_time)
            .with_log_start_offset(if version >= 5 { log_start } else { -1 }),
        Err(e) => {
            tracing::debug!("produce to {topic}-{index} refused: {}", e.message);
            let record_errors = if version >= 8 {
                e.record_errors
                    .iter()
                    .map(|(index, why)| {
                        BatchIndexAndErrorMessage::default()
                            .with_batch_index(*index)
                            .with_batch_index_error_message(Some(s(why.clone())))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            let message = (version >= 8).then(|| s(e.message));
            response
                .with_error_code(e.code)
                .with_error_message(message)
                .with_record_errors(record_errors)
        }
    }
}

/// InitProducerId: a fresh producer id at epoch 0, also when an idempotent client names its
/// own id and epoch to bump (KIP-360; Kafka hands out a new id then too). With a
/// transactional id the transaction coordinator answers (`txn::init_producer_id`).
///
/// ACLs (Kafka 3.0+, KIP-679): IDEMPOTENT_WRITE on the cluster, or WRITE on at least one
/// topic; else CLUSTER_AUTHORIZATION_FAILED. A transactional id needs WRITE on it.
pub(super) async fn init_producer_id(
    broker: &Arc<Broker>,
    ctx: &Context,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    let refused = |code| {
        InitProducerIdResponse::default()
            .with_error_code(code)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1)
    };
    if let Some(id) = &request.transactional_id {
        return super::txn::init_producer_id(broker, ctx, id.0.as_str(), &request).await;
    }
    if !ctx.may_cluster_quietly(broker, AclOperation::IdempotentWrite)
        && !broker.authorize_any(
            &ctx.principal,
            &ctx.host,
            AclOperation::Write,
            ResourceType::Topic,
        )
    {
        return refused(error_code::CLUSTER_AUTHORIZATION_FAILED);
    }
    // Kafka's `TransactionCoordinator.handleInitProducerId` without a transactional id:
    // "always blindly accept the request and return a new producerId", also when the client
    // names its own id and epoch to bump (KIP-360): a new id at epoch 0 never runs out of
    // epochs, and its sequences start afresh in every partition.
    match broker.allocate_producer_id().await {
        Ok(id) => InitProducerIdResponse::default()
            .with_producer_id(ProducerId(id))
            .with_producer_epoch(0),
        Err(e) => {
            tracing::warn!("InitProducerId: {}", e.message);
            refused(e.code)
        }
    }
}
