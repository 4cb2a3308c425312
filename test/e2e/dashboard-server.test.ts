/**
 * Serving the dashboard: on the broker's WebSocket port (`edgeweave broker --dashboard`) and
 * on its own port (`edgeweave dashboard`), with the observer login the page connects with.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { get as httpGet } from 'node:http';
import { Writable } from 'node:stream';
import { emptyAuthFile, hashPassword, startBroker, withUser, type BrokerHandle } from '../../broker/index.ts';
import { dashboardHandler } from '../../dashboard/index.ts';
import { DASHBOARD_FILTERS } from '../../dashboard/model/events.ts';
import type { DashboardConfig } from '../../dashboard/model/config.ts';
import { parseCommandArgs, type Command } from '../../cli/command.ts';
import { command as dashboardCommand } from '../../cli/commands/dashboard.ts';
import { command as brokerCommand } from '../../cli/commands/broker.ts';
import { silentLogger } from '../../cli/logger.ts';
import { isEdgeweaveError } from '../../schemas/errors.ts';
import { closeClients, connectClient, connectRefused, subscribe, withTimeout } from '../support/mqtt.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

/** Runs a long-running command in this process until `stop()`; resolves its first stdout line. */
function runCommand(cmd: Command, argv: string[]): { firstLine: Promise<string>; stop: () => Promise<number> } {
  let out = '';
  let gotLine: (line: string) => void = () => undefined;
  const firstLine = new Promise<string>((resolve) => { gotLine = resolve; });
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString('utf8');
      if (out.includes('\n')) gotLine(out.slice(0, out.indexOf('\n')));
      cb();
    },
  });
  let signal: (s: NodeJS.Signals) => void = () => undefined;
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => { signal = resolve; });
  const exited = cmd.run({ ...parseCommandArgs(cmd, argv), log: silentLogger(), stdout, stopSignal });
  exited.catch((err: unknown) => gotLine(`error: ${String(err)}`));
  return { firstLine: withTimeout(firstLine, 30_000, `${cmd.name} printed nothing`), stop: () => { signal('SIGTERM'); return exited; } };
}

