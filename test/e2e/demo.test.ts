import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mosquittoMissing, startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';
import { TEST_DATA_DIR } from '../support/cluster.ts';

const BIN = fileURLToPath(new URL('../../bin/edgeweave.js', import.meta.url));

function runDemo(args: string[], timeoutMs = 240_000): Promise<{ code: number | null; stdout: string; stderr: string; dataDir: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'edgeweave-demo-'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'demo', '--quick', '--data-dir', dataDir, ...args], {
      env: { ...process.env, EDGEWEAVE_CACHE_DIR: join(TEST_DATA_DIR, 'models'), EDGEWEAVE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`demo did not finish in ${timeoutMs} ms\n${stderr.slice(-2000)}`)); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, dataDir }); });
  });
}

function checkQuickRun(r: { code: number | null; stdout: string; stderr: string; dataDir: string }): void {
  assert.equal(r.code, 0, `demo failed:\n${r.stdout}\n${r.stderr.slice(-3000)}`);
  for (const algorithm of ['local', 'edge', 'cloud', 'neurosurgeon', 'auto']) {
    assert.match(r.stdout, new RegExp(`mobilenetv2\\s+wifi\\s+${algorithm}\\s+\\d`), `a row for ${algorithm}`);
  }
  const report = JSON.parse(readFileSync(join(r.dataDir, 'demo-report.json'), 'utf8')) as { rows: Array<{ status: string; latencyMs: number; predictedMs: number }> };
  assert.equal(report.rows.length, 5);
  assert.ok(report.rows.every((x) => x.status === 'ok' && x.latencyMs > 0 && x.predictedMs > 0));
  const html = readFileSync(join(r.dataDir, 'demo-report.html'), 'utf8');
  assert.ok((html.match(/<svg/g) ?? []).length >= 3, 'the report has charts');
  assert.ok(existsSync(join(r.dataDir, 'logs', 'car1.log')));
}

describe('demo — the main job, quick', () => {
  let mosquitto: MosquittoHandle | undefined;
  after(async () => { await mosquitto?.stop(); });

  test('demo — --quick on the embedded broker', async () => {
    checkQuickRun(await runDemo([]));
  });

  const missing = mosquittoMissing();
  test('demo — --quick against mosquitto', { skip: missing ?? false }, async () => {
    mosquitto = await startMosquitto();
    checkQuickRun(await runDemo(['--broker', mosquitto.url]));
  });
});
