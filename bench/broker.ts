/**
 * Broker throughput and latency, the embedded broker beside mosquitto in the same run.
 *
 * Both brokers run in their own process (the embedded one through `edgeweave broker`),
 * so neither shares an event loop with the MQTT.js clients driving them. Per case:
 * - msg/s: one publisher sends N messages (a bounded window of unfinished publishes)
 *   and the clock stops when the subscriber side has received all N;
 * - p50 latency: then messages go one at a time, publish to receipt, median of the samples.
 * Cases: 1 KiB and 1 MiB payloads at QoS 0 and 1 to one plain subscriber, and a `$share`
 * group of 3 at QoS 1 (the embedded broker with its default window of
 * `DEFAULT_SHARED_INFLIGHT` unacknowledged messages per member, as mosquitto's
 * max_inflight_messages, and with a window of 1, what executors that want every waiting
 * input kept at the broker can choose). Each broker gets an unreported warm-up first.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { connect, type MqttClient } from 'mqtt';
import { DEFAULT_SHARED_INFLIGHT } from '../broker/index.ts';
import { mosquittoMissing, startMosquitto } from '../test/support/mosquitto.ts';
import type { BenchOptions } from './options.ts';

interface Target {
  name: string;
  url: string;
  stop(): Promise<void>;
}

interface CaseSpec {
  label: string;
  payloadBytes: number;
  qos: 0 | 1;
  members: number;
  messages: number;
  latencySamples: number;
  /** Run only against the embedded broker started with this `--shared-inflight`. */
  sharedInflight?: number;
}

interface CaseResult {
  msgPerSec: number;
  p50Ms: number;
  /** Set when not every message arrived before the deadline. */
  note?: string;
}

const CASE_DEADLINE_MS = 30_000;

async function startEmbedded(sharedInflight: number): Promise<Target> {
  const bin = join(import.meta.dirname, '../bin/edgeweave.js');
  const child: ChildProcess = spawn(process.execPath, [bin, 'broker', '--port', '0', '--ws-port', 'off', '--json', '--shared-inflight', String(sharedInflight)], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, EDGEWEAVE_LOG_LEVEL: 'error' },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`edgeweave broker exited with ${code} before listening`)));
  });
  return {
    name: sharedInflight === DEFAULT_SHARED_INFLIGHT ? 'embedded' : `embedded (window ${sharedInflight})`,
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function connectAsync(url: string, clientId: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = connect(url, { clientId, reconnectPeriod: 0 });
    client.once('connect', () => resolve(client));
    client.once('error', reject);
  });
}

