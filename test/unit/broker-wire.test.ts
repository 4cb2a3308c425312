import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { Deque } from '../../broker/deque.ts';
import { maxRemainingBytesFor, PacketSizeScanner } from '../../broker/packet-size-guard.ts';
import { encodePublishHead } from '../../broker/publish-encoder.ts';

/** A packet with the given type and remaining length (body of zeros). */
function packet(type: number, remaining: number): Buffer {
  const length: number[] = [];
  let left = remaining;
  do {
    let byte = left % 128;
    left = Math.floor(left / 128);
    if (left > 0) byte |= 0x80;
    length.push(byte);
  } while (left > 0);
  return Buffer.concat([Buffer.from([type << 4, ...length]), Buffer.alloc(remaining)]);
}

describe('broker wire helpers', () => {
  it('publish encoder — QoS 1 head matches the MQTT 3.1.1 layout', () => {
    const head = encodePublishHead('a/b', 5, 1, 0x1234);
    assert.deepEqual([...head], [0x32, 2 + 3 + 2 + 5, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x12, 0x34]);
  });

  it('publish encoder — DUP is set only at QoS 1', () => {
    assert.equal(encodePublishHead('t', 0, 1, 1, true)[0], 0x3a);
    assert.equal(encodePublishHead('t', 0, 0, 0, true)[0], 0x30);
  });

  it('publish encoder — QoS 0 has no packet id; lengths use the varint at its boundaries', () => {
    assert.deepEqual([...encodePublishHead('t', 0, 0, 99)], [0x30, 3, 0x00, 0x01, 0x74]);
    for (const [payload, lengthBytes] of [[124, 1], [125, 2], [16380, 2], [16381, 3], [2097148, 3], [2097149, 4]] as const) {
      const head = encodePublishHead('t', payload, 0, 0);
      assert.equal(head.length, 1 + lengthBytes + 3, `payload ${payload}`);
    }
    const utf8 = encodePublishHead('é', 0, 0, 0);
    assert.deepEqual([...utf8.subarray(2)], [0x00, 0x02, 0xc3, 0xa9]);
  });

  it('size guard — passes packets within the limit, however they are chunked', () => {
    const stream = Buffer.concat([packet(1, 20), packet(3, 100), packet(12, 0), packet(3, 200), packet(8, 16383)]);
    for (const chunkSize of [1, 2, 3, 7, 64, stream.length]) {
      const scanner = new PacketSizeScanner(16383);
      for (let i = 0; i < stream.length; i += chunkSize) assert.equal(scanner.scan(stream.subarray(i, i + chunkSize)), null, `chunk ${chunkSize}`);
    }
  });

  it('size guard — reports the first oversized packet as soon as its length is known', () => {
    const scanner = new PacketSizeScanner(1000);
    assert.equal(scanner.scan(packet(3, 1000)), null);
    const header = packet(3, 2_000_000).subarray(0, 4);
    assert.equal(scanner.scan(header.subarray(0, 2)), null);
    assert.deepEqual(scanner.scan(header.subarray(2)), { packetType: 3, remainingBytes: 2_000_000 });
  });

  it('size guard — gives up on a malformed length instead of guessing (the parser rejects it)', () => {
    const scanner = new PacketSizeScanner(10);
    assert.equal(scanner.scan(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00])), null);
    assert.equal(scanner.scan(packet(3, 100)), null);
  });

  it('size guard — the limit admits a maximal topic with a full payload', () => {
    assert.equal(maxRemainingBytesFor(1024), 1024 + 2 + 65535 + 2);
  });

  it('deque — FIFO with front insertion, across growth', () => {
    const q = new Deque<number>();
    for (let i = 0; i < 40; i++) q.push(i);
    for (let i = 0; i < 10; i++) assert.equal(q.shift(), i);
    q.unshift(9);
    q.unshift(8);
    for (let i = 40; i < 100; i++) q.push(i);
    assert.equal(q.length, 92);
    const out: number[] = [];
    for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x);
    assert.deepEqual(out, Array.from({ length: 92 }, (_, i) => i + 8));
    assert.equal(q.peek(), undefined);
  });
});
