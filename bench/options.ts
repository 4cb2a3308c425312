/** What bench/run.ts passes to every bench module's `runBench(options)`. */
export interface BenchOptions {
  /** Fewer iterations and smaller cases: a smoke run. */
  quick: boolean;
  /** The load bench's scenario (`--cars N --rate R --model M --duration S --compute real|virtual --sweep --out F`); absent: its defaults. */
  load: LoadOptions;
}

export interface LoadOptions {
  cars?: number;
  /** Jobs per second per car. */
  rate?: number;
  model?: string;
  durationS?: number;
  compute?: 'real' | 'virtual';
  /** Latency against load, 10% to 150% of the computed capacity (`--sweep`), and where its plot goes (`--out`). */
  sweep?: boolean;
  out?: string;
}
