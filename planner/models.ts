/**
 * The models a planner can plan: learned from the cards devices retain on models/{sha256}
 * (no planner flag needed), plus the zoo and any `--models` references given. Resolves a job's
 * model reference to one model (id and content hash) and its task DAG, or a typed error.
 */
import type { Logger } from 'pino';
import type { ModelCard, JobRequest } from '../schemas/generated/edgeweave.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { EdgeweaveError } from '../schemas/errors.ts';
import { FleetModels, type ModelHolder } from '../models/fleet-models.ts';
import { getTaskGraph } from '../models/task-graph.ts';
import { zooModel } from '../models/zoo/catalog.ts';
import type { DeviceRegistry, PlannedModel } from './device-registry.ts';
import { graphFromSpecs, graphOptions } from './request.ts';

export class PlannerModels {
  readonly fleet = new FleetModels();
  private readonly refs: ReadonlySet<string>;

  constructor(private readonly registry: DeviceRegistry, refs: readonly string[], private readonly log: Logger) {
    this.refs = new Set(refs);
  }

  /** A card retained on models/{sha256}; undefined: the retained card was cleared. */
  onCard(sha256: string, card: ModelCard | undefined): void {
    if (!card) {
      this.fleet.dropCard(sha256);
      return;
    }
    const problem = this.fleet.putCard(sha256, card);
    if (problem) this.log.warn({ sha256, problem }, 'model card ignored');
    else this.log.debug({ model: card.model?.name, sha256 }, 'model card learned');
  }

  /** What every known device says it holds. */
  holders(nowMs: number): ModelHolder[] {
    return this.registry.ids().map((id) => {
      const rec = this.registry.get(id)!;
      return { deviceId: id, alive: this.registry.isAlive(rec, nowMs), modelRefs: rec.status.modelRefs, modelProblems: rec.status.modelProblems };
    });
  }

  /**
   * The model a request names and its task DAG. By hash or id among the models devices hold
   * (the origin's own copy decides between models of one id); else a zoo model or a `--models`
   * reference of this planner. Throws E_MODEL_AMBIGUOUS, E_MODEL_NOT_FOUND, or the error a
   * device met loading the model it names.
   */
  async resolve(request: JobRequest, nowMs: number): Promise<{ model: PlannedModel; graph: TaskGraph }> {
    const ref = { name: request.model?.name ?? '', sha256: request.model?.sha256 ?? '' };
    const holders = this.holders(nowMs);
    const found = this.fleet.resolve(ref, holders, request.originDevice);
    if (found) {
      const model = { id: found.id !== '' ? found.id : ref.name, sha256: found.sha256 };
      if (request.tasks.length > 0) return { model, graph: graphFromSpecs(model.id, request) };
      const graph = this.fleet.taskGraph(found.sha256, graphOptions(request)) ?? (await this.fromReference(model.id, request));
      if (!graph) throw new EdgeweaveError('E_MODEL_NOT_FOUND', `model ${model.id} is held, but its card (models/${found.sha256}) has not reached this planner yet`);
      return { model, graph };
    }
    if (ref.sha256 === '' && request.tasks.length > 0) return { model: { id: ref.name, sha256: '' }, graph: graphFromSpecs(ref.name, request) };
    const graph = ref.sha256 === '' ? await this.fromReference(ref.name, request) : undefined;
    if (graph) return { model: { id: graph.modelId, sha256: '' }, graph };
    throw FleetModels.problemFor(ref.name, holders) ?? FleetModels.notHeld(ref, holders);
  }

  /** A zoo model or one of this planner's `--models` references, by name; undefined when neither. */
  private async fromReference(name: string, request: JobRequest): Promise<TaskGraph | undefined> {
    return this.refs.has(name) || zooModel(name) ? getTaskGraph(name, graphOptions(request)) : undefined;
  }
}
