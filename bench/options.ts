/** What bench/run.ts passes to every bench module's `runBench(options)`. */
export interface BenchOptions {
  /** Fewer iterations and smaller cases: a smoke run. */
  quick: boolean;
}
