import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mosquittoMissing, startMosquitto, type MosquittoHandle } from '../support/mosquitto.ts';
import { checkQuickRun, runQuickDemo } from '../support/demo.ts';
import { closeInOrder, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { kerasStyleBranchedModel, writeKerasLayout } from '../support/keras-layout.ts';
import { tempDir } from '../support/models-fixtures.ts';

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

  test('demo — --quick --models <path>: a model of one\'s own, converted from Keras, runs in every strategy', async () => {
    const dir = await tempDir('demo-own');
    try {
      const model = kerasStyleBranchedModel('model_1', 7);
      const path = await writeKerasLayout(model, `${dir.dir}/mine`, { shardBytes: 64 * 1024 });
      model.dispose();
      const run = await runQuickDemo(['--models', path, '--algorithms', 'local,neurosurgeon,auto']);
      assert.equal(run.code, 0, `demo failed:\n${run.stdout}\n${run.stderr.slice(-3000)}`);
      for (const algorithm of ['local', 'neurosurgeon', 'auto']) assert.match(run.stdout, new RegExp(`model_1\\s+wifi\\s+${algorithm}\\s+\\d`), `a row for ${algorithm}`);
    } finally {
      await dir.remove();
    }
  });

  const missing = mosquittoMissing();
  test('demo — --quick against mosquitto', { skip: missing ?? false }, async () => {
    mosquitto = await startMosquitto();
    const report = checkQuickRun(await runQuickDemo(['--broker', mosquitto.url]));
    assert.equal(report.dashboardUrl, undefined, 'no dashboard without the embedded broker');
  });
});