/** Publishes `count` messages keeping at most `window` unfinished (unwritten, or unacknowledged at QoS 1). */
function publishWindowed(client: MqttClient, topic: string, payload: Buffer, qos: 0 | 1, count: number, window: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let open = 0;
    let scheduled = false;
    const pump = (): void => {
      scheduled = false;
      while (open < window && sent < count) {
        open++;
        sent++;
        client.publish(topic, payload, { qos }, (err) => {
          open--;
          if (err) return reject(err);
          if (sent === count && open === 0) return resolve();
          if (!scheduled) {
            scheduled = true;
            setImmediate(pump);
          }
        });
      }
    };
    pump();
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function runCase(url: string, spec: CaseSpec): Promise<CaseResult> {
  const run = randomUUID().slice(0, 8);
  const topic = `bench/${run}`;
  const filter = spec.members > 1 ? `$share/bench/${topic}` : topic;
  const receivers = await Promise.all(Array.from({ length: spec.members }, (_, i) => connectAsync(url, `bench-sub-${run}-${i}`)));
  const publisher = await connectAsync(url, `bench-pub-${run}`);
  let received = 0;
  let onReceived: () => void = () => {};
  for (const r of receivers) {
    r.on('message', () => {
      received++;
      onReceived();
    });
  }
  try {
    await Promise.all(receivers.map((r) => r.subscribeAsync(filter, { qos: spec.qos })));
    const payload = Buffer.alloc(spec.payloadBytes, 1);
    const window = Math.max(2, Math.min(spec.qos === 1 ? 64 : 256, Math.floor((16 * 1024 * 1024) / spec.payloadBytes)));

    const start = process.hrtime.bigint();
    const allReceived = new Promise<boolean>((resolve) => {
      const deadline = setTimeout(() => resolve(false), CASE_DEADLINE_MS);
      onReceived = () => {
        if (received >= spec.messages) {
          clearTimeout(deadline);
          resolve(true);
        }
      };
    });
    await publishWindowed(publisher, topic, payload, spec.qos, spec.messages, window);
    const complete = await allReceived;
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const msgPerSec = received / seconds;

    const latencies: number[] = [];
    for (let i = 0; i < spec.latencySamples; i++) {
      const target = received + 1;
      const sentAt = process.hrtime.bigint();
      const arrived = new Promise<void>((resolve) => {
        onReceived = () => {
          if (received >= target) resolve();
        };
      });
      publisher.publish(topic, payload, { qos: spec.qos });
      await arrived;
      latencies.push(Number(process.hrtime.bigint() - sentAt) / 1e6);
    }
    return { msgPerSec, p50Ms: median(latencies), ...(complete ? {} : { note: `only ${received}/${spec.messages} arrived in ${CASE_DEADLINE_MS / 1000} s` }) };
  } finally {
    await Promise.all([publisher, ...receivers].map((c) => c.endAsync(true).catch(() => {})));
  }
}

function cases(quick: boolean): CaseSpec[] {
  const small = { payloadBytes: 1024, messages: quick ? 2_000 : 20_000, latencySamples: quick ? 50 : 300 };
  const large = { payloadBytes: 1024 * 1024, messages: quick ? 20 : 300, latencySamples: quick ? 5 : 40 };
  return [
    { label: '1 KiB QoS 0', qos: 0, members: 1, ...small },
    { label: '1 KiB QoS 1', qos: 1, members: 1, ...small },
    { label: '1 MiB QoS 0', qos: 0, members: 1, ...large },
    { label: '1 MiB QoS 1', qos: 1, members: 1, ...large },
    { label: '$share x3, 1 KiB QoS 1', qos: 1, members: 3, ...small },
    { label: '$share x3, 1 MiB QoS 1', qos: 1, members: 3, ...large },
    { label: '$share x3, 1 KiB QoS 1', qos: 1, members: 3, sharedInflight: 1, ...small },
  ];
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return `${line(header)}\n${rows.map(line).join('\n')}\n`;
}

const fmtRate = (r: CaseResult | undefined): string => (r ? Math.round(r.msgPerSec).toLocaleString('en-US') : '-');
const fmtMs = (r: CaseResult | undefined): string => (r ? r.p50Ms.toFixed(2) : '-');
const ratio = (a: number | undefined, b: number | undefined): string => (a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(2)}x` : '-');

export async function runBench(options: BenchOptions): Promise<void> {
  const missing = mosquittoMissing();
  process.stdout.write(`node ${process.version}, ${cpus().length} CPUs, loopback, MQTT.js 5 clients (protocol 3.1.1), brokers in their own processes${options.quick ? ', --quick' : ''}\n`);
  if (missing) process.stdout.write(`mosquitto column empty: ${missing}\n`);
  // The window is passed explicitly, so the rows name what was measured whatever the CLI's default.
  const embedded = await startEmbedded(DEFAULT_SHARED_INFLIGHT);
  const windowed = await startEmbedded(1);
  const mosquitto = missing ? null : await startMosquitto();
  const rows: string[][] = [];
  const notes: string[] = [];
  try {
    // warm-up, not reported: JIT-compile both paths of each broker (and the clients) first
    const warmUp: CaseSpec[] = [
      { label: 'warm-up', payloadBytes: 1024, qos: 1, members: 1, messages: 3_000, latencySamples: 20 },
      { label: 'warm-up', payloadBytes: 1024, qos: 1, members: 3, messages: 3_000, latencySamples: 20 },
    ];
    for (const target of [embedded, windowed, mosquitto]) {
      for (const spec of warmUp) if (target) await runCase(target.url, spec);
    }
    for (const spec of cases(options.quick)) {
      const ours = await runCase(spec.sharedInflight ? windowed.url : embedded.url, spec);
      const theirs = mosquitto && !spec.sharedInflight ? await runCase(mosquitto.url, spec) : undefined;
      for (const [who, r] of [[spec.sharedInflight ? windowed.name : embedded.name, ours], ['mosquitto', theirs]] as const) {
        if (r?.note) notes.push(`${spec.label}, ${who}: ${r.note}`);
      }
      const label = spec.sharedInflight ? `${spec.label}, window ${spec.sharedInflight}` : spec.label;
      rows.push([label, fmtRate(ours), fmtRate(theirs), ratio(ours.msgPerSec, theirs?.msgPerSec), fmtMs(ours), fmtMs(theirs), ratio(theirs?.p50Ms, ours.p50Ms)]);
    }
  } finally {
    await Promise.all([embedded.stop(), windowed.stop(), mosquitto?.stop()]);
  }
  process.stdout.write('\n' + table(['case', 'embedded msg/s', 'mosquitto msg/s', 'rate ratio', 'embedded p50 ms', 'mosquitto p50 ms', 'latency ratio'], rows));
  process.stdout.write('\nratios: embedded / mosquitto for rate, mosquitto / embedded for latency (above 1x = embedded better)\n');
  for (const note of notes) process.stdout.write(`note: ${note}\n`);
}
