/**
 * `$share` scenarios that run unchanged against any broker URL (the embedded one and
 * mosquitto), so the two can be compared on the same terms.
 */
import { strict as assert } from 'node:assert';
import { randomUUID } from 'node:crypto';
import { closeClients, connectClient, Inbox, publishNumbered, subscribe } from './mqtt.ts';

export interface ExactlyOnceResult {
  /** Messages each member received, in member order. */
  perMember: number[];
}

/**
 * `members` clients join `$share/{group}/{topic}` at QoS 1; one publisher sends `messages`
 * QoS 1 messages; every message must arrive exactly once over the group.
 */
export async function assertExactlyOnceAcrossMembers(url: string, options: { messages: number; members: number; timeoutMs?: number }): Promise<ExactlyOnceResult> {
  const run = randomUUID().slice(0, 8);
  const topic = `edgeweave-test/${run}/inbox`;
  const inbox = new Inbox();
  const ids = Array.from({ length: options.members }, (_, i) => `member-${run}-${i}`);
  const members = await Promise.all(ids.map((clientId) => connectClient(url, { clientId }, { inbox })));
  const publisher = await connectClient(url, { clientId: `publisher-${run}` });
  try {
    for (const { client } of members) assert.deepEqual(await subscribe(client, `$share/workers/${topic}`, 1), [1]);
    await publishNumbered(publisher.client, topic, options.messages);
    await inbox.waitForCount(options.messages, options.timeoutMs ?? 20_000);
    const texts = inbox.texts();
    assert.equal(texts.length, options.messages, 'each message delivered once over the group');
    assert.equal(new Set(texts).size, options.messages, 'no message delivered twice');
    const counts = inbox.countsByReceiver();
    return { perMember: ids.map((id) => counts.get(id) ?? 0) };
  } finally {
    await closeClients(publisher.client, ...members.map((m) => m.client));
  }
}
