/**
 * The catalogue of error codes edgeweave can produce. Every code is documented in
 * docs/errors.md; a test keeps the two in step. Codes are stable: add, never rename.
 */
export const ERROR_CODES = {
  // usage and configuration
  E_USAGE: 'A command-line argument or option is missing or malformed.',
  E_CONFIG: 'A configuration value or file is invalid.',
  // wire format
  E_TOPIC: 'A topic does not belong to the edgeweave/v1 tree or has a malformed level.',
  E_DECODE: 'A message payload could not be decoded as the expected protobuf message.',
  E_TENSOR: 'A tensor message is inconsistent (shape, dtype, encoding or byte length disagree).',
  // broker
  E_AUTH: 'A client failed authentication (unknown user or wrong password).',
  E_ACL: 'A client tried to publish or subscribe outside what its role allows.',
  E_PAYLOAD_TOO_LARGE: 'A published payload exceeds the broker\'s --max-payload.',
  E_BROKER: 'The broker could not start or failed while serving.',
  E_UNSUPPORTED: 'A client asked the broker for something it does not offer, such as QoS 2 on a $share subscription.',
  // models
  E_MODEL_NOT_FOUND: 'The model is not in the zoo, not a readable model.json path, and no online device holds a model of that id or hash.',
  E_MODEL_LOAD: 'A model.json or its weight shards could not be read or parsed.',
  E_MODEL_AMBIGUOUS: 'A model id names several different models (different content hashes); name one by its hash or path.',
  E_UNSUPPORTED_LAYER: 'A model contains a layer class edgeweave cannot place or slice.',
  E_STAGE: 'A stage (a set of tasks) is not a valid slice of the model graph.',
  E_ENGINE: 'The requested inference engine could not be loaded.',
  E_INPUT: 'An input (image file or tensor) cannot be used as the model\'s input.',
  // planner
  E_INFEASIBLE: 'No placement satisfies the job\'s constraints (memory, pins, deadline or energy budget).',
  E_BAD_DAG: 'A job DAG is malformed: cyclic, dangling references or duplicate tasks.',
  E_UNKNOWN_ALGORITHM: 'The requested planning algorithm does not exist.',
  E_NO_DEVICES: 'No online device can run the job.',
  E_OVERLOADED: 'The devices are too busy for the job to finish by its deadline now (it would on idle devices); it was refused at once rather than queued.',
  // runtime and jobs
  E_CAPABILITY: 'A stage input carried a missing or invalid capability for its job attempt.',
  E_STALE_ATTEMPT: 'A message belongs to an attempt of a job that has been superseded.',
  E_TIMEOUT: 'A job did not complete before its deadline.',
  E_EXECUTION: 'A stage failed while running.',
  E_NO_PROGRESS: 'A job stopped making progress and the planner gave up after its last re-plan.',
  E_JOIN_EXPIRED: 'Not every input of a stage arrived in time; the stage was dropped.',
  E_CANCELLED: 'The job client closed before the result arrived.',
  E_LOCAL: 'A program could not hand job data to its device over the device\'s local socket.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error class of edgeweave: a stable code, a readable message and an optional cause. */
export class EdgeweaveError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EdgeweaveError';
    this.code = code;
  }
}

export function isEdgeweaveError(err: unknown): err is EdgeweaveError {
  return err instanceof EdgeweaveError;
}

/** Makes any thrown value into an EdgeweaveError with the given fallback code. */
export function toEdgeweaveError(err: unknown, fallback: ErrorCode): EdgeweaveError {
  if (err instanceof EdgeweaveError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new EdgeweaveError(fallback, message, { cause: err });
}
