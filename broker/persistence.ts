/**
 * Where the broker keeps sessions, retained messages and wills. Today only in memory
 * (aedes's default). A later `--persist redis://...` adds `{ kind: 'redis', url }`
 * here (aedes-persistence-redis@^11.2.1 fits aedes 1.2's peer range; 12 does not) and
 * nothing else in broker/ changes. Note that `$share` groups and their backlogs live in
 * this process whatever the persistence (see shared-subscriptions.ts).
 */
export type PersistenceSpec = { kind: 'memory' };

/** The aedes `persistence` option for a spec; undefined means aedes's own in-memory store. */
export async function createPersistence(spec: PersistenceSpec): Promise<unknown> {
  switch (spec.kind) {
    case 'memory':
      return undefined;
  }
}
