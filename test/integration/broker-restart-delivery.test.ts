/**
 * QoS 1 delivery to connected persistent sessions with the sessions in Redis, before and after
 * a broker restart, in the shape of the real system: a job client (persistent) subscribed to its
 * results, plans and clock pongs; a planner (persistent) on every job's results and in the
 * `$share` group of submissions; a watcher (persistent) on the client's results; an edge device
 * (clean session) publishing results while the planner publishes plans (QoS 1) and pongs (QoS 0).
 * (One persistent subscriber on one filter with one publisher never lost anything: the results
 * have to be overtaken by publishes with fewer persistent subscribers, here the plans.)
 *
 * aedes stores a QoS 1 publish in Redis once per persistent subscriber before it emits it, so a
 * plan (one persistent subscriber) published just after a result (three) overtakes it. aedes 1.2
 * numbers each publish when it starts and dropped, as "already delivered", any packet numbered
 * below the last one a client was sent: without the fix the job client missed 170 to 200 of the
 * 200 results of each round (they stayed queued in its session and came only at its next
 * reconnect). The fix is `dedupeDeliveriesExactly` in broker/aedes-internals.ts; the watcher's
 * overlapping filters check that it still delivers each publish once.
 */
import { strict as assert } from 'node:assert';
import { after, before, describe, test } from 'node:test';
import type { IConnackPacket, MqttClient } from 'mqtt';
import { startBroker, type BrokerHandle } from '../../broker/index.ts';
import { filters, topics } from '../../schemas/topics.ts';
import { closeClients, connectClient, subscribe, withTimeout, type Inbox, type TestClient } from '../support/mqtt.ts';
import { freePort } from '../support/ports.ts';
import { redisMissing, startRedis, type RedisHandle } from '../support/redis.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

const missing = redisMissing();
/** Results per round; each result is published alongside a plan and a pong, all at once. */
const RESULTS = 200;
const ORIGIN = 'car1';
/** What each persistent client subscribes to (and subscribes to again after every reconnect, as transport/mqtt-transport.ts does). */
const ORIGIN_FILTERS: ReadonlyArray<readonly [string, 0 | 1]> = [
  [filters.jobResults(ORIGIN), 1],
  [filters.jobPlans(ORIGIN), 1],
  [topics.clockPong(ORIGIN), 0],
];
const PLANNER_FILTERS: ReadonlyArray<readonly [string, 0 | 1]> = [
  [filters.jobResults(), 1],
  [filters.sharedJobSubmits(), 1],
];
/** Overlapping filters: each result matches both, and is delivered once. */
const WATCHER_FILTERS: ReadonlyArray<readonly [string, 0 | 1]> = [
  [filters.jobResults(ORIGIN), 1],
  [filters.jobResults(), 1],
];

async function subscribeAll(client: MqttClient, list: ReadonlyArray<readonly [string, 0 | 1]>): Promise<void> {
  for (const [filter, qos] of list) await subscribe(client, filter, qos);
}

/** How many times `inbox` received each result of `round`. */
function resultCopies(inbox: Inbox, round: string): Map<string, number> {
  const copies = new Map(Array.from({ length: RESULTS }, (_, i) => [`${round}-${i}`, 0]));
  for (const m of inbox.messages) {
    const jobId = m.payload.toString();
    const n = copies.get(jobId);
    if (n !== undefined && m.topic === topics.jobResult(ORIGIN, jobId)) copies.set(jobId, n + 1);
  }
  return copies;
}

/** The results of `round` that `inbox` has not received. */
function missingResults(inbox: Inbox, round: string): string[] {
  return [...resultCopies(inbox, round)].filter(([, n]) => n === 0).map(([jobId]) => jobId);
}

