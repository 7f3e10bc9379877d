//! Produce and InitProducerId: appending records, with idempotent-producer deduplication.

use std::sync::Arc;

use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse, ProducerId,
};

use super::s;
use crate::broker::{Broker, code};

/// Produce. acks=0 gets no response at all; acks=1 and acks=-1 are the same on one node (the
/// only replica is the leader), answered after the append (and the fsync, if configured).
pub(super) fn produce(
    broker: &Arc<Broker>,
    version: i16,
    request: ProduceRequest,
) -> Option<ProduceResponse> {
    let acks = request.acks;
    let mut responses = Vec::with_capacity(request.topic_data.len());
    for topic_data in request.topic_data {
        let name = topic_data.name.0.to_string();
        let topic = broker.topic_or_create(&name, true);
        let partitions = topic_data
            .partition_data
            .into_iter()
            .map(|data| {
                let response = PartitionProduceResponse::default()
                    .with_index(data.index)
                    .with_base_offset(-1)
                    .with_log_append_time_ms(-1);
                if !matches!(acks, -1..=1) {
                    return response.with_error_code(code::INVALID_REQUIRED_ACKS);
                }
                let result = topic
                    .as_ref()
                    .map_err(Clone::clone)
                    .and_then(|_| broker.led_partition(&name, data.index))
                    .and_then(|partition| {
                        let records = data.records.unwrap_or_default();
                        broker.produce(&partition, &records)
                    });
                match result {
                    Ok((base_offset, log_start)) => response
                        .with_base_offset(base_offset)
                        .with_log_start_offset(if version >= 5 { log_start } else { -1 }),
                    Err(e) => {
                        tracing::debug!("produce to {name}-{} refused: {}", data.index, e.message);
                        let message = (version >= 8).then(|| s(e.message));
                        response.with_error_code(e.code).with_error_message(message)
                    }
                }
            })
            .collect();
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic_data.name)
                .with_partition_responses(partitions),
        );
    }
    (acks != 0).then(|| ProduceResponse::default().with_responses(responses))
}

/// InitProducerId: a fresh producer id at epoch 0, or the same id at the next epoch when the
/// client asks to bump its own (KIP-360). Transactions are not supported.
pub(super) fn init_producer_id(
    broker: &Arc<Broker>,
    request: InitProducerIdRequest,
) -> InitProducerIdResponse {
    if request.transactional_id.is_some() {
        return InitProducerIdResponse::default()
            .with_error_code(code::COORDINATOR_NOT_AVAILABLE)
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
    }
    let (id, epoch) = if request.producer_id.0 >= 0 && request.producer_epoch >= 0 {
        (
            request.producer_id.0,
            request.producer_epoch.saturating_add(1),
        )
    } else {
        (broker.allocate_producer_id(), 0)
    };
    InitProducerIdResponse::default()
        .with_producer_id(ProducerId(id))
        .with_producer_epoch(epoch)
}
