import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { emptyAuthFile, hashPassword, startBroker, withUser, type AuthFile, type BrokerHandle, type Role } from '../../broker/index.ts';
import { captureLogger, type CapturedLog } from '../support/log.ts';
import { closeClients, connectClient, connectRefused, subscribe, withTimeout, type TestClient } from '../support/mqtt.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

const V1 = 'edgeweave/v1';
const FAST_SCRYPT = { N: 1024, r: 8, p: 1 };
const USERS: Array<[string, Role]> = [
  ['car1', 'device'],
  ['car2', 'device'],
  ['planner1', 'planner'],
  ['obs', 'observer'],
  ['root', 'admin'],
];

describe('broker authentication and ACL', () => {
  let broker: BrokerHandle;
  let captured: CapturedLog;
  let admin: TestClient;
  const open: TestClient[] = [];
  const login = async (user: string, extra: Record<string, unknown> = {}): Promise<TestClient> => {
    const c = await connectClient(broker.url, { username: user, password: `${user}-secret`, clientId: `${user}.${open.length}`, ...extra });
    open.push(c);
    return c;
  };
  /** Publishes `topic` (expected to be dropped) then an allowed marker; the admin must see the marker only. */
  const assertDropped = async (client: TestClient, topic: string, marker: string): Promise<void> => {
    const before = admin.inbox.messages.length;
    await client.client.publishAsync(topic, 'forbidden', { qos: 1 });
    await client.client.publishAsync(marker, 'marker', { qos: 1 });
    const messages = await admin.inbox.waitUntil((m) => m.slice(before).some((x) => x.topic === marker), `marker on ${marker}`);
    assert.deepEqual(messages.slice(before).map((m) => m.topic), [marker], `${topic} must have been dropped`);
    assert.ok(client.client.connected, 'a refused publish does not cost the connection');
    assert.ok(captured.find({ code: 'E_ACL', topic, user: client.client.options.username }).length > 0, 'the refusal is logged');
  };

  before(async () => {
    let auth: AuthFile = emptyAuthFile();
    for (const [user, role] of USERS) auth = withUser(auth, user, role, await hashPassword(`${user}-secret`, FAST_SCRYPT));
    captured = captureLogger('warn');
    broker = await withTimeout(startBroker({ port: 0, auth, log: captured.log }), 30_000, 'starting the embedded broker with --auth');
    admin = await login('root');
    assert.deepEqual(await subscribe(admin.client, '#'), [1]);
  }, { timeout: SETUP_TIMEOUT_MS });
  after(async () => {
    await closeInOrder('broker-security', [
      ['the clients', () => closeClients(...open.map((c) => c.client))],
      ['the broker', broker && (() => broker.close())],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  it('auth — clients without credentials, with a wrong password or an unknown user are refused', async () => {
    assert.equal((await connectRefused(broker.url, { clientId: 'anon' })).code, 4);
    assert.equal((await connectRefused(broker.url, { username: 'car1', password: 'nope' })).code, 4);
    assert.equal((await connectRefused(broker.url, { username: 'ghost', password: 'ghost-secret' })).code, 4);
    assert.ok(captured.find({ code: 'E_AUTH', user: 'car1', reason: 'wrong password' }).length > 0);
    assert.ok(captured.find({ code: 'E_AUTH', user: 'ghost', reason: 'unknown user' }).length > 0);
  });

  it('auth — a user cannot take a client id that is not its own (no session takeover)', async () => {
    assert.equal((await connectRefused(broker.url, { username: 'car1', password: 'car1-secret', clientId: 'edge1.w0' })).code, 5);
    assert.equal((await connectRefused(broker.url, { username: 'car1', password: 'car1-secret', clientId: 'car10' })).code, 5);
    assert.ok(captured.find({ code: 'E_AUTH', user: 'car1', reason: 'client id not owned by the user' }).length > 0);
    const own = await login('car1', { clientId: 'car1.w7' });
    // Its own client id is accepted and the session serves: a subscription to its own inbox is granted.
    assert.deepEqual(await subscribe(own.client, `${V1}/devices/car1/inbox`), [1]);
  });

  it('ACL — a device publishes only as itself and to inboxes, reports and results', async () => {
    const car1 = await login('car1');
    await assertDropped(car1, `${V1}/devices/car2/status`, `${V1}/devices/car1/status`);
    await assertDropped(car1, `${V1}/jobs/car2/submit`, `${V1}/jobs/car1/submit`);
    await assertDropped(car1, `${V1}/devices/car2/assign`, `${V1}/devices/car2/inbox`);
    await assertDropped(car1, `${V1}/jobs/car2/j1/plan`, `${V1}/jobs/car2/j1/result`);
    await assertDropped(car1, `${V1}/debug/devices/car2/x`, `${V1}/debug/devices/car1/x/y`);
    await assertDropped(car1, 'elsewhere/topic', `${V1}/clock/car1/ping`);
  });

  it('ACL — a device subscribes only to its own assignments, inbox, job results and clock', async () => {
    const car1 = await login('car1');
    const allowed = [
      `${V1}/devices/car1/assign`,
      `${V1}/devices/car1/inbox`,
      `$share/car1/${V1}/devices/car1/inbox`,
      `${V1}/devices/car1/workers/+/inbox`,
      `${V1}/jobs/car1/+/result`,
      `${V1}/jobs/car1/+/plan`,
      `${V1}/clock/car1/pong`,
      `${V1}/planners/+/status`,
      `${V1}/devices/+/status`,
    ];
    const refused = [
      `${V1}/devices/car2/assign`,
      `${V1}/devices/+/inbox`,
      `$share/car2/${V1}/devices/car2/inbox`,
      `${V1}/jobs/+/+/result`,
      `${V1}/jobs/car1/#`,
      `${V1}/#`,
      '#',
      `${V1}/devices/+/profile`,
    ];
    assert.deepEqual(await subscribe(car1.client, allowed), allowed.map(() => 1));
    assert.deepEqual(await subscribe(car1.client, refused), refused.map(() => 128));
    assert.ok(captured.find({ code: 'E_ACL', topic: `${V1}/#`, user: 'car1' }).length > 0);
  });

  it('ACL — a planner assigns and plans but never reads inboxes or speaks for a device', async () => {
    const planner = await login('planner1');
    await assertDropped(planner, `${V1}/devices/car1/status`, `${V1}/devices/car1/assign`);
    await assertDropped(planner, `${V1}/planners/other/status`, `${V1}/planners/planner1/status`);
    await assertDropped(planner, `${V1}/jobs/car1/submit`, `${V1}/jobs/car1/j9/plan`);
    const allowed = [`$share/planners/${V1}/jobs/+/submit`, `${V1}/jobs/+/submit`, `${V1}/devices/+/profile`, `${V1}/clock/+/ping`, `${V1}/jobs/+/+/report`];
    const refused = [`${V1}/devices/+/inbox`, `${V1}/devices/car1/assign`, `${V1}/#`, `${V1}/jobs/#`];
    assert.deepEqual(await subscribe(planner.client, allowed), allowed.map(() => 1));
    assert.deepEqual(await subscribe(planner.client, refused), refused.map(() => 128));
  });

  it('ACL — an observer publishes nothing and reads only status, profiles, job traffic and debug', async () => {
    const obs = await login('obs');
    const before = admin.inbox.messages.length;
    await obs.client.publishAsync(`${V1}/debug/x`, 'nope', { qos: 1 });
    await obs.client.publishAsync(`${V1}/devices/obs/status`, 'nope', { qos: 1 });
    // the admin's own marker proves the broker has processed everything before it
    await admin.client.publishAsync('marker/observer', 'm', { qos: 1 });
    const messages = await admin.inbox.waitUntil((m) => m.slice(before).some((x) => x.topic === 'marker/observer'), 'admin marker');
    assert.deepEqual(messages.slice(before).map((m) => m.topic), ['marker/observer']);
    const allowed = [`${V1}/devices/+/status`, `${V1}/jobs/+/+/result`, `${V1}/debug/#`, `${V1}/planners/+/status`];
    const refused = [`${V1}/#`, `${V1}/jobs/+/submit`, `${V1}/devices/+/inbox`, `${V1}/jobs/+/+/#`, `$share/g/${V1}/devices/+/inbox`];
    assert.deepEqual(await subscribe(obs.client, allowed), allowed.map(() => 1));
    assert.deepEqual(await subscribe(obs.client, refused), refused.map(() => 128));
  });

  it('ACL — a last will is checked like a publish, at connect', async () => {
    const ok = await login('car2', { will: { topic: `${V1}/devices/car2/status`, payload: Buffer.from('offline'), qos: 1, retain: false } });
    const err = await connectRefused(broker.url, {
      username: 'car2',
      password: 'car2-secret',
      clientId: 'car2.bad-will',
      will: { topic: `${V1}/devices/car1/status`, payload: Buffer.from('framed'), qos: 1, retain: false },
    });
    assert.equal(err.code, 5);
    const before = admin.inbox.messages.length;
    ok.client.stream.destroy();
    const seen = await admin.inbox.waitUntil((m) => m.slice(before).some((x) => x.topic === `${V1}/devices/car2/status`), 'will');
    assert.equal(seen.slice(before).find((x) => x.topic === `${V1}/devices/car2/status`)?.payload.toString(), 'offline');
  });
});
