import { strict as assert } from 'node:assert';
import { describe, it, mock } from 'node:test';
import type { Aedes, AedesPublishPacket, Client } from 'aedes';
import { pino } from 'pino';
import { SharedSubscriptions } from '../../broker/shared-subscriptions.ts';

type Listener = (packet: AedesPublishPacket, done: () => void) => void;

/** Just enough of aedes for the dispatcher: its emitter subscriptions. */
function fakeBroker(): { broker: Aedes; emit(topic: string, payload: string): void; listeners: Map<string, Listener> } {
  const listeners = new Map<string, Listener>();
  const broker = {
    subscribe: (topic: string, fn: Listener, done: () => void) => {
      listeners.set(topic, fn);
      done();
    },
    unsubscribe: (topic: string, _fn: Listener, done: () => void) => {
      listeners.delete(topic);
      done();
    },
  } as unknown as Aedes;
  const emit = (topic: string, payload: string): void => {
    listeners.get(topic)?.({ topic, payload: Buffer.from(payload), qos: 1 } as AedesPublishPacket, () => {});
  };
  return { broker, emit, listeners };
}

/** A connected aedes client whose socket records what is written to it. */
function fakeClient(id: string, clean = true): Client & { written: Buffer[] } {
  const written: Buffer[] = [];
  const conn = { destroyed: false, writableNeedDrain: false, write: (b: Buffer) => written.push(b), cork() {}, uncork() {} };
  return { id, clean, connected: true, closed: false, conn, _nextId: 1, written } as unknown as Client & { written: Buffer[] };
}

const joined = (shares: SharedSubscriptions, client: Client, group: string, filter: string): Promise<void> =>
  new Promise((resolve) => shares.join(client, group, filter, 1, resolve));

describe('broker $share dispatcher', () => {
  it('dispatcher — an empty group keeps its backlog for the linger time, then is deleted', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const { broker, emit, listeners } = fakeBroker();
      const shares = new SharedSubscriptions(broker, pino({ level: 'silent' }), { emptyGroupLingerMs: 1000 });
      const a = fakeClient('a');
      await joined(shares, a, 'g', 't');
      shares.leave(a, 'g', 't');
      emit('t', 'kept');
      mock.timers.tick(999);
      assert.equal(shares.info()[0]?.queued, 1);
      const b = fakeClient('b');
      await joined(shares, b, 'g', 't');
      assert.equal(b.written.length, 1, 'a member joining during the linger gets the backlog');
      shares.leave(b, 'g', 't');
      mock.timers.tick(1000);
      assert.equal(shares.info().length, 1, 'kept while a delivery is unacknowledged');
      shares.acknowledged(b, 1);
      mock.timers.tick(1000);
      assert.deepEqual(shares.info(), []);
      assert.equal(listeners.size, 0, 'the emitter listener is removed with the group');
    } finally {
      mock.timers.reset();
    }
  });

  it('dispatcher — only the owning connection can end a membership', async () => {
    const { broker, emit } = fakeBroker();
    const shares = new SharedSubscriptions(broker, pino({ level: 'silent' }));
    const old = fakeClient('x');
    const fresh = fakeClient('x');
    await joined(shares, old, 'g', 't');
    await joined(shares, fresh, 'g', 't');
    shares.leave(old, 'g', 't');
    shares.connectionClosed(old);
    emit('t', 'm');
    assert.equal(fresh.written.length, 1);
    assert.equal(shares.info()[0]?.members, 1);
  });

  it('dispatcher — a clean reconnect ends the memberships of the persistent session before it', async () => {
    const { broker } = fakeBroker();
    const shares = new SharedSubscriptions(broker, pino({ level: 'silent' }));
    const persistent = fakeClient('p', false);
    await joined(shares, persistent, 'g', 't');
    shares.connectionClosed(persistent);
    assert.equal(shares.info()[0]?.members, 1, 'an offline persistent member stays');
    shares.sessionStarted(fakeClient('p', true));
    assert.equal(shares.info()[0]?.members, 0);
  });

  it("dispatcher — packet ids continue across a client id's connections", async () => {
    const { broker, emit } = fakeBroker();
    const shares = new SharedSubscriptions(broker, pino({ level: 'silent' }));
    const first = fakeClient('c');
    shares.sessionStarted(first);
    await joined(shares, first, 'g', 't');
    emit('t', 'one');
    shares.acknowledged(first, 1);
    emit('t', 'two');
    shares.connectionClosed(first);
    const second = fakeClient('c');
    shares.sessionStarted(second);
    assert.equal((second as unknown as { _nextId: number })._nextId, 3, 'the next id after 1 and 2');
  });
});