/** GET with headers fetch() will not send (Host). */
function getText(url: URL, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    httpGet(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

async function usageError(cmd: Command, argv: string[]): Promise<string> {
  const run = cmd.run({ ...parseCommandArgs(cmd, argv), log: silentLogger(), stdout: new Writable({ write: (_c, _e, cb) => cb() }), stopSignal: new Promise(() => undefined) });
  const err = await run.then(() => undefined, (e: unknown) => e);
  assert.ok(isEdgeweaveError(err) && err.code === 'E_USAGE', `expected a usage error, got ${String(err)}`);
  return err.message;
}

describe('dashboard — served on the broker\'s WebSocket port, with an observer login', () => {
  let broker: BrokerHandle;
  let base: string;

  before(async () => {
    const fast = { N: 1024, r: 8, p: 1 };
    let auth = withUser(emptyAuthFile(), 'viewer', 'observer', await hashPassword('viewer-secret', fast));
    auth = withUser(auth, 'car1', 'device', await hashPassword('car1-secret', fast));
    const handler = dashboardHandler({ username: 'viewer', password: 'viewer-secret' });
    await withTimeout(handler.ready(), 60_000, 'the dashboard handler bundling the page');
    broker = await withTimeout(startBroker({ port: 0, wsPort: 0, auth, httpHandler: handler }), 30_000, 'starting the embedded broker with the dashboard');
    base = broker.wsUrl!.replace(/^ws/, 'http').replace(/\/mqtt$/, '/');
  }, { timeout: SETUP_TIMEOUT_MS });
  after(async () => {
    await closeInOrder('dashboard-server', [['the broker', broker && (() => broker.close())]]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('dashboard — the page, its bundled script and stylesheet, and its config', async () => {
    const page = await fetch(base);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await page.text();
    assert.match(html, /<script src="app\.js" defer><\/script>/);
    for (const chart of ['gantt', 'energy', 'latency', 'bandwidth', 'load']) assert.match(html, new RegExp(`<div id="${chart}"[^>]*><canvas></canvas></div>`), `the ${chart} chart's canvas`);
    assert.match(html, /Queue and link backlog/);
    assert.doesNotMatch(html, /https?:\/\//, 'nothing from elsewhere: it works offline');
    const js = await fetch(new URL('app.js', base));
    assert.equal(js.status, 200);
    const code = await js.text();
    assert.ok(code.length > 200_000, `the bundle carries its libraries (${code.length} bytes)`);
    assert.doesNotMatch(code, /<script|cdn\.jsdelivr|unpkg\.com/);
    assert.equal((await fetch(new URL('app.css', base))).status, 200);
    const config = (await (await fetch(new URL('config.json', base))).json()) as DashboardConfig;
    assert.deepEqual(config, { brokerUrl: null, wsPath: '/mqtt', username: 'viewer', password: 'viewer-secret', title: 'edgeweave dashboard' });
    assert.equal((await fetch(new URL('nothing-here', base))).status, 404);
    assert.equal((await fetch(base, { method: 'POST' })).status, 405);
  });

  test('dashboard — its login may read every topic it shows over the same port, and nothing is refused', async () => {
    const viewer = await connectClient(broker.wsUrl!, { username: 'viewer', password: 'viewer-secret', clientId: 'viewer.dashboard-test' });
    try {
      for (const filter of DASHBOARD_FILTERS) assert.deepEqual(await subscribe(viewer.client, filter), [1], filter);
      assert.deepEqual(await subscribe(viewer.client, 'edgeweave/v1/devices/car1/inbox'), [128], 'an observer never reads inboxes');
    } finally {
      await closeClients(viewer.client);
    }
    assert.equal((await connectRefused(broker.wsUrl!, { clientId: 'anon' })).code, 4, 'without the login the broker refuses the page');
  });
});

describe('dashboard — the commands', () => {
  test('dashboard — `edgeweave dashboard` serves the page and points it at the broker', async () => {
    const run = runCommand(dashboardCommand, ['--port', '0', '--broker', 'ws://127.0.0.1:9001/mqtt', '--json']);
    const { url, brokerUrl } = JSON.parse(await run.firstLine) as { url: string; brokerUrl: string };
    assert.equal(brokerUrl, 'ws://127.0.0.1:9001/mqtt');
    const config = (await (await fetch(new URL('config.json', url))).json()) as DashboardConfig;
    assert.equal(config.brokerUrl, 'ws://127.0.0.1:9001/mqtt');
    assert.equal(config.username, null);
    // Opened from another machine, the loopback broker is the dashboard's host.
    const remote = JSON.parse(await getText(new URL('config.json', url), { host: 'edge-box:8080' })) as DashboardConfig;
    assert.equal(remote.brokerUrl, 'ws://edge-box:9001/mqtt');
    assert.equal(await run.stop(), 0);
    await assert.rejects(fetch(url), 'the server is closed');
  });

  test('dashboard — `edgeweave broker --dashboard` prints the page URL and serves it', async () => {
    const run = runCommand(brokerCommand, ['--port', '0', '--ws-port', '0', '--dashboard', '--json']);
    const { wsUrl, dashboardUrl } = JSON.parse(await run.firstLine) as { wsUrl: string; dashboardUrl: string };
    assert.equal(dashboardUrl, wsUrl.replace('ws://', 'http://').replace('/mqtt', '/'));
    assert.match(await (await fetch(dashboardUrl)).text(), /edgeweave dashboard/);
    assert.equal(await run.stop(), 0);
  });

  test('dashboard — usage errors', async () => {
    assert.match(await usageError(dashboardCommand, ['--broker', 'mqtt://127.0.0.1:1883']), /WebSocket/);
    assert.match(await usageError(dashboardCommand, ['--username', 'viewer', '--port', '0']), /--password/);
    assert.match(await usageError(brokerCommand, ['--port', '0', '--ws-port', 'off', '--dashboard']), /WebSocket port/);
    assert.match(await usageError(brokerCommand, ['--port', '0', '--ws-port', '0', '--dashboard', '--dashboard-username', 'v']), /go together/);
  });
});
