import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Client } from 'aedes';
import { deliveryQos, ShareGroup, ShareMember, type SharedMessage } from '../../broker/share-group.ts';

const fakeClient = {} as Client;
const message = (qos: 0 | 1 | 2, bytes = 10): SharedMessage => ({ topic: 't', payload: Buffer.alloc(bytes), qos, handedOver: false });

function group(...members: Array<[id: string, inflight: number]>): ShareGroup {
  const g = new ShareGroup('g', 't', () => {});
  for (const [id, inflight] of members) {
    const m = new ShareMember(id, 1, fakeClient);
    m.inflight = inflight;
    g.addMember(m);
  }
  return g;
}

describe('broker share group', () => {
  it('share group — picks the member with the fewest unacknowledged messages', () => {
    const g = group(['a', 2], ['b', 0], ['c', 1]);
    assert.equal(g.pick(message(1), () => true)?.clientId, 'b');
  });

  it('share group — ties go round-robin', () => {
    const g = group(['a', 0], ['b', 0], ['c', 0]);
    const picks = Array.from({ length: 6 }, () => g.pick(message(1), () => true)?.clientId);
    assert.deepEqual(picks, ['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('share group — skips ineligible members and returns null when nobody can take it', () => {
    const g = group(['a', 0], ['b', 5]);
    assert.equal(g.pick(message(1), (m) => m.clientId !== 'a')?.clientId, 'b');
    assert.equal(g.pick(message(1), () => false), null);
  });

  it('share group — the backlog bound refuses new messages by count and bytes; handed-over ones always fit', () => {
    const g = group();
    const limits = { messages: 2, bytes: 25 };
    assert.ok(g.enqueue(message(1, 10), limits));
    assert.ok(g.enqueue(message(1, 10), limits));
    assert.ok(!g.enqueue(message(1, 1), limits), 'count');
    g.takeNext();
    assert.ok(!g.enqueue(message(1, 16), limits), 'bytes');
    g.requeueFront(message(1, 100));
    assert.equal(g.backlog.length, 2);
    assert.equal(g.backlogBytes, 110);
  });

  it('share group — delivery QoS is the lower of the publish and the grant', () => {
    const m0 = new ShareMember('x', 0, fakeClient);
    const m1 = new ShareMember('y', 1, fakeClient);
    assert.equal(deliveryQos(message(2), m1), 1);
    assert.equal(deliveryQos(message(1), m0), 0);
    assert.equal(deliveryQos(message(0), m1), 0);
  });
});
