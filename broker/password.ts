/**
 * Password hashes for the auth file: scrypt from node:crypto, stored as
 * `scrypt$N$r$p$salt$hash` (salt and hash in base64). Parameters are read from each
 * hash, so they can be raised later without invalidating existing users; they are
 * bounded on read so a crafted file cannot make the broker allocate gigabytes.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { EdgeweaveError } from '../schemas/errors.ts';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
}

/** ~16 MiB and ~50 ms per hash on a laptop core: slow enough for stored secrets. */
export const DEFAULT_SCRYPT_PARAMS: Readonly<ScryptParams> = Object.freeze({ N: 16384, r: 8, p: 1 });

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const LIMITS = { minLogN: 10, maxLogN: 20, maxR: 32, maxP: 16 };

interface ParsedHash extends ScryptParams {
  salt: Buffer;
  hash: Buffer;
}

function scryptAsync(password: string, salt: Buffer, params: ScryptParams, keyBytes: number): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyBytes, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function checkParams(params: ScryptParams): string | null {
  const { N, r, p } = params;
  const logN = Math.log2(N);
  if (!Number.isInteger(logN) || logN < LIMITS.minLogN || logN > LIMITS.maxLogN) {
    return `N must be a power of two between 2^${LIMITS.minLogN} and 2^${LIMITS.maxLogN}`;
  }
  if (!Number.isInteger(r) || r < 1 || r > LIMITS.maxR) return `r must be 1..${LIMITS.maxR}`;
  if (!Number.isInteger(p) || p < 1 || p > LIMITS.maxP) return `p must be 1..${LIMITS.maxP}`;
  return null;
}

/** Parses `scrypt$N$r$p$salt$hash`; returns a reason string when malformed. */
export function parsePasswordHash(encoded: string): ParsedHash | string {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return 'expected scrypt$N$r$p$salt$hash';
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string];
  const params = { N: Number(n), r: Number(r), p: Number(p) };
  const problem = checkParams(params);
  if (problem) return problem;
  const saltBytes = Buffer.from(salt, 'base64');
  const hashBytes = Buffer.from(hash, 'base64');
  if (saltBytes.length < 8) return 'salt must be at least 8 bytes';
  if (hashBytes.length < 16 || hashBytes.length > 64) return 'hash must be 16 to 64 bytes';
  return { ...params, salt: saltBytes, hash: hashBytes };
}

/** Hashes a password for the auth file. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<string> {
  const problem = checkParams(params);
  if (problem) throw new EdgeweaveError('E_CONFIG', `scrypt parameters: ${problem}`);
  const salt = randomBytes(SALT_BYTES);
  const hash = await scryptAsync(password, salt, params, HASH_BYTES);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** Checks a password against a stored hash in constant time; false for a malformed hash. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parsePasswordHash(encoded);
  if (typeof parsed === 'string') return false;
  const key = await scryptAsync(password, parsed.salt, parsed, parsed.hash.length);
  return timingSafeEqual(key, parsed.hash);
}
