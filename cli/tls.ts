/**
 * A self-signed certificate for 127.0.0.1 and localhost, made with the openssl command line:
 * what `edgeweave demo --tls` serves, and what the TLS tests use.
 */
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EdgeweaveError } from '../schemas/errors.ts';

export interface SelfSignedCert {
  cert: Buffer;
  key: Buffer;
  certPath: string;
  keyPath: string;
}

export interface SelfSignedCertOptions {
  /** Validity from now (default 1 day). */
  days?: number;
  /**
   * Keep `cert.pem` and `key.pem` already in `dir` when they belong together, cover
   * 127.0.0.1 and stay valid for at least another day (so a browser told to trust the
   * certificate keeps trusting it); otherwise make new ones.
   */
  reuse?: boolean;
}

/** Writes `cert.pem` and `key.pem` (mode 0600) into `dir`, creating it. */
export async function makeSelfSignedCert(dir: string, options: SelfSignedCertOptions = {}): Promise<SelfSignedCert> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  if (options.reuse === true) {
    const existing = await readUsable(certPath, keyPath);
    if (existing) return { ...existing, certPath, keyPath };
  }
  try {
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyPath, '-out', certPath, '-days', String(options.days ?? 1), '-subj', '/CN=localhost',
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ]);
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new EdgeweaveError('E_CONFIG', missing
      ? 'making a self-signed certificate needs the openssl command line, which is not installed'
      : `openssl could not make a self-signed certificate: ${(err as Error).message}`, { cause: err });
  }
  await chmod(keyPath, 0o600);
  return { cert: await readFile(certPath), key: await readFile(keyPath), certPath, keyPath };
}

async function readUsable(certPath: string, keyPath: string): Promise<{ cert: Buffer; key: Buffer } | null> {
  try {
    const [cert, key] = await Promise.all([readFile(certPath), readFile(keyPath)]);
    const x509 = new X509Certificate(cert);
    const usable = x509.checkPrivateKey(createPrivateKey(key)) && x509.checkIP('127.0.0.1') !== undefined
      && Date.parse(x509.validTo) > Date.now() + 86_400_000;
    return usable ? { cert, key } : null;
  } catch {
    return null;
  }
}
