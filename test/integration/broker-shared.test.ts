import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { startBroker, type BrokerHandle } from '../../broker/index.ts';
import { closeClients, connectClient, Inbox, publishNumbered, subscribe, type TestClient } from '../support/mqtt.ts';
import { assertExactlyOnceAcrossMembers } from '../support/shared-scenarios.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

describe('broker $share groups', () => {
  let broker: BrokerHandle;
  const open: TestClient[] = [];
  let seq = 0;
  const topicRoot = (): string => `t/${++seq}`;
  const connect = async (clientId: string, inbox?: Inbox): Promise<TestClient> => {
    const c = await connectClient(broker.url, { clientId }, inbox ? { inbox } : {});
    open.push(c);
    return c;
  };

  before(async () => {
    broker = await startBroker({ port: 0 });
  }, { timeout: SETUP_TIMEOUT_MS });
  after(async () => {
    await closeInOrder('broker-shared', [
      ['the clients', () => closeClients(...open.map((c) => c.client))],
      ['the broker', broker && (() => broker.close())],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  it('$share — 1,000 QoS 1 messages reach exactly one of 3 members, split fairly', async (t) => {
    const { perMember } = await assertExactlyOnceAcrossMembers(broker.url, { messages: 1000, members: 3 });
    t.diagnostic(`split over members: ${perMember.join(' / ')}`);
    for (const count of perMember) assert.ok(count >= 250 && count <= 420, `fair split expected, got ${perMember.join('/')}`);
  });

  it('$share — a plain subscriber to the same topic still gets every message', async () => {
    const root = topicRoot();
    const shared = new Inbox();
    const a = await connect('plain-a', shared);
    const b = await connect('plain-b', shared);
    const watcher = await connect('plain-watcher');
    for (const m of [a, b]) assert.deepEqual(await subscribe(m.client, `$share/g/${root}/x`), [1]);
    assert.deepEqual(await subscribe(watcher.client, `${root}/#`), [1]);
    const publisher = await connect('plain-pub');
    await publishNumbered(publisher.client, `${root}/x`, 50);
    await shared.waitForCount(50);
    await watcher.inbox.waitForCount(50);
    assert.equal(new Set(shared.texts()).size, 50);
    assert.deepEqual(watcher.inbox.texts(), Array.from({ length: 50 }, (_, i) => String(i)));
  });

  it('$share — wildcard filters select the matching topics only, once each', async () => {
    const root = topicRoot();
    const plus = new Inbox();
    const hash = new Inbox();
    for (const id of ['wp1', 'wp2']) assert.deepEqual(await subscribe((await connect(id, plus)).client, `$share/plus/${root}/+/data`), [1]);
    for (const id of ['wh1', 'wh2']) assert.deepEqual(await subscribe((await connect(id, hash)).client, `$share/hash/${root}/#`), [1]);
    const publisher = await connect('w-pub');
    await publishNumbered(publisher.client, `${root}/a/data`, 10, { prefix: 'a' });
    await publishNumbered(publisher.client, `${root}/b/data`, 10, { prefix: 'b' });
    await publishNumbered(publisher.client, `${root}/b/other`, 10, { prefix: 'o' });
    await hash.waitForCount(30);
    await plus.waitForCount(20);
    assert.equal(new Set(hash.texts()).size, 30);
    assert.deepEqual(plus.texts().filter((t) => t.startsWith('o')), [], 'the + filter must not match b/other');
    assert.equal(new Set(plus.texts()).size, 20);
  });

  it('$share — two groups on one filter each get every message once', async () => {
    const root = topicRoot();
    const g1 = new Inbox();
    const g2 = new Inbox();
    for (const id of ['g1a', 'g1b']) await subscribe((await connect(id, g1)).client, `$share/one/${root}/x`);
    for (const id of ['g2a', 'g2b']) await subscribe((await connect(id, g2)).client, `$share/two/${root}/x`);
    await publishNumbered((await connect('g-pub')).client, `${root}/x`, 40);
    await g1.waitForCount(40);
    await g2.waitForCount(40);
    assert.equal(new Set(g1.texts()).size, 40);
    assert.equal(new Set(g2.texts()).size, 40);
  });

  it('$share — a client with a plain and a shared subscription on overlapping topics gets both deliveries', async () => {
    const root = topicRoot();
    const both = await connect('both');
    assert.deepEqual(await subscribe(both.client, [`${root}/#`, `$share/g/${root}/x`]), [1, 1]);
    await publishNumbered((await connect('both-pub')).client, `${root}/x`, 20);
    await both.inbox.waitForCount(40);
    const counts = new Map<string, number>();
    for (const t of both.inbox.texts()) counts.set(t, (counts.get(t) ?? 0) + 1);
    assert.equal(counts.size, 20);
    assert.ok([...counts.values()].every((n) => n === 2), 'every message twice: once plain, once shared');
  });

  it('$share — a member granted QoS 0 receives at QoS 0; QoS 2 shared subscriptions are refused', async () => {
    const root = topicRoot();
    const zero = await connect('qos0');
    assert.deepEqual(await subscribe(zero.client, `$share/g/${root}/x`, 0), [0]);
    assert.deepEqual(await subscribe(zero.client, `$share/g2/${root}/x`, 2), [128]);
    await publishNumbered((await connect('qos-pub')).client, `${root}/x`, 5);
    const messages = await zero.inbox.waitForCount(5);
    assert.ok(messages.every((m) => m.qos === 0));
  });

  it('$share — malformed shared subscriptions are refused', async () => {
    const c = await connect('malformed');
    assert.deepEqual(await subscribe(c.client, ['$share/onlygroup', '$share//x']), [128, 128]);
    assert.deepEqual(await subscribe(c.client, `$share/g/${topicRoot()}/ok`), [1], 'the connection still works');
  });

  it('$share — an unsubscribed member leaves the group; the others get everything', async () => {
    const root = topicRoot();
    const a = await connect('unsub-a');
    const b = await connect('unsub-b');
    for (const m of [a, b]) await subscribe(m.client, `$share/g/${root}/x`);
    await a.client.unsubscribeAsync(`$share/g/${root}/x`);
    await publishNumbered((await connect('unsub-pub')).client, `${root}/x`, 20);
    await b.inbox.waitForCount(20);
    assert.equal(a.inbox.messages.length, 0);
    assert.deepEqual(broker.sharedGroups().find((g) => g.filter === `${root}/x`)?.members, 1);
  });

  it('$share — publishing to a $share topic is refused', async () => {
    const root = topicRoot();
    const member = await connect('dollar-member');
    await subscribe(member.client, `$share/g/${root}/x`);
    const publisher = await connect('dollar-pub');
    await publisher.client.publishAsync(`$share/g/${root}/x`, 'sneaky', { qos: 1 });
    await publisher.client.publishAsync(`${root}/x`, 'real', { qos: 1 });
    await member.inbox.waitForCount(1);
    assert.deepEqual(member.inbox.texts(), ['real']);
  });
});
