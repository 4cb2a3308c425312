import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { withTimeout } from '../support/mqtt.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { JobStatus, Encoding } from '../../schemas/generated/edgeweave.ts';
import type { JobOutcome } from '../../node-runtime/client.ts';

const CAR = { upBps: 8e6, downBps: 16e6, rttMs: 20 };
const EDGE = { upBps: 80e6, downBps: 80e6, rttMs: 4 };

function ok(outcome: JobOutcome): JobOutcome {
  assert.equal(outcome.result.status, JobStatus.JOB_STATUS_OK, `${outcome.result.error?.code} ${outcome.result.error?.message}`);
  return outcome;
}

describe('runtime — emulated links and speeds', () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({
      devices: [
        { id: 'car1', role: 'iot', speed: 0.25, link: CAR, models: ['mobilenetv2', 'chain'] },
        { id: 'edge1', role: 'edge', speed: 1, link: EDGE, models: ['mobilenetv2', 'chain'] },
      ],
    });
    await cluster.ready();
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('runtime-emulation', [['the cluster', cluster && (() => cluster.close()), 70_000]]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('runtime — measured transfer times match the emulated link within 10%', async () => {
    const graph = await getTaskGraph('mobilenetv2', { fused: true });
    const inputs = await buildJobInputs(graph, ['random:2']); // float32: ~600 KB over the car's 8 Mbps uplink
    const client = await cluster.client('car1');
    for (let i = 0; i < 3; i++) {
      const outcome = ok(await client.submit({ model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 60_000 }));
      const edge = outcome.result.trace.find((t) => t.deviceId === 'edge1')!;
      const bits = edge.bytesIn * 8;
      const expected = (bits / CAR.upBps) * 1000 + CAR.rttMs / 2 + (bits / EDGE.downBps) * 1000 + EDGE.rttMs / 2;
      const ratio = edge.transferInMs / expected;
      assert.ok(Math.abs(ratio - 1) <= 0.1, `transfer of ${edge.bytesIn} bytes took ${edge.transferInMs.toFixed(1)} ms, the link says ${expected.toFixed(1)} ms (ratio ${ratio.toFixed(3)})`);
    }
  });

  test('runtime — --speed stretches compute by 1/speed, and only then', async () => {
    const graph = await getTaskGraph('mobilenetv2', { fused: true });
    const inputs = await buildJobInputs(graph, ['pixels:2']);
    const client = await cluster.client('car1');
    const onCar = ok(await client.submit({ model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: 'local', timeoutMs: 60_000 }));
    const onEdge = ok(await client.submit({ model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 60_000 }));
    const car = onCar.result.trace.find((t) => t.deviceId === 'car1')!;
    const edge = onEdge.result.trace.find((t) => t.deviceId === 'edge1')!;
    // The car (speed 0.25) holds each stage until 4x what it took on this host.
    assert.ok(car.hostComputeMs > 0);
    const stretch = car.computeMs / car.hostComputeMs;
    assert.ok(Math.abs(stretch - 4) < 0.2, `car stage stretched ${stretch.toFixed(3)}x (host ${car.hostComputeMs.toFixed(1)} ms, reported ${car.computeMs.toFixed(1)} ms)`);
    // The edge (speed 1) adds nothing.
    assert.ok(edge.computeMs - edge.hostComputeMs < 2, `edge reported ${edge.computeMs.toFixed(1)} ms for ${edge.hostComputeMs.toFixed(1)} ms of work`);
  });

  test('runtime — a device computes while its last output is still in flight', async () => {
    const graph = await getTaskGraph('mobilenetv2', { fused: true });
    const inputs = await buildJobInputs(graph, ['random:3']);
    const client = await cluster.client('car1');
    // Two jobs at once: each sends ~600 KB over the car's uplink (~600 ms).
    const [a, b] = await Promise.all([0, 1].map(() => client.submit({ model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 60_000 })));
    ok(a!);
    ok(b!);
    const first = [a!, b!].sort((x, y) => x.result.trace[0]!.startAtMs - y.result.trace[0]!.startAtMs);
    const firstArrival = first[0]!.result.trace.find((t) => t.deviceId === 'edge1')!.readyAtMs;
    const secondCarEnd = first[1]!.result.trace.find((t) => t.deviceId === 'car1')!.endAtMs;
    assert.ok(secondCarEnd < firstArrival, `the car finished its second stage (${secondCarEnd.toFixed(0)}) before its first output arrived (${firstArrival.toFixed(0)})`);
  });

  test('runtime — lossy transport halves or quarters the cut and reports the deviation', async () => {
    const graph = await getTaskGraph('mobilenetv2', { fused: true });
    const inputs = await buildJobInputs(graph, ['random:4']);
    const lossyClient = await import('../../node-runtime/client.ts').then((m) => m.JobClient.connect({ brokerUrl: cluster.brokerUrl, origin: 'car1', checkLossy: true }));
    try {
      const exact = ok(await lossyClient.submit({ model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 60_000 }));
      const lossy = ok(await lossyClient.submit({ model: { name: 'mobilenetv2' }, inputs, fused: true, algorithm: 'edge', allowLossy: true, timeoutMs: 60_000 }));
      const cut = (o: JobOutcome): Encoding => o.plan!.stages.flatMap((s) => s.outputs)[0]!.encoding;
      assert.equal(cut(exact), Encoding.ENCODING_RAW);
      assert.notEqual(cut(lossy), Encoding.ENCODING_RAW, 'the plan chose a smaller encoding for the cut');
      const bytes = (o: JobOutcome): number => o.result.trace.find((t) => t.deviceId === 'edge1')!.bytesIn;
      assert.ok(bytes(lossy) < bytes(exact) * 0.55, `lossy cut ${bytes(lossy)} bytes vs ${bytes(exact)}`);
      assert.equal(exact.result.lossyMaxAbsDeviation, 0);
      assert.ok(lossy.result.lossyMaxAbsDeviation > 0, 'the deviation from float32 transport is reported');
      assert.ok(lossy.result.lossyMaxRelDeviation < 0.05, `and small (${lossy.result.lossyMaxRelDeviation})`);
    } finally {
      await withTimeout(lossyClient.close(), 10_000, 'closing the lossy job client');
    }
  });
});

describe('runtime — no emulation flags', () => {
  let cluster: Cluster;

  before(async () => {
    cluster = await startCluster({ devices: [{ id: 'a', role: 'iot', models: ['chain'] }, { id: 'b', role: 'edge', models: ['chain'] }] });
    await cluster.ready();
  }, { timeout: SETUP_TIMEOUT_MS });

  after(async () => {
    await closeInOrder('runtime-emulation', [['the cluster', cluster && (() => cluster.close()), 70_000]]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('runtime — without --link or --speed no delay is added', async () => {
    for (const d of cluster.devices.values()) {
      assert.equal(await d.sendDelay(10_000_000), 0);
      assert.equal(await d.receiveDelay(10_000_000), 0);
    }
    const graph = await getTaskGraph('chain', { fused: true });
    const inputs = await buildJobInputs(graph, ['random:1']);
    const client = await cluster.client('a');
    const outcome = ok(await client.submit({ model: { name: 'chain' }, inputs, fused: true, algorithm: 'edge', timeoutMs: 30_000 }));
    const remote = outcome.result.trace.find((t) => t.deviceId === 'b')!;
    assert.ok(remote.transferInMs < 50, `a loopback hop took ${remote.transferInMs} ms`);
  });
});
