/**
 * The broker's auth file: users, their role and a scrypt password hash.
 *
 * ```json
 * { "version": 1,
 *   "users": { "car1": { "role": "device", "password": "scrypt$16384$8$1$<salt>$<hash>" } } }
 * ```
 *
 * The user name is the identity (`{me}` in the ACL), so it follows the topic-tree id
 * rule: 1-64 characters of `[A-Za-z0-9._-]`. Parsing is pure; reading and writing
 * are the two small functions at the end (writes are atomic and mode 0600).
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { EdgeweaveError } from '../schemas/errors.ts';
import { isValidId } from '../schemas/topics.ts';
import { isRole, ROLES, type Role } from './acl-table.ts';
import { parsePasswordHash } from './password.ts';

export interface AuthUser {
  role: Role;
  /** `scrypt$N$r$p$salt$hash`, never a plain password. */
  password: string;
}

export interface AuthFile {
  version: 1;
  users: Readonly<Record<string, AuthUser>>;
}


export function emptyAuthFile(): AuthFile {
  return { version: 1, users: {} };
}

/** User names are topic-tree ids (they stand for `{me}` in topics). */
export function isValidUserName(user: string): boolean {
  return isValidId(user);
}

function invalid(source: string, message: string): EdgeweaveError {
  return new EdgeweaveError('E_CONFIG', `auth file ${source}: ${message}`);
}

/** Validates parsed JSON as an auth file; throws E_CONFIG naming the first problem. */
export function parseAuthFile(json: unknown, source = '(inline)'): AuthFile {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw invalid(source, 'expected a JSON object');
  const { version, users } = json as { version?: unknown; users?: unknown };
  if (version !== 1) throw invalid(source, `unsupported version ${JSON.stringify(version)} (expected 1)`);
  if (typeof users !== 'object' || users === null || Array.isArray(users)) throw invalid(source, '"users" must be an object');
  const parsed: Record<string, AuthUser> = Object.create(null) as Record<string, AuthUser>;
  for (const [name, entry] of Object.entries(users)) {
    if (!isValidUserName(name)) throw invalid(source, `user name "${name}" must be 1-64 characters of [A-Za-z0-9._-]`);
    if (typeof entry !== 'object' || entry === null) throw invalid(source, `user "${name}" must be an object`);
    const { role, password } = entry as { role?: unknown; password?: unknown };
    if (!isRole(role)) throw invalid(source, `user "${name}" has role ${JSON.stringify(role)}; expected one of ${ROLES.join(', ')}`);
    if (typeof password !== 'string') throw invalid(source, `user "${name}" has no password hash`);
    const hash = parsePasswordHash(password);
    if (typeof hash === 'string') throw invalid(source, `user "${name}" has a malformed password hash: ${hash}`);
    parsed[name] = { role, password };
  }
  return { version: 1, users: parsed };
}

/** Returns a copy with the user added or replaced. */
export function withUser(file: AuthFile, user: string, role: Role, passwordHash: string): AuthFile {
  if (!isValidUserName(user)) throw new EdgeweaveError('E_USAGE', `user name "${user}" must be 1-64 characters of [A-Za-z0-9._-]`);
  if (typeof parsePasswordHash(passwordHash) === 'string') throw new EdgeweaveError('E_CONFIG', 'not a scrypt password hash');
  return { version: 1, users: { ...file.users, [user]: { role, password: passwordHash } } };
}

/** Returns a copy without the user, and whether it was there. */
export function withoutUser(file: AuthFile, user: string): { file: AuthFile; removed: boolean } {
  if (!Object.hasOwn(file.users, user)) return { file, removed: false };
  const users = { ...file.users };
  delete users[user];
  return { file: { version: 1, users }, removed: true };
}

export function serializeAuthFile(file: AuthFile): string {
  const users = Object.fromEntries(Object.keys(file.users).sort().map((name) => [name, file.users[name]]));
  return JSON.stringify({ version: 1, users }, null, 2) + '\n';
}

/** Reads and validates an auth file. A missing file is E_CONFIG unless `missingOk`, which yields an empty one. */
export async function readAuthFile(path: string, options: { missingOk?: boolean } = {}): Promise<AuthFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && options.missingOk === true) return emptyAuthFile();
    throw new EdgeweaveError('E_CONFIG', `cannot read auth file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new EdgeweaveError('E_CONFIG', `auth file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseAuthFile(json, path);
}

/** Writes the file atomically (temp file + rename), readable by its owner only. */
export async function writeAuthFile(path: string, file: AuthFile): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, serializeAuthFile(file), { mode: 0o600 });
  await rename(temp, path);
}
