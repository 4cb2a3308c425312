/**
 * Turns the ACL table into per-user checks, once per user at start-up (the `{me}`
 * placeholder substituted), so the message path only matches strings.
 */
import { ACL_TABLE, type Role, type RoleRules } from './acl-table.ts';
import { filterCovers } from './topic-filter.ts';

export interface Acl {
  readonly user: string;
  readonly role: Role;
  /** May this user publish to `topic` (a topic name, no wildcards)? */
  canPublish(topic: string): boolean;
  /** May this user subscribe to `filter` (plain, not `$share/...`)? */
  canSubscribe(filter: string): boolean;
}

const PUBLISH_CACHE_LIMIT = 1024;

/** Expands a role's rules for one user: root prepended, `{me}` replaced. */
export function expandRules(rules: RoleRules, user: string): { publish: string[]; subscribe: string[] } {
  const expand = (filter: string): string =>
    rules.root +
    filter
      .split('/')
      .map((level) => (level === '{me}' ? user : level))
      .join('/');
  return { publish: rules.publish.map(expand), subscribe: rules.subscribe.map(expand) };
}

/**
 * The checks for one user. `user` must be a valid identity (no `/`, `+`, `#`), which the
 * auth file guarantees. Publish verdicts are cached per topic (devices publish to a
 * handful of topics over and over); the cache is bounded and simply reset when full.
 */
export function compileAcl(user: string, role: Role, table: Readonly<Record<Role, RoleRules>> = ACL_TABLE): Acl {
  const { publish, subscribe } = expandRules(table[role], user);
  const publishCache = new Map<string, boolean>();
  return {
    user,
    role,
    canPublish(topic: string): boolean {
      const cached = publishCache.get(topic);
      if (cached !== undefined) return cached;
      const allowed = publish.some((pattern) => filterCovers(pattern, topic));
      if (publishCache.size >= PUBLISH_CACHE_LIMIT) publishCache.clear();
      publishCache.set(topic, allowed);
      return allowed;
    },
    canSubscribe(filter: string): boolean {
      return subscribe.some((pattern) => filterCovers(pattern, filter));
    },
  };
}
