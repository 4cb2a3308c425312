import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parseCommandArgs, type Command } from '../../cli/command.ts';
import { command as authCommand } from '../../cli/commands/auth.ts';
import { silentLogger } from '../../cli/logger.ts';
import { isEdgeweaveError } from '../../schemas/errors.ts';
import { closeClients, connectClient, connectRefused, withTimeout } from '../support/mqtt.ts';
import { stopChild } from '../support/process.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

const BIN = join(import.meta.dirname, '../../bin/edgeweave.js');

async function runInProcess(cmd: Command, argv: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      stdout += chunk.toString('utf8');
      callback();
    },
  });
  const parsed = parseCommandArgs(cmd, argv);
  const code = await cmd.run({ ...parsed, log: silentLogger(), stdout: sink, stopSignal: new Promise(() => {}) });
  return { code, stdout };
}

interface Spawned {
  stdout: string;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  /** Stops it if it still runs (bounded: SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  /** Resolves with the first stdout line. */
  firstLine: Promise<string>;
}

/** Every CLI process a test started, stopped in `after` whatever the test did. */
const started = new Set<Spawned>();

function spawnCli(args: string[], stdin?: string): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, EDGEWEAVE_LOG_LEVEL: 'warn' } });
  const spawned: Spawned = {
    stdout: '',
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
    kill: (signal) => child.kill(signal),
    stop: () => stopChild(child, `edgeweave ${args.slice(0, 2).join(' ')}`),
    firstLine: new Promise((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        spawned.stdout += chunk.toString('utf8');
        const newline = spawned.stdout.indexOf('\n');
        if (newline >= 0) resolve(spawned.stdout.slice(0, newline));
      });
    }),
  };
  child.stderr.resume();
  child.stdin.end(stdin ?? '');
  started.add(spawned);
  return spawned;
}

describe('broker and auth commands', () => {
  let dir: string;
  let authPath: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgeweave-auth-'));
    authPath = join(dir, 'auth.json');
  }, { timeout: SETUP_TIMEOUT_MS });
  after(async () => {
    await closeInOrder('broker-cli', [
      ...[...started].map((s, i) => [`CLI process ${i}`, () => s.stop()] as const),
      ['the temp dir', dir !== undefined && (() => rm(dir, { recursive: true, force: true }))],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  it('auth CLI — add-user from stdin writes a 0600 file with a scrypt hash, never the password', async () => {
    const cli = spawnCli(['auth', 'add-user', '--file', authPath, '--user', 'car1', '--role', 'device', '--password-stdin'], 'car1-pw\n');
    assert.equal(await withTimeout(cli.exited, 20_000, 'auth add-user'), 0);
    const text = await readFile(authPath, 'utf8');
    assert.ok(!text.includes('car1-pw'));
    assert.match(JSON.parse(text).users.car1.password, /^scrypt\$16384\$8\$1\$/);
    assert.equal((await stat(authPath)).mode & 0o777, 0o600);
  });

  it('auth CLI — add-user, list, remove-user in process; mistakes are usage errors', async () => {
    assert.equal((await runInProcess(authCommand, ['add-user', '--file', authPath, '--user', 'ops', '--role', 'admin', '--password', 'x'])).code, 0);
    const listed = await runInProcess(authCommand, ['list', '--file', authPath, '--json']);
    assert.deepEqual(JSON.parse(listed.stdout), [
      { user: 'car1', role: 'device' },
      { user: 'ops', role: 'admin' },
    ]);
    assert.equal((await runInProcess(authCommand, ['remove-user', '--file', authPath, '--user', 'ops'])).code, 0);
    assert.equal((await runInProcess(authCommand, ['remove-user', '--file', authPath, '--user', 'ops'])).code, 1);
    const usage = (err: unknown): boolean => isEdgeweaveError(err) && err.code === 'E_USAGE';
    await assert.rejects(runInProcess(authCommand, ['add-user', '--file', authPath, '--user', 'x', '--role', 'king', '--password', 'p']), usage);
    await assert.rejects(runInProcess(authCommand, ['add-user', '--file', authPath, '--user', 'x', '--role', 'device']), usage);
    await assert.rejects(runInProcess(authCommand, ['rename', '--file', authPath]), usage);
  });

  it('broker CLI — serves with --auth, refuses a wrong password, and exits 0 on SIGTERM', async () => {
    const cli = spawnCli(['broker', '--port', '0', '--ws-port', 'off', '--auth', authPath, '--json']);
    const { url, wsUrl } = JSON.parse(await withTimeout(cli.firstLine, 20_000, 'broker start')) as { url: string; wsUrl: string | null };
    assert.equal(wsUrl, null);
    const { client } = await connectClient(url, { username: 'car1', password: 'car1-pw', clientId: 'car1.cli' });
    assert.equal((await connectRefused(url, { username: 'car1', password: 'wrong' })).code, 4);
    await closeClients(client);
    cli.kill('SIGTERM');
    assert.equal(await withTimeout(cli.exited, 10_000, 'broker exit'), 0);
  });
});
