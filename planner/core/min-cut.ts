/** Minimum s-t cut by Dinic's max-flow, on real-valued capacities. */

export class FlowNetwork {
  private readonly head: Int32Array;
  private to: Int32Array = new Int32Array(64);
  private cap: Float64Array = new Float64Array(64);
  private next: Int32Array = new Int32Array(64);
  private edges = 0;
  private maxCap = 0;
  readonly nodes: number;

  constructor(nodes: number) {
    this.nodes = nodes;
    this.head = new Int32Array(nodes).fill(-1);
  }

  /** Adds u -> v with capacity `cap` and v -> u with `reverse` (0: a plain directed edge). */
  addEdge(u: number, v: number, cap: number, reverse = 0): void {
    if (this.edges + 2 > this.to.length) this.grow();
    this.push(u, v, cap);
    this.push(v, u, reverse);
    if (Number.isFinite(cap)) this.maxCap = Math.max(this.maxCap, cap);
    if (Number.isFinite(reverse)) this.maxCap = Math.max(this.maxCap, reverse);
  }

  private push(u: number, v: number, cap: number): void {
    const e = this.edges++;
    this.to[e] = v;
    this.cap[e] = cap;
    this.next[e] = this.head[u]!;
    this.head[u] = e;
  }

  private grow(): void {
    const size = this.to.length * 2;
    const to = new Int32Array(size);
    to.set(this.to);
    const cap = new Float64Array(size);
    cap.set(this.cap);
    const next = new Int32Array(size);
    next.set(this.next);
    this.to = to;
    this.cap = cap;
    this.next = next;
  }

  /** Runs max-flow from s to t; afterwards sourceSide() gives the minimum cut. */
  maxFlow(s: number, t: number): number {
    const eps = 1e-12 * Math.max(1, this.maxCap);
    const level = new Int32Array(this.nodes);
    const iter = new Int32Array(this.nodes);
    const queue = new Int32Array(this.nodes);
    let flow = 0;
    for (;;) {
      level.fill(-1);
      level[s] = 0;
      let qh = 0;
      let qt = 0;
      queue[qt++] = s;
      while (qh < qt) {
        const u = queue[qh++]!;
        for (let e = this.head[u]!; e >= 0; e = this.next[e]!) {
          const v = this.to[e]!;
          if (level[v]! < 0 && this.cap[e]! > eps) {
            level[v] = level[u]! + 1;
            queue[qt++] = v;
          }
        }
      }
      if (level[t]! < 0) return flow;
      iter.set(this.head);
      for (;;) {
        const pushed = this.augment(s, t, Infinity, level, iter, eps);
        if (pushed <= eps) break;
        flow += pushed;
      }
    }
  }

  private augment(s: number, t: number, limit: number, level: Int32Array, iter: Int32Array, eps: number): number {
    // Iterative DFS along the level graph.
    const pathEdges: number[] = [];
    let u = s;
    for (;;) {
      if (u === t) {
        let f = limit;
        for (const e of pathEdges) f = Math.min(f, this.cap[e]!);
        for (const e of pathEdges) {
          this.cap[e]! -= f;
          this.cap[e ^ 1]! += f;
        }
        return f;
      }
      let advanced = false;
      for (let e = iter[u]!; e >= 0; e = this.next[e]!) {
        const v = this.to[e]!;
        if (this.cap[e]! > eps && level[v] === level[u]! + 1) {
          iter[u] = e;
          pathEdges.push(e);
          u = v;
          advanced = true;
          break;
        }
      }
      if (!advanced) {
        iter[u] = -1;
        level[u] = -1;
        if (pathEdges.length === 0) return 0;
        const e = pathEdges.pop()!;
        u = this.to[e ^ 1]!;
        iter[u] = this.next[iter[u]!]!;
      }
    }
  }

  /** Nodes reachable from s in the residual network (the source side of a minimum cut). */
  sourceSide(s: number): Uint8Array {
    const eps = 1e-12 * Math.max(1, this.maxCap);
    const seen = new Uint8Array(this.nodes);
    const stack = [s];
    seen[s] = 1;
    while (stack.length > 0) {
      const u = stack.pop()!;
      for (let e = this.head[u]!; e >= 0; e = this.next[e]!) {
        const v = this.to[e]!;
        if (!seen[v] && this.cap[e]! > eps) {
          seen[v] = 1;
          stack.push(v);
        }
      }
    }
    return seen;
  }
}
