import { test } from 'node:test';
import { strict as assert } from 'node:assert';
import { planJob } from '../../planner/core/index.ts';
import { heftPaperRequest, loadHeftPaper } from '../support/planner-fixtures.ts';
import { checkPlanInvariants } from '../support/planner-invariants.ts';

test('planner heft — reproduces the published example of Topcuoglu et al. 2002: makespan 80 and that schedule', () => {
  const paper = loadHeftPaper();
  const request = heftPaperRequest(paper);
  const outcome = planJob({ ...request, algorithm: 'heft' });
  assert.ok(outcome.ok, JSON.stringify(!outcome.ok && outcome.issues));
  const plan = outcome.plan;
  assert.equal(plan.predictedLatencyMs, paper.expected.heftMakespan);
  const got: Record<string, Array<[string, number, number]>> = {};
  for (const t of [...plan.tasks].sort((a, b) => a.startMs - b.startMs)) (got[t.device] ??= []).push([t.id, t.startMs, t.finishMs]);
  assert.deepEqual(got, paper.expected.heftSchedule);
  assert.deepEqual(checkPlanInvariants(request, plan), []);
});

test('planner heft — the paper example schedules tasks in decreasing upward rank (80, 80 tie broken by graph order)', () => {
  const outcome = planJob({ ...heftPaperRequest(), algorithm: 'heft' });
  assert.ok(outcome.ok);
  assert.deepEqual(outcome.plan.tasks.map((t) => t.id), ['T0', 'T2', 'T3', 'T1', 'T4', 'T5', 'T8', 'T6', 'T7', 'T9']);
});

test('planner heft — exact beats HEFT on the paper example and auto finds the same optimum', () => {
  const request = heftPaperRequest();
  const exact = planJob({ ...request, algorithm: 'exact' });
  const auto = planJob({ ...request, algorithm: 'auto' });
  assert.ok(exact.ok && auto.ok);
  assert.equal(exact.plan.diagnostics.optimal, true);
  assert.ok(exact.plan.predictedLatencyMs < 80);
  assert.equal(auto.plan.predictedLatencyMs, exact.plan.predictedLatencyMs);
  assert.deepEqual(checkPlanInvariants(request, exact.plan), []);
});

test('planner heft — the stages of the paper schedule: only a stage\'s last task feeds other processors, joins are marked', () => {
  const outcome = planJob({ ...heftPaperRequest(), algorithm: 'heft' });
  assert.ok(outcome.ok);
  const stages = outcome.plan.stages.map((s) => [s.device, s.tasks.join('+'), s.join]);
  assert.deepEqual(stages, [
    ['P2', 'T0', false], ['P2', 'T2+T4', false], ['P1', 'T3', false], ['P1', 'T5', false], ['P0', 'T1', false],
    ['P2', 'T6', false], ['P1', 'T8', true], ['P0', 'T7', true], ['P1', 'T9', true],
  ]);
});
