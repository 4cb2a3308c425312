/**
 * Runs a scenario on an emulated system (the demo's building blocks: a broker, a planner and
 * each device as its own process) and writes its raw results and report to the output folder.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { EmulatedSystem } from '../demo/system.ts';
import type { Connection } from '../connection.ts';
import { runSweep } from './run-sweep.ts';
import { runTrajectory } from './run-trajectory.ts';
import { writeResults, type ExperimentResult } from './results.ts';
import { writeReport } from './report.ts';
import type { Scenario } from './scenario.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

/**
 * How long jobs in flight may still finish after a stop, and how long stopping the processes may
 * then take: together well within the 5 s a stopped command has to exit.
 */
const STOP_GRACE_MS = 1000;
const CLOSE_AFTER_STOP_MS = 2500;

export interface ExperimentOptions {
  scenario: Scenario;
  /** Results, report, the replayed trace and the logs of every process. */
  outDir: string;
  /** Profiles and the model cache, shared with the demo (default .edgeweave). */
  dataDir: string;
  /** An external broker; absent: the embedded broker is started. */
  connection?: Connection;
  log: Logger;
  progress?: (done: number, total: number, label: string) => void;
  /**
   * Resolves when the run should stop early (SIGINT/SIGTERM): no new job is submitted, jobs in
   * flight get STOP_GRACE_MS, results so far are written. A stop while the system starts ends the
   * run at once, with an error and no results.
   */
  stop?: Promise<unknown>;
}

export interface ExperimentFiles {
  csv: string;
  json: string;
  html: string;
}

export async function runExperiment(options: ExperimentOptions): Promise<{ result: ExperimentResult; files: ExperimentFiles }> {
  const started = Date.now();
  const { scenario } = options;
  const log = options.log.child({ component: 'experiment', scenario: scenario.name });
  const outDir = resolve(options.outDir);
  const dataDir = resolve(options.dataDir);
  mkdirSync(outDir, { recursive: true });
  mkdirSync(dataDir, { recursive: true });
  const models = scenario.kind === 'sweep' ? [...scenario.models] : [scenario.model];
  let stopped = false;
  // A stop ends the waits for readiness (the planner, devices being (re)started) at once.
  const interrupt = new AbortController();
  const starting = EmulatedSystem.start({
    ...(options.connection ? { connection: options.connection } : {}), dataDir, logDir: join(outDir, 'logs'), models, plannerId: 'experiment-planner', log,
    signal: interrupt.signal,
  });
  void options.stop?.then(() => {
    stopped = true;
    log.warn({ graceMs: STOP_GRACE_MS }, 'stopping: no new jobs; the results so far are written');
    interrupt.abort(new EdgeweaveError('E_EXECUTION', 'the experiment was stopped before its devices were ready'));
    // Jobs in flight get a moment to finish; then they are given up (recorded as failed).
    setTimeout(() => void starting.then((s) => s.abortJobs(), () => undefined), STOP_GRACE_MS).unref();
  });
  const system = await starting;
  try {
    const ctx = { system, log, stopped: () => stopped, outDir, ...(options.progress ? { progress: options.progress } : {}) };
    const base = { kind: scenario.kind, scenario, startedAt: new Date(started).toISOString(), brokerUrl: system.conn.brokerUrl };
    let result: ExperimentResult;
    if (scenario.kind === 'sweep') {
      const out = await runSweep(scenario, ctx);
      result = { ...base, durationS: (Date.now() - started) / 1000, interrupted: stopped, rows: out.rows, jobs: out.jobs };
    } else {
      const out = await runTrajectory(scenario, ctx);
      result = {
        ...base, durationS: (Date.now() - started) / 1000, interrupted: stopped, rows: out.rows, jobs: out.jobs,
        traceClocks: out.traceClocks, driveS: out.driveS, driveTrace: out.driveTrace,
      };
    }
    const raw = writeResults(result, outDir);
    const html = writeReport(result, outDir);
    log.info({ jobs: result.rows.length, durationS: Math.round(result.durationS) }, 'experiment done');
    return { result, files: { ...raw, html } };
  } finally {
    await system.close(stopped ? CLOSE_AFTER_STOP_MS : undefined);
  }
}