describe('broker — QoS 1 delivery to persistent sessions (sessions in Redis)', { skip: missing ?? false }, () => {
  let redis: RedisHandle | undefined;
  let broker: BrokerHandle | undefined;
  let port = 0;
  const clients: TestClient[] = [];
  let origin: TestClient;
  let planner: TestClient;
  let watcher: TestClient;
  let edge: TestClient;

  const start = (): Promise<BrokerHandle> =>
    withTimeout(startBroker({ port, wsPort: null, persistence: { kind: 'redis', url: redis!.url } }), 30_000, `starting the broker on port ${port} with Redis`);
  const connect = async (clientId: string, clean: boolean): Promise<TestClient> => {
    const c = await connectClient(broker!.url, { clientId, clean, reconnectPeriod: 100 });
    c.client.on('error', () => undefined); // refused reconnects while the broker is down
    clients.push(c);
    return c;
  };

  /** Publishes RESULTS results from the edge device, each with a plan and a pong from the planner, without waiting in between. */
  const publishRound = async (round: string): Promise<void> => {
    const publishes: Array<Promise<unknown>> = [];
    for (let i = 0; i < RESULTS; i++) {
      const jobId = `${round}-${i}`;
      publishes.push(edge.client.publishAsync(topics.jobResult(ORIGIN, jobId), jobId, { qos: 1 }));
      publishes.push(planner.client.publishAsync(topics.jobPlan(ORIGIN, jobId), jobId, { qos: 1 }));
      publishes.push(planner.client.publishAsync(topics.clockPong(ORIGIN), jobId, { qos: 0 }));
    }
    await withTimeout(Promise.all(publishes), 20_000, `the broker acknowledging the publishes of round ${round}`);
  };

  const expectEveryResult = async (round: string): Promise<void> => {
    for (const [name, c] of [['the job client', origin], ['the planner', planner], ['the watcher', watcher]] as const) {
      await c.inbox.waitUntil(
        () => missingResults(c.inbox, round).length === 0,
        () => `${name} receiving all ${RESULTS} results of round ${round}; missing ${missingResults(c.inbox, round).length}: ${missingResults(c.inbox, round).slice(0, 10).join(', ')}`,
        10_000,
      );
      const twice = [...resultCopies(c.inbox, round)].filter(([, n]) => n > 1).map(([jobId]) => jobId);
      assert.deepEqual(twice, [], `${name} received these results of round ${round} more than once`);
    }
  };

  before(async () => {
    redis = await startRedis();
    port = await freePort();
    broker = await start();
    origin = await connect(`${ORIGIN}.client-t1`, false);
    planner = await connect('p1.planner', false);
    watcher = await connect('restart-watcher', false);
    edge = await connect('edge1', true);
    await subscribeAll(origin.client, ORIGIN_FILTERS);
    await subscribeAll(planner.client, PLANNER_FILTERS);
    await subscribeAll(watcher.client, WATCHER_FILTERS);
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('broker-restart-delivery', [
      ['the clients', () => closeClients(...clients.map((c) => c.client))],
      ['the broker', broker && (() => broker!.close())],
      ['redis-server', redis && (() => redis!.stop())],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('broker — persistent subscribers get every QoS 1 result while plans overtake them in Redis', { timeout: 60_000 }, async () => {
    await publishRound('a');
    await expectEveryResult('a');
  });

  test('broker — after a restart, resubscribing persistent subscribers get every QoS 1 result', { timeout: 60_000 }, async () => {
    const persistent = [origin, planner, watcher];
    const reconnected = [...persistent, edge].map((c) => withTimeout(
      new Promise<IConnackPacket>((resolve) => c.client.once('connect', resolve)), 15_000, `${c.client.options.clientId} reconnecting to the restarted broker`));
    await withTimeout(broker!.close(), 10_000, 'closing the broker');
    broker = await start();
    const connacks = await Promise.all(reconnected);
    assert.deepEqual(connacks.slice(0, persistent.length).map((c) => c.sessionPresent), [true, true, true], 'the persistent sessions were found in Redis');
    await Promise.all([
      subscribeAll(origin.client, ORIGIN_FILTERS),
      subscribeAll(planner.client, PLANNER_FILTERS),
      subscribeAll(watcher.client, WATCHER_FILTERS),
    ]);
    await publishRound('b');
    await expectEveryResult('b');
  });
});
