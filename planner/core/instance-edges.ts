/**
 * A task graph's edges as the instance holds them: predecessor and successor lists as flat
 * arrays, and each edge's bytes in the encoding it travels in — float32, or smaller where
 * allowed: uint8 for an image input, float16 or int8 when the request accepts a lossy cut.
 */
import type { CutEncoding, TransportOptions } from './types.ts';
import type { CheckedGraph } from './validation.ts';

export const ENCODINGS: readonly CutEncoding[] = ['float32', 'float16', 'int8', 'uint8'];
const ENC_FLOAT32 = 0;
const ENC_FLOAT16 = 1;
const ENC_INT8 = 2;
const ENC_UINT8 = 3;

/** The edge arrays of an Instance. */
export interface InstanceEdges {
  /** Edges (distinct predecessor links). */
  E: number;
  /** Predecessor edges of task t: predStart[t] .. predStart[t+1]-1. */
  predStart: Int32Array;
  predTask: Int32Array;
  /** Bytes of each edge in its chosen encoding, and that encoding (index into ENCODINGS). */
  edgeBytes: Float64Array;
  edgeEnc: Uint8Array;
  /** Successor edges of task t: succStart[t] .. succStart[t+1]-1; succEdge indexes the edge arrays. */
  succStart: Int32Array;
  succTask: Int32Array;
  succEdge: Int32Array;
  /** Bytes of task t's output as sent (the largest of its edges). */
  tensorBytes: Float64Array;
}

function looksLikeImage(shape: number[] | undefined): boolean {
  if (!Array.isArray(shape) || shape.length !== 3) return false;
  const channels = shape[2]!;
  return channels === 1 || channels === 3 || channels === 4;
}

/**
 * The edges of `g` with their bytes and encodings; `overrides` gives an edge's float32 bytes by
 * "from->to" task ids (cost.edgeBytes).
 */
export function buildEdges(g: CheckedGraph, taskIds: string[], isInput: Uint8Array, overrides: Record<string, number>, transport: TransportOptions | undefined): InstanceEdges {
  const n = g.tasks.length;
  const lossy = transport?.allowLossy ?? false;
  const allowF16 = lossy === true || lossy === 'float16';
  const allowI8 = lossy === true || lossy === 'int8';
  const uint8Mode = transport?.inputAsUint8 ?? 'auto';
  const predStart = new Int32Array(n + 1);
  for (let t = 0; t < n; t++) predStart[t + 1] = predStart[t]! + g.preds[t]!.length;
  const E = predStart[n]!;
  const predTask = new Int32Array(E);
  const edgeBytes = new Float64Array(E);
  const edgeEnc = new Uint8Array(E);
  const tensorBytes = new Float64Array(n);
  const succCount = new Int32Array(n);
  for (let t = 0; t < n; t++) {
    let e = predStart[t]!;
    for (const p of g.preds[t]!) {
      predTask[e] = p;
      succCount[p]!++;
      const source = g.tasks[p]!;
      const f32 = overrides[`${source.id}->${taskIds[t]}`] ?? source.outputBytes;
      let bytes = f32;
      let enc = ENC_FLOAT32;
      const asUint8 = isInput[p] === 1 && (uint8Mode === true || (uint8Mode === 'auto' && looksLikeImage(source.outputShape)));
      if (asUint8 && Math.ceil(f32 / 4) < bytes) {
        bytes = Math.ceil(f32 / 4);
        enc = ENC_UINT8;
      }
      if (allowF16 && Math.ceil(f32 / 2) < bytes) {
        bytes = Math.ceil(f32 / 2);
        enc = ENC_FLOAT16;
      }
      if (allowI8 && Math.ceil(f32 / 4) < bytes) {
        bytes = Math.ceil(f32 / 4);
        enc = ENC_INT8;
      }
      edgeBytes[e] = bytes;
      edgeEnc[e] = enc;
      if (bytes > tensorBytes[p]!) tensorBytes[p] = bytes;
      e++;
    }
  }
  const succStart = new Int32Array(n + 1);
  for (let t = 0; t < n; t++) succStart[t + 1] = succStart[t]! + succCount[t]!;
  const succTask = new Int32Array(E);
  const succEdge = new Int32Array(E);
  const fill = succStart.slice(0, n);
  for (let t = 0; t < n; t++) {
    for (let e = predStart[t]!; e < predStart[t + 1]!; e++) {
      const p = predTask[e]!;
      const k = fill[p]!++;
      succTask[k] = t;
      succEdge[k] = e;
    }
  }
  return { E, predStart, predTask, edgeBytes, edgeEnc, tensorBytes, succStart, succTask, succEdge };
}
