// kafkajs 2.2.4 against runnel: a round trip with headers and timestamps, then a consumer
// group of two members that rebalances when the second joins and when it leaves.
// Usage: node kafkajs_roundtrip.js BOOTSTRAP [SECURITY_JSON]. SECURITY_JSON, for SASL_SSL:
// {"ca": "ca.pem", "username": "...", "password": "..."} (TLS checked against ca.pem, SASL
// PLAIN). Prints JSON; any mismatch throws.
const { Kafka, logLevel } = require('kafkajs');
const assert = require('assert');
const fs = require('fs');

const bootstrap = process.argv[2];
const security = process.argv[3] ? JSON.parse(process.argv[3]) : null;
const kafka = new Kafka({
  clientId: 'runnel-test',
  brokers: [bootstrap],
  logLevel: logLevel.WARN,
  ...(security && {
    ssl: { ca: [fs.readFileSync(security.ca, 'utf-8')] },
    sasl: { mechanism: 'plain', username: security.username, password: security.password },
    retry: { retries: security.retries ?? 5 },
  }),
});
const TOPIC = 'js-events';
const BASE_TS = 1700000000000;
const COUNT = 60;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(predicate, what, ms = 30000) {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function main() {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 4 }] });
  const topics = await admin.listTopics();
  assert(topics.includes(TOPIC), `listTopics: ${topics}`);

  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < COUNT; i++) {
    messages.push({
      key: `k${i}`,
      value: `v${i}`,
      timestamp: String(BASE_TS + i),
      headers: { trace: `t${i}`, source: 'kafkajs' },
    });
  }
  await producer.send({ topic: TOPIC, messages });
  await producer.disconnect();

  // Two members of one group: each gets partitions, together all four, none twice.
  const seen = new Map();
  const assignments = { a: [], b: [] };
  const mk = (name) => {
    const consumer = kafka.consumer({
      groupId: 'js-group', sessionTimeout: 6000, heartbeatInterval: 300, maxWaitTimeInMs: 500,
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      assignments[name] = (e.payload.memberAssignment[TOPIC] || []).slice().sort();
    });
    return consumer;
  };
  const a = mk('a');
  await a.connect();
  await a.subscribe({ topic: TOPIC, fromBeginning: true });
  const handler = async ({ partition, message }) => {
    const i = Number(message.value.toString().slice(1));
    assert.strictEqual(message.key.toString(), `k${i}`);
    assert.strictEqual(message.timestamp, String(BASE_TS + i));
    assert.strictEqual(message.headers.trace.toString(), `t${i}`);
    assert.strictEqual(message.headers.source.toString(), 'kafkajs');
    seen.set(i, (seen.get(i) || 0) + 1);
  };
  await a.run({ eachMessage: handler });
  await until(() => assignments.a.length === 4, 'the first member to own all partitions');
  await until(() => seen.size === COUNT, 'all records');

  const b = mk('b');
  await b.connect();
  await b.subscribe({ topic: TOPIC, fromBeginning: true });
  await b.run({ eachMessage: handler });
  await until(() => assignments.b.length > 0 && assignments.a.length + assignments.b.length === 4,
    'the group to split the partitions');
  const split = { a: assignments.a, b: assignments.b };
  const union = [...split.a, ...split.b].sort();
  assert.deepStrictEqual(union, [0, 1, 2, 3], `split ${JSON.stringify(split)}`);

  await b.disconnect();
  await until(() => assignments.a.length === 4, 'the first member to take the partitions back');
  await a.disconnect();
  await admin.disconnect();

  const duplicates = [...seen.values()].filter((n) => n > 1).length;
  console.log(JSON.stringify({ records: seen.size, duplicates, split }));
}

main().then(() => process.exit(0)).catch((e) => {
  console.error(e);
  process.exit(1);
});
