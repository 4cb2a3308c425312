/**
 * What reached an origin on its job topics, counted from the raw messages a watcher received:
 * OK results per job (more than one is a duplicate on the wire), results of attempts other
 * than the first one that arrived (superseded attempts), and stage reports by status.
 */
import { JobResult, JobStatus, StageReport, StageStatus } from '../../schemas/generated/edgeweave.ts';
import type { ReceivedMessage } from './mqtt.ts';

export interface ResultCensus {
  /** Jobs with at least one OK result. */
  jobs: number;
  /** Jobs with more than one OK result, as "job: attempts". */
  duplicated: string[];
  /** OK results that were not the first of their job (each from another attempt, or the same one twice). */
  superseded: number;
  /** OK reports per (job, stage). */
  okReports: Map<string, number>;
  /** Reports of stage inputs that arrived again for a stage that had run. */
  duplicateReports: number;
  /** Payloads on result or report topics that did not decode (a hostile or broken publisher). */
  undecodable: number;
}

export function resultCensus(messages: readonly ReceivedMessage[]): ResultCensus {
  const attempts = new Map<string, number[]>();
  const okReports = new Map<string, number>();
  let duplicateReports = 0;
  let undecodable = 0;
  const decode = <T>(codec: { decode(bytes: Uint8Array): T }, payload: Buffer): T | undefined => {
    try {
      return codec.decode(payload);
    } catch {
      undecodable++;
      return undefined;
    }
  };
  for (const m of messages) {
    if (m.topic.endsWith('/result')) {
      const r = decode(JobResult, m.payload);
      if (r?.status !== JobStatus.JOB_STATUS_OK) continue;
      attempts.set(r.jobId, [...(attempts.get(r.jobId) ?? []), r.attempt]);
    } else if (m.topic.endsWith('/report')) {
      const r = decode(StageReport, m.payload);
      if (r?.status === StageStatus.STAGE_STATUS_DUPLICATE) duplicateReports++;
      if (r?.status === StageStatus.STAGE_STATUS_OK) okReports.set(`${r.jobId}/${r.stageId}`, (okReports.get(`${r.jobId}/${r.stageId}`) ?? 0) + 1);
    }
  }
  const duplicated = [...attempts].filter(([, a]) => a.length > 1).map(([job, a]) => `${job}: attempts ${a.join(', ')}`);
  const superseded = [...attempts.values()].reduce((s, a) => s + a.length - 1, 0);
  return { jobs: attempts.size, duplicated, superseded, okReports, duplicateReports, undecodable };
}

/** One line for a failure message or a diagnostic. */
export function censusSummary(c: ResultCensus): string {
  const dup = c.duplicated.length > 0 ? ` (${c.duplicated.slice(0, 10).join('; ')}${c.duplicated.length > 10 ? '; ...' : ''})` : '';
  return `${c.jobs} jobs with an OK result on the wire, ${c.superseded} superseded results, ${c.duplicated.length} jobs with more than one${dup}` +
    `, ${c.okReports.size} stages reported OK, ${c.duplicateReports} duplicate-input reports${c.undecodable > 0 ? `, ${c.undecodable} undecodable payloads` : ''}`;
}
