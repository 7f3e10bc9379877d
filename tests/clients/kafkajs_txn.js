// kafkajs 2.2.4 transactions against runnel (KIP-98): send, sendOffsets, commit and abort.
// Usage: node kafkajs_txn.js BOOTSTRAP. A transactional producer commits c0..c2 with the
// group "js-txn-group"'s offset 7 for js-txn-in/0, aborts a0..a1, and commits c3. Prints JSON
// {"committed": values a read_committed consumer reads, "uncommitted": values a
// read_uncommitted one reads, "offset": the group's committed offset for js-txn-in/0}.
const { Kafka, logLevel } = require('kafkajs');

const bootstrap = process.argv[2];
const kafka = new Kafka({ clientId: 'runnel-txn', brokers: [bootstrap], logLevel: logLevel.WARN });
const OUT = 'js-txn-out';
const IN = 'js-txn-in';
const GROUP = 'js-txn-group';

async function readAll(readUncommitted) {
  const consumer = kafka.consumer({
    groupId: `js-txn-read-${readUncommitted}-${Date.now()}`,
    readUncommitted,
  });
  await consumer.connect();
  await consumer.subscribe({ topic: OUT, fromBeginning: true });
  const values = [];
  await consumer.run({
    eachMessage: async ({ message }) => { values.push(message.value.toString()); },
  });
  await new Promise((r) => setTimeout(r, 4000));
  await consumer.disconnect();
  return values;
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic: OUT, numPartitions: 1 }, { topic: IN, numPartitions: 1 }],
  });
  const producer = kafka.producer({
    transactionalId: 'js-txn', maxInFlightRequests: 1, idempotent: true,
  });
  await producer.connect();

  let txn = await producer.transaction();
  await txn.send({ topic: OUT, messages: ['c0', 'c1', 'c2'].map((value) => ({ value })) });
  await txn.sendOffsets({
    consumerGroupId: GROUP,
    topics: [{ topic: IN, partitions: [{ partition: 0, offset: '7' }] }],
  });
  await txn.commit();

  txn = await producer.transaction();
  await txn.send({ topic: OUT, messages: ['a0', 'a1'].map((value) => ({ value })) });
  await txn.sendOffsets({
    consumerGroupId: GROUP,
    topics: [{ topic: IN, partitions: [{ partition: 0, offset: '9' }] }],
  });
  await txn.abort();

  txn = await producer.transaction();
  await txn.send({ topic: OUT, messages: [{ value: 'c3' }] });
  await txn.commit();
  await producer.disconnect();

  const offsets = await admin.fetchOffsets({ groupId: GROUP, topics: [IN] });
  await admin.disconnect();
  const result = {
    committed: await readAll(false),
    uncommitted: await readAll(true),
    offset: offsets[0].partitions[0].offset,
  };
  console.log(JSON.stringify(result));
}

main().catch((e) => { console.error(e); process.exit(1); });
