import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mosquittoMissing, startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';
import { checkQuickRun, runQuickDemo } from '../support/demo.ts';
import { closeInOrder, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';

describe('demo — the main job, quick', () => {
  let mosquitto: MosquittoHandle | undefined;
  after(async () => {
    await closeInOrder('demo', [['mosquitto', mosquitto && (() => mosquitto!.stop())]]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('demo — --quick on the embedded broker, with the dashboard on its WebSocket port', async () => {
    const run = await runQuickDemo([]);
    const report = checkQuickRun(run);
    assert.match(report.brokerUrl, /^mqtt:\/\//);
    assert.match(report.dashboardUrl ?? '', /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok(run.stdout.startsWith(`dashboard: ${report.dashboardUrl}\n`), 'the dashboard URL comes first, while the demo runs');
  });

  const missing = mosquittoMissing();
  test('demo — --quick against mosquitto', { skip: missing ?? false }, async () => {
    mosquitto = await startMosquitto();
    const report = checkQuickRun(await runQuickDemo(['--broker', mosquitto.url]));
    assert.equal(report.dashboardUrl, undefined, 'no dashboard without the embedded broker');
  });
});
