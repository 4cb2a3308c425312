/**
 * What a user means by a model argument (`--model`): a zoo name, a model.json path (or a folder
 * holding one) on this host, or the id or hash of a model the fleet holds, learned from the
 * retained cards on models/{sha256} and the devices' statuses. Gives the reference a job
 * carries and the task DAG its inputs are built from.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { DeviceState, type DeviceStatus, type ModelRefInit } from '../schemas/generated/edgeweave.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { EdgeweaveError } from '../schemas/errors.ts';
import { filters } from '../schemas/topics.ts';
import { Transport, brokerConnectionOf, type BrokerConnection, type Refused } from '../transport/mqtt-transport.ts';
import { FleetModels, type ModelHolder } from '../models/fleet-models.ts';
import { getTaskGraph } from '../models/task-graph.ts';
import { findModelJson, readModelArtifacts } from '../models/io/file-handler.ts';
import { hashModel } from '../models/io/hash.ts';
import { normalizeTopology } from '../models/graph/topology.ts';
import { buildTaskGraph, type GraphOptions } from '../models/graph/build.ts';
import { modelIdFor, notFound } from '../models/task-graph.ts';
import { zooModel } from '../models/zoo/catalog.ts';
import { isPreprocessing, preprocessingOf, type Preprocessing } from '../models/preprocessing.ts';

export interface ModelArgument {
  /** The reference a JobRequest carries. */
  ref: ModelRefInit;
  graph: TaskGraph;
  /** Where this host has the model (zoo name or model.json), if it has it. */
  localPath: string | undefined;
  /** How image pixels become each image input (by input task id). */
  preprocessing: Map<string, Preprocessing>;
}

/** The fleet's models as retained messages tell them. */
export interface FleetView {
  fleet: FleetModels;
  holders: ModelHolder[];
}

/** After the subscriptions, retained messages come at once; this long without one ends the read. */
const QUIET_MS = 300;
const MAX_WAIT_MS = 3000;

/**
 * Reads the retained model cards and device statuses from the broker (one short connection).
 * Retained messages have no end marker: the read ends QUIET_MS after the last one.
 */
export async function discoverFleet(connection: BrokerConnection, log?: Logger): Promise<FleetView> {
  const fleet = new FleetModels();
  const statuses = new Map<string, DeviceStatus>();
  const transport = await Transport.connect({
    ...brokerConnectionOf(connection), clientId: `edgeweave-discover-${randomUUID().slice(0, 8)}`, clean: true, ...(log ? { log } : {}),
  });
  let last = Date.now();
  try {
    const ignored = (what: string) => (r: Refused): void => {
      last = Date.now();
      log?.warn({ topic: r.rawTopic }, `${what} ignored: ${r.error.message}`);
      r.ack();
    };
    await transport.on('modelCard', filters.allModelCards(), ({ message, topic, bytes }) => {
      last = Date.now();
      if (bytes === 0) return;
      const problem = fleet.putCard(topic.sha256, message);
      if (problem) log?.warn({ problem }, 'model card ignored');
    }, { onRefused: ignored('model card') });
    await transport.on('deviceStatus', filters.allDeviceStatus(), ({ message }) => {
      last = Date.now();
      statuses.set(message.deviceId, message);
    }, { onRefused: ignored('device status') });
    const started = Date.now();
    last = Math.max(last, started);
    while (Date.now() - last < QUIET_MS && Date.now() - started < MAX_WAIT_MS) await new Promise((r) => setTimeout(r, 50));
  } finally {
    await transport.close();
  }
  const holders = [...statuses.values()].map((s) => ({
    deviceId: s.deviceId, alive: s.state === DeviceState.DEVICE_STATE_ONLINE, modelRefs: s.modelRefs, modelProblems: s.modelProblems,
  }));
  return { fleet, holders };
}

/** A model.json on this host: its reference (id and content hash) and DAG. */
async function fromFile(file: string, options: GraphOptions): Promise<ModelArgument> {
  const { json, artifacts } = await readModelArtifacts(file);
  const layerGraph = normalizeTopology(json.modelTopology);
  const id = modelIdFor(layerGraph, file);
  const graph = buildTaskGraph(layerGraph, id, options);
  const { mode } = preprocessingOf(json.userDefinedMetadata, file);
  return {
    ref: { name: id, sha256: hashModel(json.modelTopology, artifacts.weightSpecs ?? [], artifacts.weightData) }, graph, localPath: file,
    preprocessing: new Map(graph.inputs.map((t) => [t, mode])),
  };
}

/**
 * Resolves a model argument. A zoo name or a path here is read locally; anything else is looked
 * up in the fleet (`discover` is called only then): an id, a hash or a hash prefix. Throws
 * E_MODEL_AMBIGUOUS with the candidates when an id names several models (the one `origin`
 * holds is meant when that decides), E_MODEL_NOT_FOUND with what the fleet holds, or the
 * error a device met loading the model of that name.
 */
export async function resolveModelArgument(
  arg: string, options: GraphOptions & { origin?: string; discover: () => Promise<FleetView> },
): Promise<ModelArgument> {
  const graphOptions: GraphOptions = { ...(options.fused !== undefined ? { fused: options.fused } : {}), ...(options.denseShards ? { denseShards: options.denseShards } : {}) };
  if (zooModel(arg)) return { ref: { name: arg }, graph: await getTaskGraph(arg, graphOptions), localPath: arg, preprocessing: new Map() };
  const file = await findModelJson(arg);
  if (file) return fromFile(file, graphOptions);
  const { fleet, holders } = await options.discover();
  // A name that is a hash prefix of a known model is taken as one; else it is an id.
  const found = fleet.resolve({ name: arg, sha256: '' }, holders, options.origin);
  if (found) {
    const graph = fleet.taskGraph(found.sha256, graphOptions);
    if (!graph) throw new EdgeweaveError('E_MODEL_NOT_FOUND', `the fleet holds ${found.id} (${found.sha256.slice(0, 12)}…) but publishes no card for it`);
    const preprocessing = new Map<string, Preprocessing>();
    for (const input of fleet.card(found.sha256)?.inputs ?? []) if (isPreprocessing(input.preprocessing)) preprocessing.set(input.name, input.preprocessing);
    return { ref: { name: found.id, sha256: found.sha256 }, graph, localPath: undefined, preprocessing };
  }
  const problem = FleetModels.problemFor(arg, holders);
  if (problem) throw problem;
  const fleetError = FleetModels.notHeld({ name: arg, sha256: '' }, holders);
  throw new EdgeweaveError('E_MODEL_NOT_FOUND', `${notFound(arg).message}, and ${fleetError.message}`);
}

/** A zoo name or a model.json path on this host (no fleet lookup). */
export function localModelArgument(arg: string, options: GraphOptions = {}): Promise<ModelArgument> {
  return resolveModelArgument(arg, {
    ...options,
    discover: () => Promise.reject(notFound(arg)),
  });
}
