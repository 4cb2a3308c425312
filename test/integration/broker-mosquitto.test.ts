import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { mosquittoMissing, startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';
import { assertExactlyOnceAcrossMembers } from '../support/shared-scenarios.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

// The same $share scenario as broker-shared.test.ts, against a real mosquitto: the
// embedded broker must behave like the reference implementation on the common path.
describe('mosquitto reference', { skip: mosquittoMissing() ?? false }, () => {
  let mosquitto: MosquittoHandle;
  before(async () => {
    mosquitto = await startMosquitto();
  }, { timeout: SETUP_TIMEOUT_MS });
  after(async () => {
    await closeInOrder('broker-mosquitto', [['mosquitto', mosquitto && (() => mosquitto.stop())]]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  it('$share on mosquitto — 1,000 QoS 1 messages reach exactly one of 3 members', async (t) => {
    const { perMember } = await assertExactlyOnceAcrossMembers(mosquitto.url, { messages: 1000, members: 3 });
    t.diagnostic(`split over members: ${perMember.join(' / ')}`);
    assert.equal(perMember.reduce((a, b) => a + b, 0), 1000);
  });
});
