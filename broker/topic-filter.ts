/**
 * MQTT topic-filter algebra, pure: matching, containment (for the ACL) and the
 * `$share/{group}/{filter}` form. Levels split on `/`; `+` is one level, `#` the rest
 * (including its parent level: `a/#` matches `a`); a filter whose first level is a
 * wildcard never matches a topic that starts with `$` [MQTT-4.7.2-1].
 */

import { parseSharedFilter } from '../schemas/topics.ts';

const SHARE_PREFIX = '$share/';

/** A parsed `$share/{group}/{filter}` subscription. */
export interface SharedFilter {
  group: string;
  filter: string;
}

/**
 * True when every topic that `filter` can match is also matched by `pattern`.
 * With a plain topic as `filter` (no wildcards) this is "topic matches pattern".
 * Both must be syntactically valid filters (aedes validates before our hooks run).
 */
export function filterCovers(pattern: string, filter: string): boolean {
  const p = pattern.split('/');
  const f = filter.split('/');
  for (let i = 0; ; i++) {
    const pl = p[i];
    const fl = f[i];
    if (pl === '#') {
      // `#` covers the rest, but a leading `#` never covers `$` topics
      return !(i === 0 && fl !== undefined && fl.startsWith('$'));
    }
    if (fl === undefined) return pl === undefined;
    if (pl === undefined || fl === '#') return false;
    if (pl === '+') {
      if (i === 0 && fl.startsWith('$')) return false;
      continue;
    }
    if (fl !== pl) return false; // a literal pattern level covers only the same literal (not `+`)
  }
}

/** True for a syntactically valid MQTT topic filter (wildcards allowed). */
export function isValidFilter(filter: string): boolean {
  if (filter.length === 0 || filter.includes('\u0000')) return false;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level === '#') {
      if (i !== levels.length - 1) return false;
    } else if (level !== '+' && (level.includes('#') || level.includes('+'))) {
      return false;
    }
  }
  return true;
}

/** True for a syntactically valid topic name to publish to (no wildcards). */
export function isValidTopicName(topic: string): boolean {
  return topic.length > 0 && !topic.includes('+') && !topic.includes('#') && !topic.includes('\u0000');
}

/** True when the subscription string uses the `$share/` form (valid or not). */
export function isSharedSubscription(topic: string): boolean {
  return topic.startsWith(SHARE_PREFIX);
}

/**
 * Splits `$share/{group}/{filter}` (with the topic module's parser) and validates the
 * filter. Returns null when the string is not a well-formed shared subscription.
 */
export function parseSharedSubscription(topic: string): SharedFilter | null {
  const parsed = parseSharedFilter(topic);
  return parsed !== undefined && isValidFilter(parsed.filter) ? parsed : null;
}
