/**
 * Reading a JSON document field by field with every mistake collected under its path
 * (`links[1].upMbps: must be a number > 0, got "fast"`), so a scenario file is checked once
 * and all of its problems are reported together.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export class FieldIssues {
  readonly issues: string[] = [];

  add(path: string, message: string): void {
    this.issues.push(path === '' ? message : `${path}: ${message}`);
  }

  get ok(): boolean {
    return this.issues.length === 0;
  }
}

export function show(v: Json | undefined): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function join(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`;
}

/** Reads the fields of one object; `done()` reports the fields nobody asked for (typos). */
export class ObjectReader {
  private readonly seen = new Set<string>();

  constructor(readonly obj: JsonObject, readonly path: string, readonly issues: FieldIssues) {}

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  raw(key: string): Json | undefined {
    this.seen.add(key);
    return this.obj[key];
  }

  at(key: string): string {
    return join(this.path, key);
  }

  number(key: string, fallback: number | undefined, range: { min?: number; max?: number; above?: number; integer?: boolean } = {}): number | undefined {
    const v = this.raw(key);
    if (v === undefined) {
      if (fallback === undefined) this.issues.add(this.at(key), 'is required');
      return fallback;
    }
    const { min, max, above, integer = false } = range;
    const bad = typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))
      || (min !== undefined && v < min) || (max !== undefined && v > max) || (above !== undefined && v <= above);
    if (bad) {
      const bounds = [min !== undefined ? `>= ${min}` : '', above !== undefined ? `> ${above}` : '', max !== undefined ? `<= ${max}` : ''].filter(Boolean).join(' and ');
      this.issues.add(this.at(key), `must be ${integer ? 'a whole number' : 'a number'}${bounds ? ` ${bounds}` : ''}, got ${show(v)}`);
      return fallback;
    }
    return v as number;
  }

  string(key: string, fallback: string | undefined, allowed?: readonly string[]): string | undefined {
    const v = this.raw(key);
    if (v === undefined) {
      if (fallback === undefined) this.issues.add(this.at(key), allowed ? `is required (one of ${allowed.join(', ')})` : 'is required');
      return fallback;
    }
    if (typeof v !== 'string' || v === '') {
      this.issues.add(this.at(key), `must be a non-empty string, got ${show(v)}`);
      return fallback;
    }
    if (allowed && !allowed.includes(v)) {
      this.issues.add(this.at(key), `must be one of ${allowed.join(', ')}, got ${show(v)}`);
      return fallback;
    }
    return v;
  }

  /** A non-empty array whose items `item` reads (undefined items are dropped). */
  list<T>(key: string, fallback: T[] | undefined, item: (v: Json, path: string) => T | undefined): T[] | undefined {
    const v = this.raw(key);
    if (v === undefined) {
      if (fallback === undefined) this.issues.add(this.at(key), 'is required');
      return fallback;
    }
    if (!Array.isArray(v) || v.length === 0) {
      this.issues.add(this.at(key), `must be a non-empty list, got ${show(v)}`);
      return fallback;
    }
    const out: T[] = [];
    v.forEach((x, i) => {
      const r = item(x, join(this.at(key), i));
      if (r !== undefined) out.push(r);
    });
    return out;
  }

  /** A nested object, read by `read`; absent: `fallback`. */
  object<T>(key: string, fallback: T | undefined, read: (r: ObjectReader) => T): T | undefined {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    if (!isObject(v)) {
      this.issues.add(this.at(key), `must be an object, got ${show(v)}`);
      return fallback;
    }
    const r = new ObjectReader(v, this.at(key), this.issues);
    const out = read(r);
    r.done();
    return out;
  }

  /** Reports every field that was never read. */
  done(): void {
    for (const key of Object.keys(this.obj)) if (!this.seen.has(key)) this.issues.add(this.at(key), 'unknown field');
  }
}

/** A list item that must be a string from `allowed` (or any non-empty string). */
export function stringItem(issues: FieldIssues, allowed?: readonly string[], what = 'one of'): (v: Json, path: string) => string | undefined {
  return (v, path) => {
    if (typeof v !== 'string' || v === '') {
      issues.add(path, `must be a non-empty string, got ${show(v)}`);
      return undefined;
    }
    if (allowed && !allowed.includes(v)) {
      issues.add(path, `must be ${what} ${allowed.join(', ')}, got ${show(v)}`);
      return undefined;
    }
    return v;
  };
}
