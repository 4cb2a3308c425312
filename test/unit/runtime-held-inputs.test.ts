import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { pino } from 'pino';
import { HeldStore } from '../../node-runtime/held-inputs.ts';
import { LocalSocketClient, LocalSocketServer } from '../../node-runtime/local-socket.ts';
import { splitJobData } from '../../node-runtime/client-handover.ts';
import { encodeTensor } from '../../schemas/tensor-codec.ts';
import { HeldInputs, LocalReply, type LocalRequest, type TensorInit } from '../../schemas/generated/edgeweave.ts';
import { EdgeweaveError, isEdgeweaveError } from '../../schemas/errors.ts';

const log = pino({ level: 'silent' });
const tensor = (name: string, n: number, fill = 0.5): TensorInit => encodeTensor({ dtype: 'float32', shape: [1, n], values: new Float32Array(n).fill(fill) }, { name });
const held = (jobId: string, tensors: TensorInit[], origin = 'car1', keepMs = 0): HeldInputs => HeldInputs.create({ jobId, originDevice: origin, tensors, keepMs });

test('held data — kept per job, found by input task; the one unnamed tensor feeds the only input', async () => {
  const store = new HeldStore('car1', log);
  store.hold(held('j1', [tensor('a', 4), tensor('b', 2)]));
  store.hold(held('j2', [tensor('', 3)]));
  assert.equal((await store.take('car1', 'j1', 'b', 0))?.shape.join(), '1,2');
  assert.equal(await store.take('car1', 'j1', 'c', 0), undefined);
  assert.equal((await store.take('car1', 'j2', 'input_1', 0))?.shape.join(), '1,3');
  assert.equal(store.heldBytes, (4 + 2 + 3) * 4);
  store.release('car1', 'j1');
  assert.equal(await store.take('car1', 'j1', 'a', 0), undefined);
  assert.equal(store.heldBytes, 3 * 4);
});

test('held data — a stage waits for data still on its way, and gives up after its wait', async () => {
  const store = new HeldStore('car1', log);
  const waiting = store.take('car1', 'j1', 'a', 5_000);
  store.hold(held('j1', [tensor('a', 4)]));
  assert.equal((await waiting)?.name, 'a');
  const t0 = Date.now();
  assert.equal(await store.take('car1', 'j9', 'a', 50), undefined);
  assert.ok(Date.now() - t0 >= 45);
});

test('held data — refused whole when not this device\'s, malformed, NaN or too large; nothing kept', () => {
  const store = new HeldStore('car1', log, { maxBytes: 64 });
  const refused = (m: HeldInputs, code: string, text: RegExp): void => {
    assert.throws(() => store.hold(m), (e: unknown) => isEdgeweaveError(e) && e.code === code && text.test(e.message));
  };
  refused(held('j1', [tensor('a', 2)], 'car2'), 'E_INPUT', /its own jobs/);
  refused(held('bad id', [tensor('a', 2)]), 'E_INPUT', /job id/);
  refused(held('j1', []), 'E_INPUT', /no tensor/);
  refused(held('j1', [tensor('a', 2), tensor('a', 2)]), 'E_INPUT', /twice/);
  refused(held('j1', [tensor('a', 2), tensor('', 2)]), 'E_INPUT', /names no input task/);
  refused(held('j1', [{ ...tensor('a', 2), data: new Uint8Array(5) }]), 'E_TENSOR', /needs 8 bytes/);
  refused(held('j1', [tensor('a', 2, Number.NaN)]), 'E_TENSOR', /NaN/);
  refused(held('j1', [tensor('a', 32)]), 'E_INPUT', /more than this device holds/);
  assert.equal(store.jobs, 0);
  assert.equal(store.heldBytes, 0);
});

test('held data — bounded in bytes (oldest job first) and in time (its deadline)', async () => {
  const store = new HeldStore('car1', log, { maxBytes: 100 });
  store.hold(held('j1', [tensor('a', 10)]), 0);
  store.hold(held('j2', [tensor('a', 10)]), 0);
  store.hold(held('j3', [tensor('a', 10)]), 0);
  assert.deepEqual([await store.take('car1', 'j1', 'a', 0), !!(await store.take('car1', 'j2', 'a', 0))], [undefined, true]);
  assert.ok(store.heldBytes <= 100);
  store.hold(held('j4', [tensor('a', 1)], 'car1', 1_000), 0);
  store.expire(1_000 + 10_000 - 1);
  assert.ok(await store.take('car1', 'j4', 'a', 0), 'kept until its deadline (with a margin)');
  store.expire(1_000 + 10_000);
  assert.equal(await store.take('car1', 'j4', 'a', 0), undefined);
});

test('submission — the data leaves the request, described in its place', () => {
  const data = tensor('img', 6);
  const { wire, data: out } = splitJobData({ jobId: 'j1', inputs: [{ taskId: 'img', tensor: data }, { taskId: 'radar', sourceDevice: 'edge1', sourceKey: 'r' }] });
  assert.equal(out.length, 1);
  assert.equal(out[0]!.data!.byteLength, 24);
  const [img, radar] = wire.inputs!;
  assert.equal(img!.tensor, undefined);
  assert.deepEqual([...img!.held!.shape!], [1, 6]);
  assert.equal(img!.held!.data!.byteLength, 0);
  assert.equal(radar!.sourceDevice, 'edge1');
});

test('local socket — requests answered in order of id, a refusal carries its code, a bad frame is answered and the connection ends', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ew-sock-'));
  const path = join(dir, 'd.sock');
  const got: LocalRequest[] = [];
  const server = await LocalSocketServer.listen(path, async (r) => {
    got.push(r);
    if (r.release === 'no') throw new EdgeweaveError('E_INPUT', 'refused here');
  }, log);
  try {
    const client = await LocalSocketClient.connect(path);
    const big = tensor('a', 1 << 18); // 1 MiB: arrives in many chunks
    await client.request({ hold: held('j1', [big]) });
    await client.request({ release: 'j1' });
    await assert.rejects(client.request({ release: 'no' }), (e: unknown) => isEdgeweaveError(e) && e.code === 'E_INPUT' && /refused here/.test(e.message));
    assert.deepEqual(got.map((r) => (r.hold ? 'hold' : r.release !== '' ? 'release' : '?')), ['hold', 'release', 'release']);
    assert.equal(got[0]!.hold!.tensors[0]!.data.byteLength, 1 << 20);
    client.close();
    // A frame that is not a LocalRequest: an error reply with id 0.
    const raw = createConnection(path);
    const reply = await new Promise<LocalReply>((resolve) => {
      raw.on('data', (b: Buffer) => resolve(LocalReply.decode(b.subarray(4))));
      raw.write(Buffer.from([0, 0, 0, 3, 0x12, 0x05, 0x01])); // a field that claims 5 bytes and has 1
    });
    assert.equal(reply.id, 0);
    assert.equal(reply.error?.code, 'E_DECODE');
    raw.destroy();
    // A frame over the limit: refused, the connection closed, the server still serving.
    const huge = createConnection(path);
    const closed = new Promise<LocalReply>((resolve) => huge.on('data', (b: Buffer) => resolve(LocalReply.decode(b.subarray(4)))));
    huge.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    assert.equal((await closed).error?.code, 'E_DECODE');
    huge.destroy();
    const again = await LocalSocketClient.connect(path);
    await again.request({ release: 'j2' });
    again.close();
  } finally {
    await server.close();
  }
  await assert.rejects(LocalSocketClient.connect(path), (e: unknown) => isEdgeweaveError(e) && e.code === 'E_LOCAL');
});
