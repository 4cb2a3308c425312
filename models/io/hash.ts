/** The content hash of a model: sha256 over its topology and its weights (names, shapes, bytes). */
import { createHash } from 'node:crypto';
import type { io } from '@tensorflow/tfjs';

/** JSON with object keys sorted, so equal topologies hash equally whatever wrote them. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function weightBuffers(data: io.WeightData | undefined): ArrayBuffer[] {
  if (data === undefined) return [];
  return Array.isArray(data) ? data : [data];
}

/** sha256 (hex) of topology + weight specs + weight bytes. Independent of how shards are split into files. */
export function hashModel(topology: unknown, specs: readonly io.WeightsManifestEntry[], data: io.WeightData | undefined): string {
  const h = createHash('sha256');
  h.update(canonicalJson(topology));
  h.update('\n');
  h.update(canonicalJson(specs));
  h.update('\n');
  for (const buf of weightBuffers(data)) h.update(new Uint8Array(buf));
  return h.digest('hex');
}
