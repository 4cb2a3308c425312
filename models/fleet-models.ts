/**
 * The models a fleet holds, learned from retained messages alone: the cards on
 * models/{sha256} and the model refs and problems in the devices' statuses. Resolves what a
 * job or a user names (an id, a hash or a hash prefix) to one content hash, and gives that
 * model's task DAG. Used by planners and by clients alike; no tfjs, no I/O.
 */
import type { ModelCard, ModelProblem, ModelRef } from '../schemas/generated/edgeweave.ts';
import type { TaskGraph } from '../schemas/graph.ts';
import { ERROR_CODES, EdgeweaveError, isEdgeweaveError, type ErrorCode } from '../schemas/errors.ts';
import { buildTaskGraph, type GraphOptions } from './graph/build.ts';
import type { LayerGraph } from './graph/topology.ts';
import { canonicalJson } from './io/hash.ts';
import { cardLayerGraph, modelLabel } from './model-card.ts';

/** What a device says about its models (from its status). */
export interface ModelHolder {
  deviceId: string;
  /** Online now. */
  alive: boolean;
  modelRefs: readonly ModelRef[];
  modelProblems: readonly ModelProblem[];
}

/** One model, named by id and content hash. */
export interface ResolvedModel {
  id: string;
  sha256: string;
}

const HASH_PREFIX = /^[0-9a-f]{8,64}$/;

interface CardEntry {
  card: ModelCard;
  layerGraph: LayerGraph;
  graphs: Map<string, TaskGraph>;
}

export class FleetModels {
  private readonly cards = new Map<string, CardEntry>();

  /**
   * Records the card retained on models/{sha256}. Returns what is wrong with it (and keeps
   * nothing) when it does not describe that hash or its topology does not parse.
   */
  putCard(sha256: string, card: ModelCard): string | undefined {
    if (card.model?.sha256 !== sha256) return `the card on models/${sha256.slice(0, 12)}… describes ${modelLabel(card.model)}`;
    const known = this.cards.get(sha256);
    // Every holder publishes the same card (again at each reconnect): parse a topology once.
    if (known && known.card.topologyJson === card.topologyJson && known.card.topologySha256 === card.topologySha256) {
      known.card = card;
      return undefined;
    }
    try {
      this.cards.set(sha256, { card, layerGraph: cardLayerGraph(card), graphs: new Map() });
      return undefined;
    } catch (err) {
      return isEdgeweaveError(err) ? err.message : String(err);
    }
  }

  /** A retained card was cleared. */
  dropCard(sha256: string): void {
    this.cards.delete(sha256);
  }

  card(sha256: string): ModelCard | undefined {
    return this.cards.get(sha256)?.card;
  }

  /** Every card known, in id order. */
  allCards(): ModelCard[] {
    return [...this.cards.values()].map((e) => e.card).sort((a, b) => (a.model!.name < b.model!.name ? -1 : a.model!.name > b.model!.name ? 1 : 0));
  }

  /** The task DAG of a model whose card is known (memoised per options). */
  taskGraph(sha256: string, options: GraphOptions = {}): TaskGraph | undefined {
    const entry = this.cards.get(sha256);
    if (!entry) return undefined;
    const key = canonicalJson(options);
    let graph = entry.graphs.get(key);
    if (!graph) entry.graphs.set(key, (graph = buildTaskGraph(entry.layerGraph, entry.card.model!.name, options)));
    return graph;
  }

  /**
   * The one model `ref` names, among the cards and what live holders hold: by hash (or a
   * unique prefix of at least 8 hex digits) when given, else by id. When an id names several
   * models, the one the origin holds is meant; if that does not decide, E_MODEL_AMBIGUOUS
   * lists the candidates. Undefined when nothing in the fleet matches.
   */
  resolve(ref: Pick<ModelRef, 'name' | 'sha256'>, holders: readonly ModelHolder[], origin?: string): ResolvedModel | undefined {
    const known = this.known(holders);
    const hash = ref.sha256.toLowerCase();
    if (hash !== '') {
      if (!HASH_PREFIX.test(hash)) throw new EdgeweaveError('E_MODEL_NOT_FOUND', `model hash "${ref.sha256}" is not a sha256 or a prefix of one (8-64 hex digits)`);
      return this.pick([...known.keys()].filter((h) => h.startsWith(hash)), known, holders, origin, `hash ${hash}`);
    }
    const name = ref.name;
    if (HASH_PREFIX.test(name)) {
      const byHash = [...known.keys()].filter((h) => h.startsWith(name));
      if (byHash.length > 0) return this.pick(byHash, known, holders, origin, `hash ${name}`);
    }
    return this.pick([...known.keys()].filter((h) => known.get(h) === name), known, holders, origin, `id "${name}"`);
  }

