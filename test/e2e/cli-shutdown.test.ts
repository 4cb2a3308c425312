/**
 * Bounded shutdown, as a user meets it: the real CLI in child processes. Every long-running
 * command exits within 5 s of SIGTERM or SIGINT, whether its broker is there, gone, or no longer
 * answering; a device leaves no worker process behind; a second signal exits at once.
 * Phases run one after another; the cases of a phase run side by side.
 */
import { after, describe, test, type TestContext } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startBroker, type BrokerHandle } from '../../broker/index.ts';
import { TEST_DATA_DIR } from '../support/cluster.ts';
import { closeClients, connectClient, withTimeout } from '../support/mqtt.ts';

const BIN = fileURLToPath(new URL('../../bin/edgeweave.js', import.meta.url));
const EXIT_WITHIN_MS = 5000;
const READY_WITHIN_MS = 45_000;
const CASE_TIMEOUT_MS = 90_000;
const HAS_PROC = existsSync('/proc/self/stat');

const dir = mkdtempSync(join(tmpdir(), 'edgeweave-shutdown-'));
const spawned = new Set<Cli>();
const brokers = new Set<BrokerHandle>();
const proxies = new Set<FreezableProxy>();
/** Processes a command started (workers, the demo's children): killed in `after` if still there. */
const descendants = new Set<number>();

after(async () => {
  for (const cli of spawned) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
  for (const pid of descendants) {
    try {
      if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  await withTimeout(Promise.all([...spawned].map((c) => c.exited)), 5000, 'spawned commands exit').catch(() => undefined);
  await withTimeout(Promise.all([...proxies].map((p) => p.close())), 5000, 'proxies close').catch(() => undefined);
  await withTimeout(Promise.all([...brokers].map((b) => b.close())), 5000, 'brokers close').catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

// ---- the CLI as a child process -----------------------------------------------

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  atMs: number;
}

interface Cli {
  what: string;
  child: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<Exit>;
  /** Resolves when stdout or stderr has shown `pattern`. */
  waitFor(pattern: RegExp, what: string, timeoutMs?: number): Promise<void>;
}

function spawnCli(args: string[], env: NodeJS.ProcessEnv = {}): Cli {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, EDGEWEAVE_LOG_LEVEL: 'info', EDGEWEAVE_CACHE_DIR: join(TEST_DATA_DIR, 'models'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const watchers = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    text += chunk.toString('utf8');
    for (const w of watchers) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, atMs: performance.now() })));
  const cli: Cli = {
    what: `edgeweave ${args[0]}`,
    child,
    pid: child.pid!,
    output: () => text,
    exited,
    waitFor(pattern, what, timeoutMs = READY_WITHIN_MS) {
      const seen = new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (!pattern.test(text)) return;
          watchers.delete(check);
          resolve();
        };
        watchers.add(check);
        check();
        void exited.then((e) => {
          watchers.delete(check);
          reject(new Error(`${cli.what} exited (code ${e.code}) before ${what}\n${tail(text)}`));
        });
      });
      return withTimeout(seen, timeoutMs, () => `${cli.what}: ${what}\n${tail(text)}`);
    },
  };
  spawned.add(cli);
  return cli;
}

function tail(text: string): string {
  return text.slice(-3000);
}

/** Sends `signal` and asserts the process exits within the bound; returns its exit and the time it took. */
async function signalAndTime(t: TestContext, cli: Cli, signal: NodeJS.Signals, withinMs = EXIT_WITHIN_MS): Promise<Exit & { ms: number }> {
  const sentAt = performance.now();
  cli.child.kill(signal);
  const exit = await withTimeout(cli.exited, withinMs + 10_000, () => `${cli.what} still running after ${signal}\n${tail(cli.output())}`);
  const ms = exit.atMs - sentAt;
  t.diagnostic(`${cli.what}: exit ${exit.code ?? exit.signal} ${Math.round(ms)} ms after ${signal}`);
  assert.ok(ms < withinMs, `${cli.what} exited ${Math.round(ms)} ms after ${signal}, not within ${withinMs} ms\n${tail(cli.output())}`);
  return { ...exit, ms };
}

