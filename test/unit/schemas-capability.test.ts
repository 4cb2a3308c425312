import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PlannerKeyRing, generatePlannerKeys, signCapability } from '../../schemas/capability.ts';

test('capability — a key ring accepts its planners\' signatures only, for the attempt signed, and again once verified', () => {
  const p1 = generatePlannerKeys();
  const ring = new PlannerKeyRing();
  const cap = signCapability(p1, 'car1', 'j1', 1);
  assert.equal(ring.accepts('car1', 'j1', 1, new Uint8Array(64)), true, 'no planner known yet: nothing to check against');
  ring.update('p1', p1.publicKeyRaw);
  assert.equal(ring.accepts('car1', 'j1', 1, cap), true);
  assert.equal(ring.accepts('car1', 'j1', 1, cap), true, 'the same capability again (remembered)');
  assert.equal(ring.accepts('car1', 'j1', 2, cap), false, 'another attempt');
  assert.equal(ring.accepts('car2', 'j1', 1, cap), false, 'another origin');
  const forged = Uint8Array.from(cap);
  forged[10] = (forged[10]! + 1) % 256;
  assert.equal(ring.accepts('car1', 'j1', 1, forged), false, 'a changed signature');
  assert.equal(ring.accepts('car1', 'j1', 1, signCapability(generatePlannerKeys(), 'car1', 'j1', 1)), false, 'a stranger\'s signature');
  // The planner comes back with a new key: what its old key signed is no longer accepted, remembered or not.
  const p1again = generatePlannerKeys();
  ring.update('p1', p1again.publicKeyRaw);
  assert.equal(ring.accepts('car1', 'j1', 1, cap), false);
  assert.equal(ring.accepts('car1', 'j1', 1, signCapability(p1again, 'car1', 'j1', 1)), true);
});
