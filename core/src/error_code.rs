//! Kafka's numeric error codes (the `ErrorCode` field of every response), for the errors core
//! can produce. Each module's error enum maps onto these with a `kafka_error_code()` method, so
//! the node answers clients with the code a Kafka broker would send.

/// Success.
pub const NONE: i16 = 0;
/// The requested offset is below the log start offset or above the log end offset.
pub const OFFSET_OUT_OF_RANGE: i16 = 1;
/// A record batch failed its CRC or its framing is broken.
pub const CORRUPT_MESSAGE: i16 = 2;
/// The topic or partition does not exist on this broker.
pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
/// A record batch is larger than `max.message.bytes`.
pub const MESSAGE_TOO_LARGE: i16 = 10;
/// The committed offset's metadata string is longer than `offset.metadata.max.bytes`.
pub const OFFSET_METADATA_TOO_LARGE: i16 = 12;
/// The request names an invalid topic (empty, too long, bad characters, internal).
pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
/// A write cannot be accepted: fewer in-sync replicas than `min.insync.replicas`.
pub const NOT_ENOUGH_REPLICAS: i16 = 19;
/// The idempotent producer's sequence number is not the next one expected.
pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
/// The message format version of the batch is not supported (magic other than 2).
pub const UNSUPPORTED_FOR_MESSAGE_FORMAT: i16 = 43;
/// A record batch uses a compression codec this broker cannot handle.
pub const UNSUPPORTED_COMPRESSION_TYPE: i16 = 76;
/// A record inside a batch is malformed.
pub const INVALID_RECORD: i16 = 87;
/// The broker could not complete the request for a reason it could not classify.
pub const UNKNOWN_SERVER_ERROR: i16 = -1;
/// The offset, partition or request value is invalid (for example a negative offset).
pub const INVALID_REQUEST: i16 = 42;
/// The storage under the log failed.
pub const KAFKA_STORAGE_ERROR: i16 = 56;
/// The generation in the request is not the group's current one.
pub const ILLEGAL_GENERATION: i16 = 22;
/// The member's protocol type or protocols do not match the group's.
pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
/// The group id is empty or otherwise invalid.
pub const INVALID_GROUP_ID: i16 = 24;
/// The member id is not in the group.
pub const UNKNOWN_MEMBER_ID: i16 = 25;
/// The session timeout is outside the broker's bounds.
pub const INVALID_SESSION_TIMEOUT: i16 = 26;
/// The group is rebalancing; the member must rejoin.
pub const REBALANCE_IN_PROGRESS: i16 = 27;
/// DeleteGroups on a group that still has members.
pub const NON_EMPTY_GROUP: i16 = 68;
/// The group does not exist.
pub const GROUP_ID_NOT_FOUND: i16 = 69;
/// The producer's epoch is older than the one the broker has seen.
pub const INVALID_PRODUCER_EPOCH: i16 = 47;
/// This broker is not the leader of the partition (or the epoch is stale).
pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
/// The request did not complete in time (an acks=all write waiting for the ISR).
pub const REQUEST_TIMED_OUT: i16 = 7;
/// The write was appended but the ISR shrank below `min.insync.replicas` before it completed.
pub const NOT_ENOUGH_REPLICAS_AFTER_APPEND: i16 = 20;
/// A follower's or client's leader epoch is older than the leader's (KIP-320).
pub const FENCED_LEADER_EPOCH: i16 = 74;
/// The coordinator cannot serve the request now (it will, or another will): retry.
pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
/// This broker does not coordinate the group: find the coordinator again.
pub const NOT_COORDINATOR: i16 = 16;
/// A request's record list is larger than the broker accepts.
pub const RECORD_LIST_TOO_LARGE: i16 = 18;
/// A fetch size is invalid (Kafka maps it like a too-large write when storing group metadata).
pub const INVALID_FETCH_SIZE: i16 = 4;
/// The commit's offsets do not fit in one record batch of the offsets topic.
pub const INVALID_COMMIT_OFFSET_SIZE: i16 = 28;
/// The requester's leader epoch is newer than this broker's (KIP-320): retry.
pub const UNKNOWN_LEADER_EPOCH: i16 = 75;
/// A config name or value is not valid (unknown name, wrong type, out of range, unsupported).
pub const INVALID_CONFIG: i16 = 40;
/// The principal may not use this transactional id. runnel answers it to every transactional
/// request until it has transactions: clients treat it as fatal at once (librdkafka's
/// `init_transactions` fails in milliseconds), where COORDINATOR_NOT_AVAILABLE made them retry
/// until their timeout.
pub const TRANSACTIONAL_ID_AUTHORIZATION_FAILED: i16 = 53;
/// A static member's old incarnation: another member now holds its `group.instance.id`
/// (KIP-345).
pub const FENCED_INSTANCE_ID: i16 = 82;
/// OffsetDelete: the group is subscribed to the topic, so its offsets stay (KIP-496).
pub const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;
/// A record's timestamp is outside the topic's bounds (KIP-937) or invalid.
pub const INVALID_TIMESTAMP: i16 = 32;
/// SaslHandshake named a mechanism the broker does not enable (KIP-43).
pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
/// A SASL request out of turn: a handshake on a listener without SASL, a second handshake,
/// or SaslAuthenticate before a handshake (KIP-43, KIP-152).
pub const ILLEGAL_SASL_STATE: i16 = 34;
/// SASL authentication failed: unknown user or wrong password (KIP-152).
pub const SASL_AUTHENTICATION_FAILED: i16 = 58;
/// RESOURCE_NOT_FOUND: e.g. deleting a SCRAM credential that does not exist (KIP-554).
pub const RESOURCE_NOT_FOUND: i16 = 91;
/// DUPLICATE_RESOURCE: e.g. one user altered twice in one AlterUserScramCredentials.
pub const DUPLICATE_RESOURCE: i16 = 92;
/// UNACCEPTABLE_CREDENTIAL: a SCRAM credential Kafka's rules refuse (KIP-554).
pub const UNACCEPTABLE_CREDENTIAL: i16 = 93;
/// The principal may not do this to the topic (its ACLs).
pub const TOPIC_AUTHORIZATION_FAILED: i16 = 29;
/// The principal may not do this to the group (its ACLs).
pub const GROUP_AUTHORIZATION_FAILED: i16 = 30;
/// The principal may not do this to the cluster (its ACLs).
pub const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
/// No authorizer is configured, so there are no ACLs to create, describe or delete.
pub const SECURITY_DISABLED: i16 = 54;
