/** Seeded pseudo-random numbers: reproducible weights, inputs and partitions on every device. */

/** FNV-1a, 32 bits: a seed from a string. */
export function seedFrom(text: string, salt = 0): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** mulberry32: a small fast generator of floats in [0, 1). */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/**
 * Fills `out` with uniform values in [lo, hi) from `seed`: xorshift32, two 16-bit draws per
 * step (plenty of resolution for weights, and fast enough to fill VGG16's 138M weights).
 */
export function fillUniform(out: Float32Array, seed: number, lo: number, hi: number): Float32Array {
  let s = seed >>> 0 || 0x9e3779b9;
  const scale = (hi - lo) / 65536;
  const n = out.length;
  let i = 0;
  while (i < n) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i++] = lo + (s & 0xffff) * scale;
    if (i < n) out[i++] = lo + (s >>> 16) * scale;
  }
  return out;
}
