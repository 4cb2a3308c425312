/**
 * The dashboard in a real browser: Debian's headless Chromium (driven by playwright-core,
 * no browser download) opens the page while a broker, a planner and three devices run in
 * this process, watches them come online and a job run, and draws the job's DAG and Gantt.
 * A screenshot goes to test-artifacts/dashboard.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startCluster, type Cluster } from '../support/cluster.ts';
import { dashboardHandler, startDashboardServer, type DashboardServer } from '../../dashboard/index.ts';
import { emptyAuthFile, hashPassword, startBroker, withUser } from '../../broker/index.ts';
import { closeClients, connectClient, withTimeout } from '../support/mqtt.ts';
import { closeInOrder, SETUP_TIMEOUT_MS, TEARDOWN_TIMEOUT_MS } from '../support/wait.ts';
import { topics } from '../../schemas/topics.ts';
import { getTaskGraph } from '../../models/task-graph.ts';
import { buildJobInputs } from '../../node-runtime/job-inputs.ts';
import { DeviceState, DeviceStatus, JobStatus, Role, type TaskSpecInit } from '../../schemas/generated/edgeweave.ts';
import type { TaskGraph } from '../../schemas/graph.ts';

const CHROMIUM = process.env['EDGEWEAVE_CHROMIUM'] ?? '/usr/bin/chromium';
const ARTIFACTS = resolve('test-artifacts');
const SCREENSHOT = join(ARTIFACTS, 'dashboard.png');
const DEVICES = ['car1', 'edge1', 'cloud1'];

const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env['CI']) {
  throw new Error(`dashboard browser test: ${CHROMIUM} is missing; .ci/run installs Debian's chromium`);
}
const skip = haveChromium ? false : `no Chromium at ${CHROMIUM} (apt-get install chromium, or set EDGEWEAVE_CHROMIUM)`;

/** The inception DAG with its branches pinned to the three devices, so the DAG shows three colours. */
function pinnedInception(graph: TaskGraph): TaskSpecInit[] {
  const pin = (id: string): string => {
    if (/^mixed0_b1_/.test(id)) return 'car1';
    if (/^mixed0_b[24]/.test(id) || id === 'mixed0') return 'edge1';
    if (/^mixed0_b3/.test(id)) return 'cloud1';
    return '';
  };
  return graph.tasks.map((t) => ({
    id: t.id, kind: t.kind, preds: t.preds, succs: t.succs, outputShape: t.outputShape, outputBytes: t.outputBytes, flops: t.flops,
    paramBytes: t.paramBytes, activationBytes: t.activationBytes, layers: t.layers, pinnedDevice: pin(t.id),
  }));
}

/** Pixels of a canvas that are not blank (transparent or white): proof something was drawn. */
async function inkedPixels(page: Page, selector: string): Promise<number> {
  return page.evaluate((sel) => {
    let inked = 0;
    for (const canvas of Array.from(document.querySelectorAll<HTMLCanvasElement>(sel))) {
      const ctx = canvas.getContext('2d');
      if (!ctx || canvas.width === 0 || canvas.height === 0) continue;
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3]! > 0 && !(data[i]! > 245 && data[i + 1]! > 245 && data[i + 2]! > 245)) inked++;
      }
    }
    return inked;
  }, selector);
}

