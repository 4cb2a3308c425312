/**
 * Capabilities: a planner signs (origin, job, attempt) with its Ed25519 key; the signature travels in
 * the assignments and stage inputs of that attempt (private topics) and in its result. A
 * receiver checks it against the public keys planners announce in their retained status, so
 * a device that is not part of a job cannot inject a stage input or forge its result.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface PlannerKeys {
  privateKey: KeyObject;
  /** Raw 32-byte public key, as PlannerStatus.public_key carries it. */
  publicKeyRaw: Uint8Array;
}

export function generatePlannerKeys(): PlannerKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ format: 'der', type: 'spki' });
  return { privateKey, publicKeyRaw: new Uint8Array(der.subarray(der.length - 32)) };
}

/** Loads a PEM private key (e.g. kept across planner restarts). */
export function plannerKeysFromPem(pem: string): PlannerKeys {
  const privateKey = createPrivateKey(pem);
  const der = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey, publicKeyRaw: new Uint8Array(der.subarray(der.length - 32)) };
}

/** What is signed: job ids are unique per origin only, so the origin is part of it. */
function message(originId: string, jobId: string, attempt: number): Buffer {
  return Buffer.from(`edgeweave/v1 capability\n${originId}\n${jobId}\n${attempt}`, 'utf8');
}

export function signCapability(keys: PlannerKeys, originId: string, jobId: string, attempt: number): Uint8Array {
  return new Uint8Array(sign(null, message(originId, jobId, attempt), keys.privateKey));
}

/** A raw 32-byte Ed25519 public key as a KeyObject; undefined when it is not one. */
export function publicKeyFromRaw(raw: Uint8Array): KeyObject | undefined {
  if (raw.byteLength !== 32) return undefined;
  try {
    return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, Buffer.from(raw)]), format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

/** True when `capability` is a signature of (origin, job, attempt) by one of `keys`. */
export function verifyCapability(keys: Iterable<KeyObject>, originId: string, jobId: string, attempt: number, capability: Uint8Array): boolean {
  if (capability.byteLength !== 64) return false;
  const msg = message(originId, jobId, attempt);
  for (const key of keys) {
    try {
      if (verify(null, msg, key, capability)) return true;
    } catch {
      // not this key
    }
  }
  return false;
}

/** Capabilities a key ring verified lately, remembered at most this many. */
const VERIFIED_KEPT = 4096;

/**
 * The planner keys a receiver trusts, from the retained PlannerStatus messages it has seen. An
 * attempt's one capability comes with its assignment, each stage input and its result: once it
 * verified, the same bytes for the same attempt are not verified again (until a key changes).
 */
export class PlannerKeyRing {
  private readonly byPlanner = new Map<string, KeyObject>();
  private readonly verified = new Set<string>();

  /** Records a planner's announced key (an empty or malformed key removes nothing and adds nothing). */
  update(plannerId: string, publicKeyRaw: Uint8Array): void {
    const key = publicKeyFromRaw(publicKeyRaw);
    if (!key) return;
    const known = this.byPlanner.get(plannerId);
    if (known?.equals(key)) return;
    this.byPlanner.set(plannerId, key);
    this.verified.clear();
  }

  get size(): number {
    return this.byPlanner.size;
  }

  /** With no planner known yet nothing can be checked: true. Otherwise the signature must verify. */
  accepts(originId: string, jobId: string, attempt: number, capability: Uint8Array): boolean {
    if (this.byPlanner.size === 0) return true;
    const seen = `${originId}\n${jobId}\n${attempt}\n${Buffer.from(capability.buffer, capability.byteOffset, capability.byteLength).toString('base64')}`;
    if (this.verified.has(seen)) return true;
    if (!verifyCapability(this.byPlanner.values(), originId, jobId, attempt, capability)) return false;
    if (this.verified.size >= VERIFIED_KEPT) this.verified.clear();
    this.verified.add(seen);
    return true;
  }
}
