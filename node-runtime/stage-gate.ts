/**
 * Which attempts an executor admits: those whose capability a planner signed, and that no newer
 * attempt of their job superseded (nor a cancel ended). A capability is verified once per attempt:
 * later messages of the attempt carrying the same bytes are compared, not verified again, until a
 * planner announces a different key.
 */
import { PlannerKeyRing } from '../schemas/capability.ts';
import { EdgeweaveError } from '../schemas/errors.ts';
import type { StageInput } from '../schemas/generated/edgeweave.ts';
import { AttemptTracker } from './attempts.ts';
import { attemptPrefix, jobKey } from './ledger.ts';

export class AttemptGate {
  private readonly keys = new PlannerKeyRing();
  /** Each planner's key as last announced: a changed key forgets the capabilities verified so far. */
  private readonly announced = new Map<string, Buffer>();
  /** Capabilities verified, by attempt (ledger.ts attemptPrefix); oldest forgotten first. */
  private readonly verified = new Map<string, Buffer>();
  private readonly attempts = new AttemptTracker();

  constructor(private readonly maxVerified = 1024) {}

  /** Records a planner's announced public key (PlannerStatus.public_key). */
  plannerKey(plannerId: string, publicKeyRaw: Uint8Array): void {
    // Planners announce their key with every status: only a new one is parsed into a key object.
    const known = this.announced.get(plannerId);
    if (known?.equals(publicKeyRaw) === true) return;
    this.keys.update(plannerId, publicKeyRaw);
    this.announced.set(plannerId, Buffer.from(publicKeyRaw));
    // A new planner adds a key (what verified still does); a planner with a new key may not.
    if (known !== undefined) this.verified.clear();
  }

  /** Whether `capability` is a planner's signature of the attempt (true for anything while no planner key is known). */
  accepts(origin: string, jobId: string, attempt: number, capability: Uint8Array): boolean {
    const key = attemptPrefix(origin, jobId, attempt);
    const known = this.verified.get(key);
    if (known?.equals(capability) === true) return true;
    if (!this.keys.accepts(origin, jobId, attempt, capability)) return false;
    // With no planner key known yet nothing was verified: nothing to remember.
    if (this.keys.size > 0) {
      // A copy: the capability is a view into its whole message.
      this.verified.set(key, Buffer.from(capability));
      if (this.verified.size > this.maxVerified) this.verified.delete(this.verified.keys().next().value as string);
    }
    return true;
  }

  /** Records the attempt; false when a newer attempt of the job exists or this one was cancelled. */
  observe(origin: string, jobId: string, attempt: number): boolean {
    return this.attempts.observe(jobKey(origin, jobId), attempt);
  }

  /** Whether a newer attempt of the job (ledger.ts jobKey) exists, or this one was cancelled. */
  isSuperseded(job: string, attempt: number): boolean {
    return this.attempts.isSuperseded(job, attempt);
  }

  cancel(origin: string, jobId: string, attempt: number): void {
    this.attempts.cancel(jobKey(origin, jobId), attempt);
    this.verified.delete(attemptPrefix(origin, jobId, attempt));
  }
}

/** Why a stage input whose capability does not verify is refused. */
export function capabilityRefused(input: StageInput): EdgeweaveError {
  return new EdgeweaveError('E_CAPABILITY', `stage input for ${input.jobId}/${input.stageId} from ${JSON.stringify(input.fromDevice)} carries no valid capability for attempt ${input.attempt}`);
}

/** Why a stage input of a superseded (or cancelled) attempt is refused. */
export function attemptSuperseded(input: StageInput): EdgeweaveError {
  return new EdgeweaveError('E_STALE_ATTEMPT', `attempt ${input.attempt} of job ${input.jobId} was superseded`);
}
