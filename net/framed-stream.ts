/**
 * The stream an MQTT parser reads from when its socket reads through a `PacketFramer`
 * (packet-framer.ts): a Duplex whose reads are the chunks the framer hands on (`deliver`) and
 * whose writes go to the socket as they are (no copy); end, close and errors are passed on.
 * The broker wraps the sockets it accepts in one, the transport the socket it connects.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

export class FramedStream extends Duplex {
  private socket: Socket | undefined;

  constructor() {
    super({ allowHalfOpen: false });
  }

  /** The socket this stream reads and writes (made with `onread` calling `deliver`). */
  attach(socket: Socket): this {
    this.socket = socket;
    socket.on('connect', () => this.emit('connect'));
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
    return this;
  }

  /** Hands on what the framer passed on; false asks the socket to stop reading until `_read`. */
  deliver(chunks: Buffer[]): boolean {
    let more = true;
    for (const chunk of chunks) more = this.push(chunk);
    return more;
  }

  setNoDelay(noDelay: boolean): this {
    this.socket?.setNoDelay(noDelay);
    return this;
  }

  override _read(): void {
    this.socket?.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.socket!.write(chunk)) done();
    else this.socket!.once('drain', () => done());
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (err?: Error | null) => void): void {
    const socket = this.socket!;
    socket.cork();
    let flushed = true;
    for (const { chunk } of chunks) flushed = socket.write(chunk);
    socket.uncork();
    if (flushed) done();
    else socket.once('drain', () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.socket!.end(() => done());
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.socket?.destroy();
    done(err);
  }
}
