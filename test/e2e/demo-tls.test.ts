import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { emptyAuthFile, hashPassword, startBroker, withUser } from '../../broker/index.ts';
import { checkQuickRun, runQuickDemo } from '../support/demo.ts';
import { makeSelfSignedCert } from '../support/tls.ts';
import { closeInOrder } from '../support/wait.ts';

/** GET over HTTPS, trusting only `ca`. */
function getJson(url: string, ca: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    get(url, { ca }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => { text += c.toString(); });
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch (err) {
          reject(err as Error);
        }
      });
    }).on('error', reject);
  });
}

interface PageConfig { username: string | null; password: string | null }

describe('demo — --tls: the whole demo secured', () => {
  test('demo — --quick --tls runs over mqtts:// with a login per process and the dashboard over https', async () => {
    let page: Promise<{ status: number; body: unknown }> | undefined;
    const run = await runQuickDemo(['--tls'], {
      onLine: (line, dataDir) => {
        const url = /^dashboard: (https:\/\/127\.0\.0\.1:\d+\/)$/.exec(line)?.[1];
        // While the demo runs: the page's config, fetched trusting only the generated certificate.
        if (url !== undefined) page ??= getJson(`${url}config.json`, readFileSync(join(dataDir, 'tls', 'cert.pem'), 'utf8'));
      },
    });
    const report = checkQuickRun(run);
    assert.match(report.brokerUrl, /^mqtts:\/\/127\.0\.0\.1:\d+$/);
    assert.match(report.dashboardUrl ?? '', /^https:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok(page, `a dashboard line on stdout:\n${run.stdout}`);
    const { status, body } = await page;
    assert.equal(status, 200);
    const config = body as PageConfig;
    assert.equal(config.username, 'demo-observer', 'the page logs in as the observer');
    assert.ok(config.password !== null && config.password.length >= 16, 'with a random password');

    const tls = join(run.dataDir, 'tls');
    for (const secret of ['auth.json', 'key.pem']) assert.equal(statSync(join(tls, secret)).mode & 0o777, 0o600, `${secret} is private`);
    const authText = readFileSync(join(tls, 'auth.json'), 'utf8');
    const auth = JSON.parse(authText) as { users: Record<string, { role: string; password: string }> };
    assert.deepEqual(
      Object.fromEntries(Object.entries(auth.users).map(([u, e]) => [u, e.role])),
      { 'demo-planner': 'planner', car1: 'device', edge1: 'device', cloud1: 'device', 'demo-observer': 'observer' },
    );
    for (const [user, entry] of Object.entries(auth.users)) assert.match(entry.password, /^scrypt\$/, `${user}: a hash, not a password`);
    // A plain password the demo made is nowhere on disk or in its output.
    const logs = readdirSync(join(run.dataDir, 'logs')).map((f) => readFileSync(join(run.dataDir, 'logs', f), 'utf8'));
    for (const [where, text] of [['auth.json', authText], ['stdout', run.stdout], ['stderr', run.stderr], ...logs.map((t, i) => [`log ${i}`, t])] as Array<[string, string]>) {
      assert.ok(!text.includes(config.password), `no plain password in ${where}`);
    }
  });

  test('demo — --broker mqtts:// with --auth: the given login and --ca go to every process', async (t) => {
    const cert = await makeSelfSignedCert();
    t.after(() => closeInOrder('demo-tls', [['the certificate files', () => cert.remove()]]));
    const auth = withUser(emptyAuthFile(), 'root', 'admin', await hashPassword('demo-admin-pw'));
    const broker = await startBroker({ port: 0, auth, tls: { cert: cert.cert, key: cert.key } });
    t.after(() => closeInOrder('demo-tls', [['the TLS broker', () => broker.close()]]));
    const report = checkQuickRun(await runQuickDemo(['--broker', broker.url, '--ca', cert.certPath, '--username', 'root', '--password', 'demo-admin-pw']));
    assert.equal(report.brokerUrl, broker.url);
  });

  test('demo — --tls with --broker is a usage error', async () => {
    const run = await runQuickDemo(['--tls', '--broker', 'mqtt://127.0.0.1:1'], { timeoutMs: 30_000 });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /--tls secures the embedded broker/);
  });
});
