import { strict as assert } from 'node:assert';
import { afterEach, describe, it } from 'node:test';
import { DEFAULT_SHARED_INFLIGHT, startBroker, type BrokerHandle, type BrokerOptions } from '../../broker/index.ts';
import { closeClients, closed, connectClient, deferAcks, Inbox, neverAck, publishNumbered, subscribe, type TestClient } from '../support/mqtt.ts';
import { closeInOrder, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

describe('broker $share failover, sessions and backlog', () => {
  let broker: BrokerHandle | undefined;
  let open: TestClient[] = [];
  const start = async (options: BrokerOptions = {}): Promise<BrokerHandle> => {
    broker = await startBroker({ port: 0, ...options });
    return broker;
  };
  const connect = async (clientId: string, options: { inbox?: Inbox; clean?: boolean } = {}): Promise<TestClient> => {
    const c = await connectClient(broker!.url, { clientId, clean: options.clean ?? true }, options.inbox ? { inbox: options.inbox } : {});
    open.push(c);
    return c;
  };
  const FILTER = 'jobs/inbox';
  const SHARE = `$share/workers/${FILTER}`;

  afterEach(async () => {
    const clients = open.map((c) => c.client);
    const closing = broker;
    open = [];
    broker = undefined;
    await closeInOrder('broker-shared-failover', [
      ['the clients', () => closeClients(...clients)],
      ['the broker', closing && (() => closing.close())],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  it('$share — messages held unacknowledged by a member whose socket dies go to the others, none lost, none twice', async () => {
    await start({ shared: { maxInflightPerMember: 5 } });
    const live = new Inbox();
    const a = await connect('fo-a', { inbox: live });
    const b = await connect('fo-b');
    const c = await connect('fo-c', { inbox: live });
    neverAck(b.client);
    for (const m of [a, b, c]) await subscribe(m.client, SHARE);
    await publishNumbered((await connect('fo-pub')).client, FILTER, 300);
    const [held] = await b.inbox.waitForCount(1);
    b.client.stream.destroy();
    await live.waitForCount(300);
    const texts = live.texts();
    assert.equal(texts.length, 300, 'every message reached a live member');
    assert.equal(new Set(texts).size, 300, 'no live member got a message twice');
    assert.ok(texts.includes(held!.payload.toString()), 'the message the dead member held was handed over');
    const handedOver = live.messages.filter((m) => m.dup).map((m) => m.payload.toString());
    assert.ok(handedOver.includes(held!.payload.toString()), 'a handed-over message arrives with DUP set');
    assert.ok(handedOver.length <= 5, 'only what the dead member held (its window) is marked');
  });

  it('$share — with deferred acks a member holds its window of inputs; all of them move on when it dies', async () => {
    await start({ shared: { maxInflightPerMember: 4 } });
    const live = new Inbox();
    const a = await connect('da-a', { inbox: live });
    const dying = await connect('da-dying');
    deferAcks(dying.client);
    await subscribe(dying.client, SHARE);
    await subscribe(a.client, SHARE);
    await publishNumbered((await connect('da-pub')).client, FILTER, 100);
    await dying.inbox.waitForCount(4);
    dying.client.stream.destroy();
    await live.waitForCount(100);
    assert.equal(new Set(live.texts()).size, 100);
    assert.equal(dying.inbox.messages.length, 4, 'never more than its window');
    assert.deepEqual(
      live.messages.filter((m) => m.dup).map((m) => m.payload.toString()).sort(),
      dying.inbox.texts().sort(),
      'exactly the inputs it held were handed over, with DUP',
    );
  });

  it('$share — by default a member holds up to its window of unacknowledged messages, never more; the others get the rest and, when it dies, its window', async () => {
    await start();
    const window = DEFAULT_SHARED_INFLIGHT;
    assert.ok(window > 1, 'the default window lets a member hold more than one message');
    const busy = await connect('dw-busy');
    const acks = deferAcks(busy.client);
    await subscribe(busy.client, SHARE);
    await publishNumbered((await connect('dw-pub')).client, FILTER, window + 10);
    await busy.inbox.waitForCount(window);
    const state = (): { inflight: number; queued: number } => {
      const group = broker!.sharedGroups()[0]!;
      return { inflight: group.inflight, queued: group.queued };
    };
    // Every publish is acknowledged by now, so each message is either held by the member or queued.
    assert.deepEqual(state(), { inflight: window, queued: 10 }, 'its window, and not one more');
    const ackedId = acks.pending[0]!;
    acks.ack(ackedId);
    await busy.inbox.waitForCount(window + 1);
    assert.deepEqual(state(), { inflight: window, queued: 9 }, 'one acknowledgement lets one more in');

    const live = new Inbox();
    const idle = await connect('dw-idle', { inbox: live });
    await subscribe(idle.client, SHARE);
    await live.waitForCount(9);
    assert.equal(state().queued, 0, 'what waited went to the idle member, not behind the busy one');
    assert.equal(busy.inbox.messages.length, window + 1);
    busy.client.stream.destroy();
    await live.waitForCount(9 + window);
    assert.equal(new Set(live.texts()).size, 9 + window, 'none twice');
    const acked = busy.inbox.messages.find((m) => m.messageId === ackedId)!.payload.toString();
    assert.deepEqual(
      live.messages.filter((m) => m.dup).map((m) => m.payload.toString()).sort(),
      busy.inbox.texts().filter((t) => t !== acked).sort(),
      'exactly its unacknowledged window was handed over, with DUP',
    );
    assert.equal(new Set([...live.texts(), acked]).size, window + 10, 'every message reached a member that acknowledged it');
  });

  it('$share — with deferred acks and a window of 1, the next input waits for the ack', async () => {
    await start({ shared: { maxInflightPerMember: 1 } });
    const member = await connect('w1-m');
    const acks = deferAcks(member.client);
    await subscribe(member.client, SHARE);
    await publishNumbered((await connect('w1-pub')).client, FILTER, 3);
    for (let i = 1; i <= 3; i++) {
      await member.inbox.waitForCount(i);
      assert.equal(member.inbox.messages.length, i, 'one input at a time');
      assert.equal(broker!.sharedGroups()[0]?.queued, 3 - i);
      acks.ack(acks.pending[0]!);
    }
    assert.deepEqual(member.inbox.texts(), ['0', '1', '2']);
  });

  it('$share — a persistent-session member that drops hands its unacknowledged messages over and stays in the group', async () => {
    await start({ shared: { maxInflightPerMember: 3 } });
    const live = new Inbox();
    const a = await connect('ps-a', { inbox: live });
    const b = await connect('ps-b', { clean: false });
    neverAck(b.client);
    for (const m of [a, b]) await subscribe(m.client, SHARE);
    const publisher = await connect('ps-pub');
    await publishNumbered(publisher.client, FILTER, 60, { prefix: 'first-' });
    await b.inbox.waitForCount(1);
    b.client.stream.destroy();
    await live.waitForCount(60);
    assert.equal(new Set(live.texts()).size, 60);

    const again = await connect('ps-b', { clean: false, inbox: live });
    assert.equal(again.connack.sessionPresent, true);
    await publishNumbered(publisher.client, FILTER, 60, { prefix: 'second-' });
    await live.waitForCount(120);
    const texts = live.texts();
    assert.equal(new Set(texts).size, 120, 'exactly once over both rounds');
    const returned = live.texts('ps-b');
    assert.ok(returned.length > 0, 'the restored session is a member again without resubscribing');
    assert.ok(returned.every((t) => t.startsWith('second-')), 'nothing from before the drop is delivered to it again');
  });

  it('$share — a group with no connected member keeps messages and delivers them when a member joins', async () => {
    await start();
    const first = await connect('q-first');
    await subscribe(first.client, SHARE);
    await closeClients(first.client);
    await publishNumbered((await connect('q-pub')).client, FILTER, 25);
    const late = await connect('q-late');
    await subscribe(late.client, SHARE);
    await late.inbox.waitForCount(25);
    assert.deepEqual(late.inbox.texts(), Array.from({ length: 25 }, (_, i) => String(i)), 'in publish order');
  });

  it('$share — an offline persistent member gets what was queued for it when it returns', async () => {
    await start();
    const member = await connect('off-m', { clean: false });
    await subscribe(member.client, SHARE);
    await closeClients(member.client);
    await publishNumbered((await connect('off-pub')).client, FILTER, 10);
    const back = await connect('off-m', { clean: false });
    await back.inbox.waitForCount(10);
    assert.deepEqual(back.inbox.texts(), Array.from({ length: 10 }, (_, i) => String(i)));
  });

  it('$share — a full backlog refuses new messages and keeps the oldest', async () => {
    await start({ shared: { queueLimit: { messages: 5 } } });
    const first = await connect('full-first');
    await subscribe(first.client, SHARE);
    await closeClients(first.client);
    await publishNumbered((await connect('full-pub')).client, FILTER, 8);
    const late = await connect('full-late');
    await subscribe(late.client, SHARE);
    await late.inbox.waitForCount(5);
    assert.deepEqual(late.inbox.texts(), ['0', '1', '2', '3', '4']);
  });

  it('$share — a publisher flooding a busy group is slowed down instead of losing messages', async () => {
    await start({ shared: { queueLimit: { messages: 20 } } });
    const member = await connect('flood-m');
    const held: Array<() => void> = [];
    let holding = true;
    member.client.handleMessage = (_packet, callback) => (holding ? held.push(() => callback()) : callback());
    await subscribe(member.client, SHARE);
    const publisher = await connect('flood-pub');
    let acked = 0;
    let onAck: () => void = () => {};
    const publishes = Array.from({ length: 100 }, (_, i) => {
      const payload = Buffer.alloc(16 * 1024);
      payload.write(String(i));
      return publisher.client.publishAsync(FILTER, payload, { qos: 1 }).then(() => {
        acked++;
        onAck();
      });
    });
    await member.inbox.waitForCount(1);
    await new Promise<void>((resolve) => {
      onAck = () => acked >= 15 && resolve();
      onAck();
    });
    holding = false;
    for (const release of held.splice(0)) release();
    await member.inbox.waitForCount(100, 10_000);
    await Promise.all(publishes);
    assert.deepEqual(
      member.inbox.messages.map((m) => Number.parseInt(m.payload.toString('utf8'), 10)),
      Array.from({ length: 100 }, (_, i) => i),
      'all 100, in order, none dropped',
    );
  });

  it('$share — an ack held past the keepalive: the input moves on, and the late PUBACK on the next connection acks nothing else', async () => {
    await start();
    const held: Array<() => void> = [];
    const x = await connectClient(broker!.url, { clientId: 'ka-x', keepalive: 1, reconnectPeriod: 20 });
    open.push(x);
    x.client.handleMessage = (_packet, callback) => (held.length === 0 ? held.push(() => callback()) : callback());
    await subscribe(x.client, SHARE);
    const y = await connect('ka-y', { inbox: x.inbox });
    await subscribe(y.client, SHARE);
    const publisher = await connect('ka-pub');
    await publisher.client.publishAsync(FILTER, 'first', { qos: 1 });
    const [first] = await x.inbox.waitForCount(1);
    assert.equal(first!.receiver, 'ka-x');
    const reconnected = new Promise<void>((resolve) => x.client.once('connect', () => resolve()));
    await x.inbox.waitUntil((m) => m.some((r) => r.receiver === 'ka-y' && r.payload.toString() === 'first'), 'the held input handed to the other member', 5_000);
    await reconnected;
    held[0]!(); // MQTT.js now sends the stale PUBACK on the new connection
    await publishNumbered(publisher.client, FILTER, 20);
    await x.inbox.waitUntil((m) => m.filter((r) => r.payload.toString() !== 'first').length === 20, 'the 20 later messages');
    const later = x.inbox.messages.slice(1).filter((r) => r.payload.toString() !== 'first');
    assert.equal(new Set(later.map((r) => r.payload.toString())).size, 20, 'each later message once');
    const xIds = later.filter((r) => r.receiver === 'ka-x').map((r) => r.messageId);
    assert.ok(xIds.length > 0);
    assert.equal(xIds[0], first!.messageId! + 1, 'packet ids continue on the new connection');
  });

  it('$share — a clean session taken over by the same client id keeps the new membership', async () => {
    await start();
    const shared = new Inbox();
    const old = await connect('to-x');
    await subscribe(old.client, SHARE);
    const other = await connect('to-y', { inbox: shared });
    await subscribe(other.client, SHARE);
    const oldClosed = closed(old.client);
    const fresh = await connect('to-x', { inbox: shared });
    await oldClosed;
    await subscribe(fresh.client, SHARE);
    await publishNumbered((await connect('to-pub')).client, FILTER, 40);
    await shared.waitForCount(40);
    assert.equal(new Set(shared.texts()).size, 40);
    assert.ok(shared.texts('to-x').length > 0, 'the new connection is a member');
  });

  it('$share — a persistent session taken over keeps the restored membership of the new connection', async () => {
    await start();
    const shared = new Inbox();
    const old = await connect('tp-x', { clean: false });
    await subscribe(old.client, SHARE);
    const other = await connect('tp-y', { inbox: shared });
    await subscribe(other.client, SHARE);
    const oldClosed = closed(old.client);
    const fresh = await connect('tp-x', { clean: false, inbox: shared });
    await oldClosed;
    assert.equal(fresh.connack.sessionPresent, true);
    await publishNumbered((await connect('tp-pub')).client, FILTER, 40);
    await shared.waitForCount(40);
    assert.equal(new Set(shared.texts()).size, 40);
    assert.ok(shared.texts('tp-x').length > 0, 'the restored subscription of the new connection survived the old one closing');
  });
});