  /** Every (hash -> id) the fleet knows: cards, and refs in statuses whose card has not come yet. */
  private known(holders: readonly ModelHolder[]): Map<string, string> {
    const known = new Map<string, string>();
    for (const [hash, e] of this.cards) known.set(hash, e.card.model!.name);
    for (const h of holders) for (const r of h.modelRefs) if (r.sha256 !== '' && !known.has(r.sha256)) known.set(r.sha256, r.name);
    return known;
  }

  private pick(candidates: string[], known: Map<string, string>, holders: readonly ModelHolder[], origin: string | undefined, what: string): ResolvedModel | undefined {
    const heldBy = (hash: string, liveOnly: boolean): string[] =>
      holders.filter((h) => (!liveOnly || h.alive) && h.modelRefs.some((r) => r.sha256 === hash)).map((h) => h.deviceId).sort();
    // Cards nobody online holds are history: they count only when no candidate is held.
    const live = candidates.filter((h) => heldBy(h, true).length > 0);
    const pool = live.length > 0 ? live : candidates;
    const one = (hash: string): ResolvedModel => ({ id: known.get(hash) ?? '', sha256: hash });
    if (pool.length === 0) return undefined;
    if (pool.length === 1) return one(pool[0]!);
    const atOrigin = origin === undefined ? [] : pool.filter((h) => heldBy(h, false).includes(origin));
    if (atOrigin.length === 1) return one(atOrigin[0]!);
    const list = pool.sort().map((h) => {
      const by = heldBy(h, true);
      return `${modelLabel({ name: known.get(h) ?? '', sha256: h })} (${by.length > 0 ? `held by ${by.join(', ')}` : 'held by no online device'})`;
    });
    throw new EdgeweaveError('E_MODEL_AMBIGUOUS', `${what} names ${pool.length} different models: ${list.join('; ')}. Name one by its hash (or a prefix of 8 or more hex digits) or by the path of its model.json`);
  }

  /**
   * Why a name nobody holds may have been meant: a device was given a model by that name or
   * path and could not load it. The error to answer a job with, else undefined.
   */
  static problemFor(name: string, holders: readonly ModelHolder[]): EdgeweaveError | undefined {
    const base = (ref: string): string[] => {
      const parts = ref.split(/[\\/]/).filter((p) => p !== '');
      const last = parts.at(-1) ?? '';
      return last === 'model.json' ? [ref, parts.at(-2) ?? ''] : [ref, last, last.replace(/\.json$/, '')];
    };
    for (const h of holders) {
      const p = h.modelProblems.find((x) => x.modelId === name || base(x.ref).includes(name));
      if (p) {
        const code = (p.code in ERROR_CODES ? p.code : 'E_MODEL_LOAD') as ErrorCode;
        return new EdgeweaveError(code, `device ${h.deviceId} cannot use model ${JSON.stringify(name)}: ${p.message}`);
      }
    }
    return undefined;
  }

  /** E_MODEL_NOT_FOUND naming what the fleet does hold. */
  static notHeld(ref: Pick<ModelRef, 'name' | 'sha256'>, holders: readonly ModelHolder[]): EdgeweaveError {
    const held = new Map<string, string>();
    for (const h of holders) for (const r of h.modelRefs) if (h.alive) held.set(r.sha256, modelLabel(r));
    const what = ref.sha256 !== '' ? `a model of hash ${ref.sha256}` : `a model "${ref.name}"`;
    const list = [...held.values()].sort();
    return new EdgeweaveError('E_MODEL_NOT_FOUND', `no online device holds ${what} (the fleet holds: ${list.length > 0 ? list.join(', ') : 'nothing'})`);
  }
}