describe('dashboard — in headless Chromium', { skip }, () => {
  let cluster: Cluster;
  let dashboard: DashboardServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgeweave-dashboard-'));
    const trace = join(dir, 'uplink.tsv');
    writeFileSync(trace, '0\t8\n1\t3\n2\t12\n3\t5\n');
    cluster = await startCluster({
      wsPort: 0,
      planDag: true,
      devices: [
        { id: 'car1', role: 'iot', models: ['inception'], link: { upBps: 10e6, downBps: 20e6, rttMs: 10 }, tracePath: trace },
        { id: 'edge1', role: 'edge', models: ['inception'], link: { upBps: 200e6, downBps: 200e6, rttMs: 2 } },
        { id: 'cloud1', role: 'cloud', models: ['inception'], link: { upBps: 50e6, downBps: 50e6, rttMs: 20 } },
      ],
    });
    dashboard = await withTimeout(startDashboardServer({ port: 0, brokerUrl: cluster.broker!.wsUrl! }), 60_000, 'starting the dashboard server (bundling the page)');
    browser = await chromium.launch({
      timeout: 60_000,
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    // A new context is a fresh, empty profile.
    const context = await browser.newContext({ viewport: { width: 1500, height: 1250 } });
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (msg) => { if (msg.type() === 'error') pageErrors.push(msg.text()); });
    await cluster.ready();
  }, { timeout: SETUP_TIMEOUT_MS });

  let shot = false;
  const shoot = async (path: string): Promise<void> => {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path, fullPage: true });
    shot = true;
  };

  after(async () => {
    await closeInOrder('dashboard-browser', [
      // What the page showed when the test failed.
      ['a screenshot of the failed page', page && !shot && (() => shoot(join(ARTIFACTS, 'dashboard-failed.png'))), 20_000],
      ['Chromium', browser && (() => browser.close())],
      ['the dashboard server', dashboard && (() => dashboard.close())],
      ['the cluster', cluster && (() => cluster.close()), 70_000],
    ]);
  }, { timeout: TEARDOWN_TIMEOUT_MS });

  test('dashboard — shows the three devices, a job as it finishes, its DAG and its Gantt', async () => {
    await page.goto(dashboard.url);
    await page.waitForSelector('body[data-connection="connected"][data-subscriptions="granted"]', { timeout: 15_000 });
    for (const id of DEVICES) await page.waitForSelector(`#devices tr[data-device="${id}"][data-state="online"]`, { timeout: 15_000 });
    const roles = await page.$$eval('#devices tr[data-device]', (rows) => rows.map((r) => `${r.getAttribute('data-device')}:${r.getAttribute('data-role')}`));
    assert.deepEqual(roles, ['car1:iot', 'edge1:edge', 'cloud1:cloud']);

    // Jobs are not retained: submit them after the page is subscribed.
    const graph = await getTaskGraph('inception', { fused: false });
    const client = await cluster.client('car1');
    const inputs = await buildJobInputs(graph, ['random:5']);
    const outcome = await client.submit({ model: { name: 'inception' }, inputs, tasks: pinnedInception(graph), algorithm: 'heft', timeoutMs: 30_000 });
    assert.equal(outcome.result.status, JobStatus.JOB_STATUS_OK, `job failed: ${outcome.result.error?.message}`);
    const plan = outcome.plan!;
    const key = `car1/${plan.jobId}`;
    // A second job, placed by the planner: the page follows it until someone picks a job.
    const second = await client.submit({ model: { name: 'inception' }, inputs, algorithm: 'auto', timeoutMs: 30_000 });
    assert.equal(second.result.status, JobStatus.JOB_STATUS_OK, `job failed: ${second.result.error?.message}`);
    await page.waitForSelector(`#jobs li[data-job-key="car1/${second.plan!.jobId}"][aria-selected="true"]`, { timeout: 15_000 });

    const item = await page.waitForSelector(`#jobs li[data-job-key="${key}"][data-status="ok"]`, { timeout: 15_000 });
    await item.click();
    await page.waitForSelector(`#jobs li[data-job-key="${key}"][aria-selected="true"]`);

    // The DAG: every task of the plan, coloured by the three devices it ran on.
    await page.waitForSelector(`#dag[data-job="${key}"]`);
    const dag = await page.$eval('#dag', (e) => ({ ...(e as HTMLElement).dataset }));
    assert.equal(Number(dag['nodes']), plan.tasks.length, 'one node per task');
    assert.ok(plan.tasks.length > 5, 'the plan carried the DAG');
    assert.ok(Number(dag['edges']) >= plan.tasks.length - 1, `edges: ${dag['edges']}`);
    assert.equal(Number(dag['devices']), 3, 'tasks ran on three devices');
    assert.deepEqual(await page.$$eval('#dag-legend [data-device]', (xs) => xs.map((x) => x.getAttribute('data-device')).sort()), [...DEVICES].sort());

    // The Gantt: a measured and a predicted row per device, a compute bar per stage in each.
    const gantt = await page.$eval('#gantt', (e) => ({ ...(e as HTMLElement).dataset }));
    assert.equal(gantt['job'], key);
    assert.equal(Number(gantt['rows']), 6, 'three devices, measured and predicted');
    assert.equal(Number(gantt['measuredStages']), plan.stages.length);
    assert.ok(Number(gantt['bars']) >= 2 * plan.stages.length, `bars drawn: ${gantt['bars']} for ${plan.stages.length} stages`);
    assert.ok(await inkedPixels(page, '#gantt canvas') > 2000, 'the Gantt canvas is drawn on');
    assert.ok(await inkedPixels(page, '#dag canvas') > 500, 'the DAG canvas is drawn on');

    // Energy for the job, and the job on the latency history.
    await page.waitForSelector(`#energy[data-job="${key}"]`);
    assert.ok(Number(await page.$eval('#energy', (e) => (e as HTMLElement).dataset['bars'])) >= 1, 'energy per device');
    assert.equal(Number(await page.$eval('#latency', (e) => (e as HTMLElement).dataset['points'])), 2, 'latency over time: both jobs');
    // car1 replays a bandwidth trace: its uplink is plotted over time.
    await page.waitForFunction(() => Number(document.getElementById('bandwidth')?.dataset['tracePoints']) >= 1, undefined, { timeout: 10_000 });
    // The planner's retained status carries an estimate of every live device: each gets a queue line.
    await page.waitForFunction(() => Number(document.getElementById('load')?.dataset['devices']) >= 3, undefined, { timeout: 10_000 });
    assert.ok(await inkedPixels(page, '#load canvas') > 500, 'the queue and link backlog canvas is drawn on');
    const car = await page.$eval('#devices tr[data-device="car1"]', (r) => r.textContent ?? '');
    assert.match(car, /Mbps/, 'car1 shows link figures');

    await shoot(SCREENSHOT);
    assert.deepEqual(pageErrors, [], 'no script errors on the page');
  });

  test('dashboard — served by a broker with --auth, the page logs in as an observer and is refused nothing', async () => {
    const fast = { N: 1024, r: 8, p: 1 };
    let auth = withUser(emptyAuthFile(), 'viewer', 'observer', await hashPassword('viewer-secret', fast));
    auth = withUser(auth, 'car9', 'device', await hashPassword('car9-secret', fast));
    const handler = dashboardHandler({ username: 'viewer', password: 'viewer-secret' });
    const secured = await startBroker({ port: 0, wsPort: 0, auth, httpHandler: handler });
    const device = await connectClient(secured.url, { username: 'car9', password: 'car9-secret', clientId: 'car9' });
    const tab = await page.context().newPage();
    try {
      await device.client.publishAsync(topics.deviceStatus('car9'), Buffer.from(DeviceStatus.encode({
        deviceId: 'car9', role: Role.ROLE_IOT, state: DeviceState.DEVICE_STATE_ONLINE, engine: 'wasm', heartbeatMs: 60_000, workers: ['w1'],
      })), { qos: 1, retain: true });
      await tab.goto(secured.wsUrl!.replace(/^ws/, 'http').replace(/\/mqtt$/, '/'));
      await tab.waitForSelector('body[data-subscriptions]:not([data-subscriptions="pending"])', { timeout: 15_000 });
      assert.deepEqual(await tab.$eval('body', (b) => [b.dataset['connection'], b.dataset['subscriptions']]), ['connected', 'granted'], 'logged in, every subscription granted');
      await tab.waitForSelector('#devices tr[data-device="car9"][data-state="online"]', { timeout: 15_000 });
    } finally {
      await closeInOrder('dashboard-browser', [
        ['the tab', () => tab.close()],
        ['car9', () => closeClients(device.client)],
        ['the secured broker', () => secured.close()],
      ]);
    }
  });
});
