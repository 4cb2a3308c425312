/**
 * The embedded broker secured (`demo --tls`): a self-signed certificate and an auth file with
 * one user per process — the planner, each device, an observer for the watcher and the
 * dashboard — with random passwords that live only in this process and its children's
 * environment. Everything goes to `<dataDir>/tls/`; the auth file holds scrypt hashes only.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { emptyAuthFile, hashPassword, isValidUserName, withUser, writeAuthFile, type AuthFile, type Role } from '../../broker/index.ts';
import { makeSelfSignedCert } from '../tls.ts';
import { EdgeweaveError } from '../../schemas/errors.ts';

/** The user the watcher and the dashboard page log in as (role observer). */
export const OBSERVER_USER = 'demo-observer';

export interface SecureBroker {
  certPath: string;
  keyPath: string;
  authPath: string;
  /** The certificate, for clients to trust. */
  ca: string;
  /** The password of a user in the auth file (a process logs in as its own id). */
  passwordOf(user: string): string;
}

export async function secureBroker(dataDir: string, users: { planner: string; devices: readonly string[] }): Promise<SecureBroker> {
  const dir = join(dataDir, 'tls');
  const cert = await makeSelfSignedCert(dir, { days: 365, reuse: true });
  const roles = new Map<string, Role>([[users.planner, 'planner'], ...users.devices.map((d): [string, Role] => [d, 'device']), [OBSERVER_USER, 'observer']]);
  const passwords = new Map<string, string>();
  let file: AuthFile = emptyAuthFile();
  for (const [user, role] of roles) {
    if (!isValidUserName(user)) throw new EdgeweaveError('E_CONFIG', `"${user}" cannot be a user name: use 1-64 characters of A-Z a-z 0-9 . _ -`);
    const password = randomBytes(24).toString('base64url');
    passwords.set(user, password);
    file = withUser(file, user, role, await hashPassword(password));
  }
  const authPath = join(dir, 'auth.json');
  await writeAuthFile(authPath, file);
  return {
    certPath: cert.certPath, keyPath: cert.keyPath, authPath, ca: cert.cert.toString('utf8'),
    passwordOf(user) {
      const password = passwords.get(user);
      if (password === undefined) throw new EdgeweaveError('E_CONFIG', `no login for "${user}" in ${authPath}: the secured demo knows ${[...passwords.keys()].join(', ')}`);
      return password;
    },
  };
}
