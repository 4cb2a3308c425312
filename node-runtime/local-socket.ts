/**
 * A device's local socket: a Unix socket on its host where a program on the same host (a job
 * client) hands the device a job's input data and its submission without crossing the network.
 * Frames are a 4-byte big-endian length and a LocalRequest; each is answered by a LocalReply of
 * the same id. The device announces the socket and its host in its status; a client on another
 * host cannot use it and hands data over MQTT instead (devices/{id}/hold).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { readFileSync, rmSync, mkdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { LocalReply, LocalRequest, type LocalRequestInit } from '../schemas/generated/edgeweave.ts';
import { EdgeweaveError, toEdgeweaveError, type ErrorCode } from '../schemas/errors.ts';

/** Largest frame either side accepts. */
export const MAX_LOCAL_FRAME_BYTES = 512 * 2 ** 20;

/** This host's identity: its name and boot id (a socket path means something only on the host that made it). */
export function hostId(): string {
  let boot = '';
  try {
    boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // Not Linux: the host name alone.
  }
  return createHash('sha256').update(`${hostname()}\u0000${boot}`).digest('hex').slice(0, 24);
}

/** Where device `deviceId` of this incarnation listens (short enough for a Unix socket path). */
export function localSocketPath(deviceId: string, incarnation: string): string {
  const dir = join(tmpdir(), `edgeweave-${process.getuid?.() ?? 'u'}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const name = createHash('sha256').update(deviceId).digest('hex').slice(0, 16);
  return join(dir, `${name}-${incarnation}.sock`);
}

/** Splits a byte stream into frames; calls `onFrame` per frame, `onError` once on a frame too large. */
function framer(onFrame: (frame: Buffer) => void, onError: (err: EdgeweaveError) => void): (chunk: Buffer) => void {
  let chunks: Buffer[] = [];
  let buffered = 0;
  let need = -1;
  let failed = false;
  return (chunk) => {
    if (failed) return;
    chunks.push(chunk);
    buffered += chunk.length;
    for (;;) {
      if (need < 0) {
        if (buffered < 4) return;
        const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
        need = all.readUInt32BE(0);
        if (need > MAX_LOCAL_FRAME_BYTES) {
          failed = true;
          onError(new EdgeweaveError('E_DECODE', `local frame of ${need} bytes is over the limit of ${MAX_LOCAL_FRAME_BYTES}`));
          return;
        }
        chunks = [all.subarray(4)];
        buffered -= 4;
      }
      if (buffered < need) return;
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
      const frame = all.subarray(0, need);
      chunks = [all.subarray(need)];
      buffered -= need;
      need = -1;
      onFrame(frame);
    }
  };
}

function frameOf(payload: Uint8Array): Buffer[] {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.byteLength, 0);
  return [head, Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)];
}

/** What the device does with a request: resolves when done, throws (an EdgeweaveError) when refused. */
export type LocalHandler = (request: LocalRequest) => Promise<void>;

export class LocalSocketServer {
  private constructor(private readonly server: Server, private readonly sockets: Set<Socket>, readonly path: string) {}

  static async listen(path: string, handle: LocalHandler, log: Logger): Promise<LocalSocketServer> {
    rmSync(path, { force: true });
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', (err) => log.debug({ err }, 'local socket connection error'));
      const reply = (id: number, err?: unknown): void => {
        const e = err === undefined ? undefined : toEdgeweaveError(err, 'E_LOCAL');
        if (e) log.warn({ code: e.code, message: e.message, id }, 'local request refused');
        if (socket.destroyed) return;
        socket.cork();
        for (const b of frameOf(LocalReply.encode({ id, error: e ? { code: e.code, message: e.message } : null }))) socket.write(b);
        socket.uncork();
      };
      socket.on('data', framer((frame) => {
        let request: LocalRequest;
        try {
          request = LocalRequest.decode(frame);
        } catch (err) {
          reply(0, new EdgeweaveError('E_DECODE', `unreadable local request: ${(err as Error).message}`));
          return;
        }
        handle(request).then(() => reply(request.id), (err: unknown) => reply(request.id, err));
      }, (err) => {
        reply(0, err);
        socket.end();
      }));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return new LocalSocketServer(server, sockets, path);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }
}

/** A client's connection to its device's local socket. */
export class LocalSocketClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: EdgeweaveError) => void }>();
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', framer((frame) => {
      let reply: LocalReply;
      try {
        reply = LocalReply.decode(frame);
      } catch {
        return this.fail(new EdgeweaveError('E_DECODE', 'unreadable reply on the local socket'));
      }
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.error && reply.error.code !== '') p.reject(new EdgeweaveError(reply.error.code as ErrorCode, reply.error.message));
      else p.resolve();
    }, (err) => this.fail(err)));
    socket.on('error', (err) => this.fail(new EdgeweaveError('E_LOCAL', `local socket: ${err.message}`)));
    socket.on('close', () => this.fail(new EdgeweaveError('E_LOCAL', 'the device closed its local socket')));
  }

  static connect(path: string, timeoutMs = 1000): Promise<LocalSocketClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new EdgeweaveError('E_LOCAL', `no answer on ${path} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new LocalSocketClient(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new EdgeweaveError('E_LOCAL', `cannot open ${path}: ${err.message}`));
      });
    });
  }

  get usable(): boolean {
    return !this.closed;
  }

  /** Sends a request; resolves when the device has done it, rejects with its error. */
  request(init: Omit<LocalRequestInit, 'id'>): Promise<void> {
    if (this.closed) return Promise.reject(new EdgeweaveError('E_LOCAL', 'the local socket is closed'));
    const id = this.nextId++;
    const done = new Promise<void>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.socket.cork();
    for (const b of frameOf(LocalRequest.encode({ ...init, id }))) this.socket.write(b);
    this.socket.uncork();
    return done;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private fail(err: EdgeweaveError): void {
    this.closed = true;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.socket.destroy();
  }
}
