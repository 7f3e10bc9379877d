// A second, independent client library against runnel: Go's sarama from Debian (1.22), set for
// Kafka 2.0 (`Version = V2_0_0_0`), so it sends the older API versions Kafka 2.0 clients send
// (Metadata v0/v5, DescribeConfigs v0, OffsetCommit v2, OffsetFetch v1, JoinGroup v1, ...).
//
// Usage: sarama BOOTSTRAP TOPIC GROUP. It creates TOPIC (3 partitions, two configs), lists
// topics with their configs, produces 100 snappy-compressed records with a sync producer,
// reads them all back in consumer group GROUP (committing as it goes), reads the group's
// commits back with ListConsumerGroupOffsets, deletes TOPIC, and prints one JSON object with
// what it saw. Any error is printed as {"error": "..."} with exit status 1. Built in GOPATH
// mode: GO111MODULE=off GOPATH=/usr/share/gocode go build.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

const records = 100

func fail(step string, err error) {
	out, _ := json.Marshal(map[string]string{"error": fmt.Sprintf("%s: %v", step, err)})
	fmt.Println(string(out))
	os.Exit(1)
}

// reader is the consumer-group handler: it marks every record it sees and stops the group
// once all of them have been seen.
type reader struct {
	mu     sync.Mutex
	seen   map[string]string
	cancel context.CancelFunc
}

func (r *reader) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (r *reader) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (r *reader) ConsumeClaim(session sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for message := range claim.Messages() {
		r.mu.Lock()
		r.seen[string(message.Key)] = string(message.Value)
		done := len(r.seen) == records
		r.mu.Unlock()
		session.MarkMessage(message, "")
		if done {
			r.cancel()
		}
	}
	return nil
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: sarama BOOTSTRAP TOPIC GROUP")
		os.Exit(2)
	}
	brokers, topic, group := []string{os.Args[1]}, os.Args[2], os.Args[3]
	config := sarama.NewConfig()
	config.Version = sarama.V2_0_0_0
	config.ClientID = "sarama-compat"
	config.Net.DialTimeout = 5 * time.Second
	config.Net.ReadTimeout = 10 * time.Second
	config.Metadata.Retry.Max = 20
	config.Metadata.Retry.Backoff = 250 * time.Millisecond
	result := map[string]interface{}{}

	admin, err := sarama.NewClusterAdmin(brokers, config)
	if err != nil {
		fail("cluster admin", err)
	}
	brokerList, controller, err := admin.DescribeCluster()
	if err != nil {
		fail("describe cluster", err)
	}
	result["brokers"] = len(brokerList)
	result["controller"] = controller
	retention, policy := "86400000", "delete"
	err = admin.CreateTopic(topic, &sarama.TopicDetail{
		NumPartitions:     3,
		ReplicationFactor: 1,
		ConfigEntries:     map[string]*string{"retention.ms": &retention, "cleanup.policy": &policy},
	}, false)
	if err != nil {
		fail("create topic", err)
	}
	// ListTopics sends Metadata v0 for every topic, then one DescribeConfigs v0 for all of them;
	// it keeps the configs that are not defaults.
	topics, err := admin.ListTopics()
	if err != nil {
		fail("list topics", err)
	}
	detail, ok := topics[topic]
	if !ok {
		fail("list topics", fmt.Errorf("%s is not listed", topic))
	}
	listed := map[string]string{}
	for name, value := range detail.ConfigEntries {
		if value != nil {
			listed[name] = *value
		}
	}
	result["listed_partitions"] = detail.NumPartitions
	result["listed_replication_factor"] = detail.ReplicationFactor
	result["listed_configs"] = listed
	entries, err := admin.DescribeConfig(sarama.ConfigResource{
		Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"retention.ms", "segment.bytes"},
	})
	if err != nil {
		fail("describe config", err)
	}
	described := map[string]map[string]interface{}{}
	for _, entry := range entries {
		described[entry.Name] = map[string]interface{}{"value": entry.Value, "default": entry.Default}
	}
	result["described"] = described

	config.Producer.RequiredAcks = sarama.WaitForAll
	config.Producer.Return.Successes = true
	config.Producer.Compression = sarama.CompressionSnappy
	config.Producer.Retry.Max = 10
	config.Producer.Retry.Backoff = 250 * time.Millisecond
	producer, err := sarama.NewSyncProducer(brokers, config)
	if err != nil {
		fail("producer", err)
	}
	ends := map[int32]int64{}
	for i := 0; i < records; i++ {
		partition, offset, err := producer.SendMessage(&sarama.ProducerMessage{
			Topic: topic,
			Key:   sarama.StringEncoder(fmt.Sprintf("k%d", i)),
			Value: sarama.StringEncoder(fmt.Sprintf("v%d", i)),
		})
		if err != nil {
			fail("produce", err)
		}
		if offset != ends[partition] {
			fail("produce", fmt.Errorf("partition %d answered offset %d, expected %d", partition, offset, ends[partition]))
		}
		ends[partition] = offset + 1
	}
	if err := producer.Close(); err != nil {
		fail("producer close", err)
	}
	result["produced"] = ends

	config.Consumer.Offsets.Initial = sarama.OffsetOldest
	config.Consumer.Offsets.CommitInterval = 200 * time.Millisecond
	consumer, err := sarama.NewConsumerGroup(brokers, group, config)
	if err != nil {
		fail("consumer group", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	handler := &reader{seen: map[string]string{}, cancel: cancel}
	go func() {
		for err := range consumer.Errors() {
			fmt.Fprintln(os.Stderr, "consumer group error:", err)
		}
	}()
	for ctx.Err() == nil {
		if err := consumer.Consume(ctx, []string{topic}, handler); err != nil {
			fail("consume", err)
		}
	}
	cancel()
	// Close commits what was marked and leaves the group.
	if err := consumer.Close(); err != nil {
		fail("consumer close", err)
	}
	wrong := 0
	for i := 0; i < records; i++ {
		if handler.seen[fmt.Sprintf("k%d", i)] != fmt.Sprintf("v%d", i) {
			wrong++
		}
	}
	result["consumed"] = len(handler.seen)
	result["consumed_wrong"] = wrong

	offsets, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1, 2}})
	if err != nil {
		fail("list consumer group offsets", err)
	}
	committed := map[int32]int64{}
	for partition := int32(0); partition < 3; partition++ {
		block := offsets.GetBlock(topic, partition)
		if block == nil {
			fail("list consumer group offsets", fmt.Errorf("no block for partition %d", partition))
		}
		if block.Err != sarama.ErrNoError {
			fail("list consumer group offsets", block.Err)
		}
		committed[partition] = block.Offset
	}
	result["committed"] = committed
	groups, err := admin.ListConsumerGroups()
	if err != nil {
		fail("list consumer groups", err)
	}
	result["group_protocol_type"] = groups[group]

	if err := admin.DeleteTopic(topic); err != nil {
		fail("delete topic", err)
	}
	remaining := []string{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		topics, err := admin.ListTopics()
		if err != nil {
			fail("list topics after delete", err)
		}
		remaining = remaining[:0]
		for name := range topics {
			remaining = append(remaining, name)
		}
		if _, still := topics[topic]; !still || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	sort.Strings(remaining)
	result["topics_after_delete"] = remaining
	admin.Close()
	out, err := json.Marshal(result)
	if err != nil {
		fail("json", err)
	}
	fmt.Println(string(out))
}
