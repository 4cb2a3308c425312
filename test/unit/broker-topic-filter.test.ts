import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { filterCovers, isValidFilter, parseSharedSubscription } from '../../broker/topic-filter.ts';

describe('broker topic filters', () => {
  const cases: Array<[pattern: string, filter: string, covered: boolean]> = [
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/+', true],
    ['a/b', 'a/+', false],
    ['a/+', 'a/b/c', false],
    ['a/+', 'a', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/#', 'a/#', true],
    ['a/#', 'a/+/c', true],
    ['a/+/#', 'a/#', false],
    ['a/+/#', 'a/b', true],
    ['a/b/#', 'a/#', false],
    ['#', 'x/y', true],
    ['#', '#', true],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/broker/load', true],
    ['a/+/c', 'a/+/c', true],
    ['a/+/c', 'a/#', false],
    ['a//b', 'a//b', true],
    ['a/+/b', 'a//b', true],
    ['e/v1/devices/+/status', 'e/v1/devices/+/status', true],
    ['e/v1/devices/+/status', 'e/v1/devices/#', false],
    ['e/v1/debug/#', 'e/v1/debug/devices/car1/x', true],
  ];
  for (const [pattern, filter, covered] of cases) {
    it(`filterCovers — ${pattern} ${covered ? 'covers' : 'does not cover'} ${filter}`, () => {
      assert.equal(filterCovers(pattern, filter), covered);
    });
  }

  it('isValidFilter — wildcards only as whole levels, # last', () => {
    for (const ok of ['a', 'a/b', '+', '#', 'a/+/b', 'a/#', '+/+', 'a//b']) assert.ok(isValidFilter(ok), ok);
    for (const bad of ['', 'a/#/b', 'a+', 'a/b#', '#/a', 'a/\u0000']) assert.ok(!isValidFilter(bad), JSON.stringify(bad));
  });

  it('parseSharedSubscription — splits $share/{group}/{filter} and refuses malformed ones', () => {
    assert.deepEqual(parseSharedSubscription('$share/g/a/+/b'), { group: 'g', filter: 'a/+/b' });
    assert.deepEqual(parseSharedSubscription('$share/g/#'), { group: 'g', filter: '#' });
    for (const bad of ['a/b', '$share/g', '$share//a', '$share/g/', '$share/g+/a', '$share/g/a/#/b', '$share/#/a']) {
      assert.equal(parseSharedSubscription(bad), null, bad);
    }
  });
});