// ---- processes, from /proc ---------------------------------------------------------

/** State and parent of a process (undefined when it is gone). */
function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/** Running: present and not a zombie (an exited process its parent, or init, has not reaped yet). */
function isRunning(pid: number): boolean {
  const s = procStat(pid);
  return s !== undefined && s.state !== 'Z';
}

/** Running children of `pid` whose command line contains `marker`. */
function childrenOf(pid: number, marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const child = Number(name);
    if (procStat(child)?.ppid !== pid || !isRunning(child)) continue;
    try {
      if (readFileSync(`/proc/${child}/cmdline`, 'utf8').includes(marker)) out.push(child);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function assertAllGone(pids: readonly number[], what: string, withinMs = 2000): Promise<void> {
  const until = performance.now() + withinMs;
  while (pids.some(isRunning) && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(pids.filter(isRunning), [], `${what} still running ${withinMs} ms after the command exited`);
}

// ---- brokers and a proxy that can stop answering ---------------------------------

async function broker(): Promise<BrokerHandle> {
  const b = await startBroker({ port: 0, wsPort: null });
  brokers.add(b);
  return b;
}

async function closeBroker(b: BrokerHandle): Promise<void> {
  await b.close();
  brokers.delete(b);
}

interface FreezableProxy {
  url: string;
  /** From now on nothing passes either way and nothing is closed: a broker that hangs, or a link that went silent. */
  freeze(): void;
  close(): Promise<void>;
}

async function startFreezableProxy(targetUrl: string): Promise<FreezableProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<Socket>();
  const pairs: Array<[Socket, Socket]> = [];
  let frozen = false;
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('error', () => undefined).once('close', () => sockets.delete(s));
  };
  const server = createServer((client) => {
    track(client);
    if (frozen) {
      client.pause();
      return;
    }
    const upstream = connect(Number(target.port), target.hostname);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    pairs.push([client, upstream]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const proxy: FreezableProxy = {
    url: `mqtt://127.0.0.1:${(server.address() as { port: number }).port}`,
    freeze() {
      frozen = true;
      for (const [a, b] of pairs) {
        a.unpipe(b);
        b.unpipe(a);
        a.pause();
        b.pause();
      }
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      proxies.delete(proxy);
    },
  };
  proxies.add(proxy);
  return proxy;
}

// ---- the commands --------------------------------------------------------------

const ONLINE = /"msg":"device online"/;
const PLANNER_READY = /"msg":"planner ready"/;
/** The client found the broker gone and is trying again. */
const RECONNECTING = /ECONNREFUSED/;

function startNode(id: string, brokerUrl: string, workers: number): Cli {
  return spawnCli(['node', '--id', id, '--role', 'edge', '--broker', brokerUrl, '--models', 'chain', '--no-profile', '--workers', String(workers), '--data-dir', join(dir, id)]);
}

function startPlanner(id: string, brokerUrl: string): Cli {
  return spawnCli(['planner', '--id', id, '--broker', brokerUrl]);
}

/** The worker processes of a device that is up (its pool waited for every worker to be ready). */
function workersOf(cli: Cli, expected: number): number[] {
  if (!HAS_PROC) return [];
  const pids = childrenOf(cli.pid, 'worker-main');
  assert.equal(pids.length, expected, `${expected} worker processes under the device (found ${pids.join(', ') || 'none'})`);
  for (const pid of pids) descendants.add(pid);
  return pids;
}

describe('cli shutdown — broker, dashboard, planner', { concurrency: true, timeout: CASE_TIMEOUT_MS }, () => {
  test('cli — broker exits 0 within 5 s of SIGTERM with a client connected', async (t) => {
    const cli = spawnCli(['broker', '--port', '0', '--ws-port', 'off', '--json']);
    await cli.waitFor(/^\{"url"/m, 'the broker listening');
    const { url } = JSON.parse(cli.output().split('\n').find((l) => l.startsWith('{"url"'))!) as { url: string };
    const { client } = await connectClient(url, { clientId: 'shutdown-watcher', reconnectPeriod: 0 });
    t.after(() => closeClients(client));
    assert.equal((await signalAndTime(t, cli, 'SIGTERM')).code, 0);
  });

  test('cli — broker exits 0 within 5 s of SIGINT', async (t) => {
    const cli = spawnCli(['broker', '--port', '0', '--ws-port', '0', '--json']);
    await cli.waitFor(/^\{"url"/m, 'the broker listening');
    assert.equal((await signalAndTime(t, cli, 'SIGINT')).code, 0);
  });

  test('cli — dashboard exits 0 within 5 s of SIGTERM', async (t) => {
    const cli = spawnCli(['dashboard', '--port', '0', '--broker', 'ws://127.0.0.1:9/mqtt', '--json']);
    await cli.waitFor(/^\{"url"/m, 'the dashboard listening');
    assert.equal((await signalAndTime(t, cli, 'SIGTERM')).code, 0);
  });

  test('cli — planner exits 0 within 5 s of SIGTERM with its broker up', async (t) => {
    const b = await broker();
    const cli = startPlanner('sd-p1', b.url);
    await cli.waitFor(PLANNER_READY, 'the planner ready');
    assert.equal((await signalAndTime(t, cli, 'SIGTERM')).code, 0);
  });

  test('cli — planner exits 0 within 5 s of SIGTERM with its broker gone', async (t) => {
    const b = await broker();
    const cli = startPlanner('sd-p2', b.url);
    await cli.waitFor(PLANNER_READY, 'the planner ready');
    await closeBroker(b);
    await cli.waitFor(RECONNECTING, 'the planner reconnecting');
    assert.equal((await signalAndTime(t, cli, 'SIGTERM')).code, 0);
  });

  test('cli — planner exits 0 within 5 s of SIGINT when its broker stops answering', async (t) => {
    const b = await broker();
    const proxy = await startFreezableProxy(b.url);
    const cli = startPlanner('sd-p3', proxy.url);
    await cli.waitFor(PLANNER_READY, 'the planner ready');
    proxy.freeze();
    assert.equal((await signalAndTime(t, cli, 'SIGINT')).code, 0);
  });
});

describe('cli shutdown — node', { concurrency: true, timeout: CASE_TIMEOUT_MS }, () => {
  test('cli — node exits 0 within 5 s of SIGTERM with its broker up', async (t) => {
    const b = await broker();
    const cli = startNode('sd-n1', b.url, 1);
    await cli.waitFor(ONLINE, 'the device online');
    assert.equal((await signalAndTime(t, cli, 'SIGTERM')).code, 0);
  });

  test('cli — node exits 0 within 5 s of SIGTERM with its broker gone', async (t) => {
    const b = await broker();
    const cli = startNode('sd-n2', b.url, 1);
    await cli.waitFor(ONLINE, 'the device online');
    await closeBroker(b);
    await cli.waitFor(RECONNECTING, 'the device reconnecting');
    assert.equal((await signalAndTime(t, cli, 'SIGTERM')).code, 0);
  });

  test('cli — node exits 0 within 5 s of SIGTERM when its broker stops answering', async (t) => {
    const b = await broker();
    const proxy = await startFreezableProxy(b.url);
    const cli = startNode('sd-n3', proxy.url, 1);
    await cli.waitFor(ONLINE, 'the device online');
    proxy.freeze();
    assert.equal((await signalAndTime(t, cli, 'SIGTERM')).code, 0);
  });

  test('cli — node --workers 2 exits 0 within 5 s of SIGINT with its broker up, leaving no worker process', async (t) => {
    const b = await broker();
    const cli = startNode('sd-n4', b.url, 2);
    await cli.waitFor(ONLINE, 'the device online');
    const workers = workersOf(cli, 2);
    assert.equal((await signalAndTime(t, cli, 'SIGINT')).code, 0);
    await assertAllGone(workers, 'a worker process');
  });

  test('cli — node --workers 2 exits 0 within 5 s of SIGTERM with its broker gone, leaving no worker process', async (t) => {
    const b = await broker();
    const cli = startNode('sd-n5', b.url, 2);
    await cli.waitFor(ONLINE, 'the device online');
    const workers = workersOf(cli, 2);
    await closeBroker(b);
    await cli.waitFor(RECONNECTING, 'the device reconnecting');
    assert.equal((await signalAndTime(t, cli, 'SIGTERM')).code, 0);
    await assertAllGone(workers, 'a worker process');
  });

  test('cli — a second signal exits at once while the stop is still running, and kills the workers', async (t) => {
    const b = await broker();
    const proxy = await startFreezableProxy(b.url);
    const cli = startNode('sd-n6', proxy.url, 2);
    await cli.waitFor(ONLINE, 'the device online');
    const workers = workersOf(cli, 2);
    // A broker that no longer answers: each worker waits its transport's close grace (1 s)
    // before it drops the connection, so the device's stop is still waiting on them.
    proxy.freeze();
    cli.child.kill('SIGTERM');
    await cli.waitFor(/"signal":"SIGTERM","msg":"stopping"/, 'the stop under way', 3000);
    assert.equal(cli.child.exitCode, null, 'the stop is still running');
    if (HAS_PROC) assert.deepEqual(workers.filter(isRunning), workers, 'the workers are still stopping');
    const exit = await signalAndTime(t, cli, 'SIGINT', 1000);
    assert.equal(exit.code, 130, 'exits as a process killed by SIGINT would');
    assert.match(cli.output(), /SIGINT while stopping after SIGTERM; exiting now/);
    await assertAllGone(workers, 'a worker process', 1000);
  });
});

describe('cli shutdown — demo and experiment', { concurrency: true, timeout: CASE_TIMEOUT_MS }, () => {
  test('cli — demo exits within 5 s of SIGTERM while its jobs run, leaving none of its processes', async (t) => {
    const cli = spawnCli(['demo', '--quick', '--data-dir', join(dir, 'demo')]);
    await cli.waitFor(/"msg":"demo progress"/, 'the demo submitting jobs', 120_000);
    const children = HAS_PROC ? childrenOf(cli.pid, 'edgeweave.js') : [];
    for (const pid of children) descendants.add(pid);
    assert.ok(!HAS_PROC || children.length >= 5, `broker, planner and three devices under the demo (found ${children.length})`);
    const exit = await signalAndTime(t, cli, 'SIGTERM');
    assert.equal(exit.code, 1, 'a stopped demo is not a finished one');
    await assertAllGone(children, 'a process of the demo');
  });

  test('cli — experiment exits within 5 s of SIGINT with a long job in flight, writing its results', async (t) => {
    const scenario = join(dir, 'scenario.json');
    const out = join(dir, 'experiment');
    // A car ten thousand times slower than this host: each job is held for seconds, longer than a stop may take.
    writeFileSync(scenario, JSON.stringify({
      kind: 'sweep', name: 'shutdown', seed: 1, devices: [{ id: 'car1', role: 'iot', speed: 0.0001 }], origin: 'car1',
      models: ['chain'], algorithms: ['local'], links: [{ name: 'fast', upMbps: 20, downMbps: 40, rttMs: 5 }],
      jobsPerCell: 10, warmupJobs: 0, timeoutMs: 60_000,
    }));
    const cli = spawnCli(['experiment', scenario, '--out', out, '--data-dir', join(dir, 'experiment-data')]);
    await cli.waitFor(/"done":0,"total":10,/, 'the first job submitted', 120_000);
    const children = HAS_PROC ? childrenOf(cli.pid, 'edgeweave.js') : [];
    for (const pid of children) descendants.add(pid);
    assert.ok(!HAS_PROC || children.length >= 3, `broker, planner and the car under the experiment (found ${children.length})`);
    const exit = await signalAndTime(t, cli, 'SIGINT');
    assert.equal(exit.code, 1, 'an interrupted experiment is not a finished one');
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { interrupted: boolean; rows: Array<{ status: string }> };
    assert.equal(results.interrupted, true);
    assert.ok(results.rows.length <= 1 && results.rows.every((r) => r.status !== 'ok'), 'the job in flight was given up');
    await assertAllGone(children, 'a process of the experiment');
  });
});
