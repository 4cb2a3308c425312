/**
 * A throwaway self-signed certificate for 127.0.0.1 and localhost, made with the
 * openssl command line (installed on CI and dev machines), for TLS tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeSelfSignedCert as writeSelfSignedCert, type SelfSignedCert as CertFiles } from '../../cli/tls.ts';

export interface SelfSignedCert extends CertFiles {
  /** Deletes the files. */
  remove(): Promise<void>;
}

export async function makeSelfSignedCert(): Promise<SelfSignedCert> {
  const dir = await mkdtemp(join(tmpdir(), 'edgeweave-tls-'));
  return { ...(await writeSelfSignedCert(dir)), remove: () => rm(dir, { recursive: true, force: true }) };
}
