//! Kafka's numeric error codes (the `ErrorCode` field of every response), for the errors core
//! can produce. Each module's error enum maps onto these with a `kafka_error_code()` method, so
//! the node answers clients with the code a Kafka broker would send.
//!
//! [`name`] gives each code's Kafka name (`NOT_ENOUGH_REPLICAS`), for views that show errors
//! to people.

/// Declares each code as a constant, and [`name`] from the same list, so a code cannot have
/// a constant without a name.
macro_rules! codes {
    ($($(#[doc = $doc:literal])* $name:ident = $value:literal;)*) => {
        $($(#[doc = $doc])* pub const $name: i16 = $value;)*

        /// Kafka's name for `code` (`19` → `"NOT_ENOUGH_REPLICAS"`), for the codes core
        /// produces; `None` for any other.
        pub fn name(code: i16) -> Option<&'static str> {
            match code {
                $($value => Some(stringify!($name)),)*
                _ => None,
            }
        }
    };
}

codes! {
    /// Success.
    NONE = 0;
    /// The requested offset is below the log start offset or above the log end offset.
    OFFSET_OUT_OF_RANGE = 1;
    /// A record batch failed its CRC or its framing is broken.
    CORRUPT_MESSAGE = 2;
    /// The topic or partition does not exist on this broker.
    UNKNOWN_TOPIC_OR_PARTITION = 3;
    /// A record batch is larger than `max.message.bytes`.
    MESSAGE_TOO_LARGE = 10;
    /// The committed offset's metadata string is longer than `offset.metadata.max.bytes`.
    OFFSET_METADATA_TOO_LARGE = 12;
    /// The request names an invalid topic (empty, too long, bad characters, internal).
    INVALID_TOPIC_EXCEPTION = 17;
    /// A write cannot be accepted: fewer in-sync replicas than `min.insync.replicas`.
    NOT_ENOUGH_REPLICAS = 19;
    /// The idempotent producer's sequence number is not the next one expected.
    OUT_OF_ORDER_SEQUENCE_NUMBER = 45;
    /// The message format version of the batch is not supported (magic other than 2).
    UNSUPPORTED_FOR_MESSAGE_FORMAT = 43;
    /// A record batch uses a compression codec this broker cannot handle.
    UNSUPPORTED_COMPRESSION_TYPE = 76;
    /// A record inside a batch is malformed.
    INVALID_RECORD = 87;
    /// The broker could not complete the request for a reason it could not classify.
    UNKNOWN_SERVER_ERROR = -1;
    /// The offset, partition or request value is invalid (for example a negative offset).
    INVALID_REQUEST = 42;
    /// The storage under the log failed.
    KAFKA_STORAGE_ERROR = 56;
    /// The generation in the request is not the group's current one.
    ILLEGAL_GENERATION = 22;
    /// The member's protocol type or protocols do not match the group's.
    INCONSISTENT_GROUP_PROTOCOL = 23;
    /// The group id is empty or otherwise invalid.
    INVALID_GROUP_ID = 24;
    /// The member id is not in the group.
    UNKNOWN_MEMBER_ID = 25;
    /// The session timeout is outside the broker's bounds.
    INVALID_SESSION_TIMEOUT = 26;
    /// The group is rebalancing; the member must rejoin.
    REBALANCE_IN_PROGRESS = 27;
    /// DeleteGroups on a group that still has members.
    NON_EMPTY_GROUP = 68;
    /// The group does not exist.
    GROUP_ID_NOT_FOUND = 69;
    /// The producer's epoch is older than the one the broker has seen.
    INVALID_PRODUCER_EPOCH = 47;
    /// This broker is not the leader of the partition (or the epoch is stale).
    NOT_LEADER_OR_FOLLOWER = 6;
    /// The request did not complete in time (an acks=all write waiting for the ISR).
    REQUEST_TIMED_OUT = 7;
    /// The write was appended but the ISR shrank below `min.insync.replicas` before it completed.
    NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20;
    /// A follower's or client's leader epoch is older than the leader's (KIP-320).
    FENCED_LEADER_EPOCH = 74;
    /// A Fetch names an incremental fetch session this broker does not hold (KIP-227).
    FETCH_SESSION_ID_NOT_FOUND = 70;
    /// A Fetch's session epoch is not the session's next (KIP-227).
    INVALID_FETCH_SESSION_EPOCH = 71;
    /// The coordinator is still loading its groups and offsets: retry.
    COORDINATOR_LOAD_IN_PROGRESS = 14;
    /// The coordinator cannot serve the request now (it will, or another will): retry.
    COORDINATOR_NOT_AVAILABLE = 15;
    /// This broker does not coordinate the group: find the coordinator again.
    NOT_COORDINATOR = 16;
    /// A request's record list is larger than the broker accepts.
    RECORD_LIST_TOO_LARGE = 18;
    /// A fetch size is invalid (Kafka maps it like a too-large write when storing group metadata).
    INVALID_FETCH_SIZE = 4;
    /// The commit's offsets do not fit in one record batch of the offsets topic.
    INVALID_COMMIT_OFFSET_SIZE = 28;
    /// The requester's leader epoch is newer than this broker's (KIP-320): retry.
    UNKNOWN_LEADER_EPOCH = 75;
    /// A config name or value is not valid (unknown name, wrong type, out of range, unsupported).
    INVALID_CONFIG = 40;
    /// The principal may not use this transactional id. runnel answers it to every transactional
    /// request until it has transactions: clients treat it as fatal at once (librdkafka's
    /// `init_transactions` fails in milliseconds), where COORDINATOR_NOT_AVAILABLE made them retry
    /// until their timeout.
    TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53;
    /// A static member's old incarnation: another member now holds its `group.instance.id`
    /// (KIP-345).
    FENCED_INSTANCE_ID = 82;
    /// OffsetDelete: the group is subscribed to the topic, so its offsets stay (KIP-496).
    GROUP_SUBSCRIBED_TO_TOPIC = 86;
    /// A record's timestamp is outside the topic's bounds (KIP-937) or invalid.
    INVALID_TIMESTAMP = 32;
    /// SaslHandshake named a mechanism the broker does not enable (KIP-43).
    UNSUPPORTED_SASL_MECHANISM = 33;
    /// A SASL request out of turn: a handshake on a listener without SASL, a second handshake,
    /// or SaslAuthenticate before a handshake (KIP-43, KIP-152).
    ILLEGAL_SASL_STATE = 34;
    /// SASL authentication failed: unknown user or wrong password (KIP-152).
    SASL_AUTHENTICATION_FAILED = 58;
    /// RESOURCE_NOT_FOUND: e.g. deleting a SCRAM credential that does not exist (KIP-554).
    RESOURCE_NOT_FOUND = 91;
    /// DUPLICATE_RESOURCE: e.g. one user altered twice in one AlterUserScramCredentials.
    DUPLICATE_RESOURCE = 92;
    /// UNACCEPTABLE_CREDENTIAL: a SCRAM credential Kafka's rules refuse (KIP-554).
    UNACCEPTABLE_CREDENTIAL = 93;
    /// The principal may not do this to the topic (its ACLs).
    TOPIC_AUTHORIZATION_FAILED = 29;
    /// The principal may not do this to the group (its ACLs).
    GROUP_AUTHORIZATION_FAILED = 30;
    /// The principal may not do this to the cluster (its ACLs).
    CLUSTER_AUTHORIZATION_FAILED = 31;
    /// No authorizer is configured, so there are no ACLs to create, describe or delete.
    SECURITY_DISABLED = 54;
    /// A transactional request in a state that does not allow it (EndTxn with nothing
    /// ongoing, a transactional write to a partition not added to the transaction, KIP-890).
    INVALID_TXN_STATE = 48;
    /// The producer id is not the one the coordinator gave this transactional id.
    INVALID_PRODUCER_ID_MAPPING = 49;
    /// `transaction.timeout.ms` above the broker's `transaction.max.timeout.ms`.
    INVALID_TRANSACTION_TIMEOUT = 50;
    /// Another operation on this transactional id is in progress (markers being written):
    /// retry (Kafka's clients do, after `retry.backoff.ms`).
    CONCURRENT_TRANSACTIONS = 51;
    /// A newer producer with the same transactional id took over (epoch bumped): this one can
    /// write nothing more (KIP-588 split it from INVALID_PRODUCER_EPOCH).
    PRODUCER_FENCED = 90;
    /// The transactional id is unknown to the coordinator (DescribeTransactions).
    TRANSACTIONAL_ID_NOT_FOUND = 105;
    /// Not attempted because another part of the same request failed (AddPartitionsToTxn).
    OPERATION_NOT_ATTEMPTED = 55;
    /// An open transaction holds a commit of this partition: retry OffsetFetch (KIP-447's
    /// `require_stable`).
    UNSTABLE_OFFSET_COMMIT = 88;
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_code_has_its_kafka_name() {
        assert_eq!(
            super::name(super::NOT_ENOUGH_REPLICAS),
            Some("NOT_ENOUGH_REPLICAS")
        );
        assert_eq!(super::name(-1), Some("UNKNOWN_SERVER_ERROR"));
        assert_eq!(super::name(6), Some("NOT_LEADER_OR_FOLLOWER"));
        assert_eq!(super::name(1234), None);
    }
}
