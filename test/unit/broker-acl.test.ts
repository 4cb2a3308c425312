import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compileAcl } from '../../broker/acl.ts';
import { ACL_TABLE, ROLES } from '../../broker/acl-table.ts';
import { isValidFilter } from '../../broker/topic-filter.ts';

const V = 'edgeweave/v1';

describe('broker ACL', () => {
  it('ACL table — every entry is a valid filter, every role is listed', () => {
    assert.deepEqual(Object.keys(ACL_TABLE).sort(), [...ROLES].sort());
    for (const role of ROLES) {
      for (const filter of [...ACL_TABLE[role].publish, ...ACL_TABLE[role].subscribe]) {
        assert.ok(isValidFilter(ACL_TABLE[role].root + filter.replaceAll('{me}', 'x')), `${role}: ${filter}`);
      }
    }
  });

  it('ACL table — docs/BROKER.md shows exactly the table in the code', () => {
    const doc = readFileSync(new URL('../../docs/BROKER.md', import.meta.url), 'utf8');
    const cells = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    for (const role of ROLES) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`${role}\` |`));
      assert.ok(row, `docs/BROKER.md has a row for ${role}`);
      const [, root, publish, subscribe] = row.split(' | ').map((c) => c.trim());
      assert.equal(cells(root ?? '')[0] ?? '', ACL_TABLE[role].root, `${role} root`);
      assert.deepEqual(cells(publish ?? ''), [...ACL_TABLE[role].publish], `${role} publish`);
      assert.deepEqual(cells((subscribe ?? '').replace(/ \|$/, '')), [...ACL_TABLE[role].subscribe], `${role} subscribe`);
    }
  });

  const table: Array<{ user: string; role: (typeof ROLES)[number]; publish: Record<string, boolean>; subscribe: Record<string, boolean> }> = [
    {
      user: 'car1',
      role: 'device',
      publish: {
        [`${V}/devices/car1/status`]: true,
        [`${V}/devices/car2/status`]: false,
        [`${V}/devices/car1/profile`]: true,
        [`${V}/jobs/car1/submit`]: true,
        [`${V}/jobs/car2/submit`]: false,
        [`${V}/devices/car2/inbox`]: true,
        [`${V}/devices/car2/workers/w1/inbox`]: true,
        [`${V}/devices/car2/assign`]: false,
        [`${V}/jobs/car2/j1/report`]: true,
        [`${V}/jobs/car2/j1/result`]: true,
        [`${V}/jobs/car2/j1/plan`]: false,
        [`${V}/clock/car1/ping`]: true,
        [`${V}/clock/car1/pong`]: false,
        [`${V}/debug/devices/car1/a/b`]: true,
        [`${V}/debug/devices/car2/a`]: false,
        [`${V}/planners/p/status`]: false,
        'other/topic': false,
      },
      subscribe: {
        [`${V}/devices/car1/assign`]: true,
        [`${V}/devices/car1/inbox`]: true,
        [`${V}/devices/car1/workers/+/inbox`]: true,
        [`${V}/devices/car1/workers/#`]: false,
        [`${V}/jobs/car1/+/result`]: true,
        [`${V}/jobs/car1/j7/plan`]: true,
        [`${V}/jobs/car1/+/report`]: true,
        [`${V}/jobs/car1/#`]: false,
        [`${V}/jobs/+/+/result`]: false,
        [`${V}/clock/car1/pong`]: true,
        [`${V}/planners/+/status`]: true,
        [`${V}/devices/+/status`]: true,
        [`${V}/devices/+/profile`]: false,
        [`${V}/#`]: false,
        '#': false,
      },
    },
    {
      user: 'p1',
      role: 'planner',
      publish: {
        [`${V}/devices/car1/assign`]: true,
        [`${V}/devices/car1/inbox`]: true,
        [`${V}/jobs/car1/j1/plan`]: true,
        [`${V}/jobs/car1/j1/result`]: true,
        [`${V}/jobs/car1/j1/report`]: false,
        [`${V}/clock/car1/pong`]: true,
        [`${V}/planners/p1/status`]: true,
        [`${V}/planners/p2/status`]: false,
        [`${V}/debug/anything/at/all`]: true,
        [`${V}/devices/car1/status`]: false,
        [`${V}/jobs/car1/submit`]: false,
      },
      subscribe: {
        [`${V}/jobs/+/submit`]: true,
        [`${V}/devices/+/status`]: true,
        [`${V}/devices/+/profile`]: true,
        [`${V}/jobs/+/+/report`]: true,
        [`${V}/jobs/+/+/result`]: true,
        [`${V}/clock/+/ping`]: true,
        [`${V}/planners/+/status`]: true,
        [`${V}/devices/+/inbox`]: false,
        [`${V}/jobs/+/+/plan`]: false,
        [`${V}/#`]: false,
      },
    },
    {
      user: 'o',
      role: 'observer',
      publish: { [`${V}/debug/x`]: false, [`${V}/devices/o/status`]: false },
      subscribe: {
        [`${V}/devices/+/status`]: true,
        [`${V}/devices/+/profile`]: true,
        [`${V}/jobs/+/+/plan`]: true,
        [`${V}/jobs/+/+/report`]: true,
        [`${V}/jobs/+/+/result`]: true,
        [`${V}/planners/+/status`]: true,
        [`${V}/debug/#`]: true,
        [`${V}/#`]: false,
        [`${V}/jobs/+/submit`]: false,
        [`${V}/devices/+/inbox`]: false,
        [`${V}/clock/+/ping`]: false,
      },
    },
    {
      user: 'root',
      role: 'admin',
      publish: { 'any/topic': true, [`${V}/devices/x/status`]: true },
      subscribe: { '#': true, [`${V}/#`]: true, '$SYS/#': true },
    },
  ];
  for (const { user, role, publish, subscribe } of table) {
    it(`ACL — ${role} may publish and subscribe exactly what the table says`, () => {
      const acl = compileAcl(user, role);
      for (const [topic, allowed] of Object.entries(publish)) assert.equal(acl.canPublish(topic), allowed, `publish ${topic}`);
      for (const [topic, allowed] of Object.entries(publish)) assert.equal(acl.canPublish(topic), allowed, `publish ${topic} (cached)`);
      for (const [filter, allowed] of Object.entries(subscribe)) assert.equal(acl.canSubscribe(filter), allowed, `subscribe ${filter}`);
    });
  }
});
