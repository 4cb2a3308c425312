/** `edgeweave demo --quick` as a child process, and the checks every quick run must pass. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_DATA_DIR } from './cluster.ts';

const BIN = fileURLToPath(new URL('../../bin/edgeweave.js', import.meta.url));

export interface DemoRun {
  code: number | null;
  stdout: string;
  stderr: string;
  dataDir: string;
}

export interface DemoRunOptions {
  timeoutMs?: number;
  /** Called with each complete line of stdout as it arrives (the run is still going). */
  onLine?: (line: string, dataDir: string) => void;
}

export function runQuickDemo(args: string[], options: DemoRunOptions = {}): Promise<DemoRun> {
  const timeoutMs = options.timeoutMs ?? 240_000;
  const dataDir = mkdtempSync(join(tmpdir(), 'edgeweave-demo-'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'demo', '--quick', '--data-dir', dataDir, ...args], {
      env: { ...process.env, EDGEWEAVE_CACHE_DIR: join(TEST_DATA_DIR, 'models'), EDGEWEAVE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let lineStart = 0;
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      for (let nl = stdout.indexOf('\n', lineStart); nl >= 0; nl = stdout.indexOf('\n', lineStart)) {
        options.onLine?.(stdout.slice(lineStart, nl), dataDir);
        lineStart = nl + 1;
      }
    });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`demo did not finish in ${timeoutMs} ms\n${stderr.slice(-2000)}`)); }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr, dataDir }); });
  });
}

export interface DemoReport {
  brokerUrl: string;
  dashboardUrl?: string;
  rows: Array<{ status: string; latencyMs: number; predictedMs: number }>;
}

/** Exit 0, a table row per strategy, five good rows in the JSON report, charts and logs. */
export function checkQuickRun(r: DemoRun): DemoReport {
  assert.equal(r.code, 0, `demo failed:\n${r.stdout}\n${r.stderr.slice(-3000)}`);
  for (const algorithm of ['local', 'edge', 'cloud', 'neurosurgeon', 'auto']) {
    assert.match(r.stdout, new RegExp(`mobilenetv2\\s+wifi\\s+${algorithm}\\s+\\d`), `a row for ${algorithm}`);
  }
  const report = JSON.parse(readFileSync(join(r.dataDir, 'demo-report.json'), 'utf8')) as DemoReport;
  assert.equal(report.rows.length, 5);
  assert.ok(report.rows.every((x) => x.status === 'ok' && x.latencyMs > 0 && x.predictedMs > 0));
  const html = readFileSync(join(r.dataDir, 'demo-report.html'), 'utf8');
  assert.ok((html.match(/<svg/g) ?? []).length >= 3, 'the report has charts');
  assert.ok(existsSync(join(r.dataDir, 'logs', 'car1.log')));
  return report;
}
