/**
 * A throwaway self-signed certificate for 127.0.0.1 and localhost, made with the
 * openssl command line (installed on CI and dev machines), for TLS tests.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface SelfSignedCert {
  cert: Buffer;
  key: Buffer;
  certPath: string;
  keyPath: string;
  /** Deletes the files. */
  remove(): Promise<void>;
}

export async function makeSelfSignedCert(): Promise<SelfSignedCert> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeweave-tls-'));
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return {
    cert: await readFile(certPath),
    key: await readFile(keyPath),
    certPath,
    keyPath,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
