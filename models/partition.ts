/**
 * Partitions of a task DAG into stages, as lists of task-id lists in an order that can run:
 * whole, one task per stage, and seeded random cuts. Random cuts walk a random topological
 * order (ties broken by the PRNG) and cut it into contiguous runs, so every stage is convex
 * and branches of a module land on different stages in every combination. Pure.
 */
import { EdgeweaveError } from '../schemas/errors.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { Prng } from './prng.ts';

export type Partition = string[][];

export function wholePartition(graph: TaskGraph): Partition {
  return [graph.tasks.map((t) => t.id)];
}

export function perTaskPartition(graph: TaskGraph): Partition {
  return graph.tasks.map((t) => [t.id]);
}

/** A topological order with ties broken at random. */
export function randomTopologicalOrder(graph: TaskGraph, rng: Prng): string[] {
  const indegree = new Map(graph.tasks.map((t) => [t.id, t.preds.length]));
  const byId = new Map(graph.tasks.map((t) => [t.id, t]));
  const ready = graph.tasks.filter((t) => t.preds.length === 0).map((t) => t.id);
  const order: string[] = [];
  while (ready.length > 0) {
    const [id] = ready.splice(rng.int(ready.length), 1) as [string];
    order.push(id);
    for (const s of byId.get(id)!.succs) {
      const left = indegree.get(s)! - 1;
      indegree.set(s, left);
      if (left === 0) ready.push(s);
    }
  }
  if (order.length !== graph.tasks.length) throw new EdgeweaveError('E_BAD_DAG', `the graph of ${graph.modelId} has a cycle`);
  return order;
}

/** `stages` (2..tasks) contiguous runs of a random topological order. */
export function randomPartition(graph: TaskGraph, seed: number, stages: number): Partition {
  const n = graph.tasks.length;
  const k = Math.max(1, Math.min(stages, n));
  const rng = new Prng(seed);
  const order = randomTopologicalOrder(graph, rng);
  const cuts = new Set<number>();
  while (cuts.size < k - 1) cuts.add(1 + rng.int(n - 1));
  const points = [0, ...[...cuts].sort((a, b) => a - b), n];
  return points.slice(1).map((end, i) => order.slice(points[i], end));
}

/** `count` random partitions of 2..5 stages each, from one seed. */
export function randomPartitions(graph: TaskGraph, seed: number, count: number): Partition[] {
  const rng = new Prng(seed);
  return Array.from({ length: count }, () => randomPartition(graph, Math.floor(rng.next() * 2 ** 32), 2 + rng.int(4)));
}
