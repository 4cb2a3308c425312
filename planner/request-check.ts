/**
 * A job request is checked whole before anything is planned, so a bad one is answered at
 * once (REJECTED, with a code) and never costs a plan, a dispatch or a re-plan. Two steps:
 * what the request says of itself, then its inputs against the model's task DAG. Pure
 * functions; docs/PROTOCOL.md ("Rejected requests") lists every case and its code.
 */
import type { JobRequest } from '../schemas/generated/edgeweave.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { isValidId } from '../schemas/topics.ts';
import { describedTensorProblem } from '../schemas/tensor-codec.ts';
import { isEdgeweaveError, type ErrorCode } from '../schemas/errors.ts';
import { inputTaskOf } from './request.ts';

export interface RequestProblem {
  code: ErrorCode;
  message: string;
}

/** Elements one input tensor may hold (the executors' own limit). */
const MAX_INPUT_ELEMENTS = 2 ** 27;

const shapeText = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** What is wrong with the request on its own, or undefined. `topicOrigin` is the {origin} level of the topic it came on. */
export function requestProblem(request: JobRequest, topicOrigin: string): RequestProblem | undefined {
  if (request.originDevice !== topicOrigin) {
    return { code: 'E_TOPIC', message: `origin_device ${JSON.stringify(request.originDevice)} is not the origin of the topic it was submitted on (${topicOrigin})` };
  }
  if (!isValidId(request.jobId)) {
    return { code: 'E_TOPIC', message: `job id ${JSON.stringify(request.jobId.slice(0, 80))} is invalid: use 1-64 characters of A-Z a-z 0-9 . _ -` };
  }
  if (!request.model || (request.model.name === '' && request.model.sha256 === '')) {
    return { code: 'E_MODEL_NOT_FOUND', message: 'the request names no model (model.name and model.sha256 are empty)' };
  }
  for (const id of request.excludeDevices) {
    if (!isValidId(id)) return { code: 'E_TOPIC', message: `exclude_devices names ${JSON.stringify(id.slice(0, 80))}, which is not a device id` };
  }
  return undefined;
}

/**
 * What is wrong with the request's inputs for the model `graph`, or undefined: every input
 * task fed exactly once, each tensor well-formed (bytes agree with shape, dtype and encoding;
 * finite) and of the task's shape with a leading batch dimension.
 */
export function inputsProblem(request: JobRequest, graph: TaskGraph): RequestProblem | undefined {
  const model = graph.modelId;
  const fed = new Set<string>();
  for (const [i, input] of request.inputs.entries()) {
    const task = inputTaskOf(input, graph);
    if (task === '') {
      return { code: 'E_INPUT', message: `input ${i} names no task, and ${model} has ${graph.inputs.length} inputs (${graph.inputs.join(', ')}): set task_id` };
    }
    if (!graph.inputs.includes(task)) {
      return { code: 'E_INPUT', message: `input names ${JSON.stringify(input.taskId)}, not an input of ${model} (${graph.inputs.join(', ')})` };
    }
    if (fed.has(task)) return { code: 'E_INPUT', message: `input task ${task} is given twice` };
    fed.add(task);
    if (input.source === 'sourceDevice') {
      if (!isValidId(input.sourceDevice ?? '')) return { code: 'E_INPUT', message: `input ${task} names source device ${JSON.stringify(input.sourceDevice)}, which is not a device id` };
      continue;
    }
    if (input.source === 'tensor') {
      return {
        code: 'E_INPUT',
        message: `input ${task} carries its data to the planner; job data never passes through a planner: hand it to the origin's device (HeldInputs, over its local socket or on devices/{origin}/hold) and describe it here as "held" (docs/PROTOCOL.md, "Job inputs")`,
      };
    }
    if (input.source !== 'held' || !input.held) {
      return { code: 'E_INPUT', message: `input ${task} is neither held by the origin nor supplied by a source device` };
    }
    try {
      describedTensorProblem(input.held, MAX_INPUT_ELEMENTS);
    } catch (err) {
      if (isEdgeweaveError(err)) return { code: err.code, message: `input ${task}: ${err.message}` };
      throw err;
    }
    const expected = graph.tasks.find((t) => t.id === task)?.outputShape ?? [];
    const shape = input.held.shape;
    const matches = shape.length === expected.length + 1 && shape[0]! >= 1 && expected.every((d, k) => d <= 0 || shape[k + 1] === d);
    if (!matches) {
      return { code: 'E_INPUT', message: `input ${task} has shape ${shapeText(shape)}; ${model} takes [batch, ${expected.join(', ')}]` };
    }
  }
  const missing = graph.inputs.filter((t) => !fed.has(t));
  if (missing.length > 0) {
    const none = request.inputs.length === 0 ? 'the request carries no inputs: ' : '';
    return { code: 'E_INPUT', message: `${none}no data for input task${missing.length > 1 ? 's' : ''} ${missing.join(', ')} of ${model} (describe the data the origin holds, or name a source device, for each)` };
  }
  return undefined;
}
