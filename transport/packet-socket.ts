/**
 * The TCP connection MQTT.js reads from, with large PUBLISH packets read straight into one
 * buffer. By default a socket hands out 64 KiB chunks and MQTT.js's parser (mqtt-packet over
 * `bl`) concatenates them once the packet is complete: a 4 MiB tensor costs 64 chunk
 * allocations plus a 4 MiB copy, all garbage at once (which is what made V8 run a full
 * mark-compact every other hop). Here the socket reads with `onread` into our buffers: when
 * a packet's fixed header announces more than one read buffer holds, a buffer of exactly the
 * packet's size is allocated and the kernel fills it directly; the parser then gets the
 * whole packet as one chunk and slices the payload out of it without copying. Everything
 * else (acks, small messages) is copied out of one reused 64 KiB read buffer.
 *
 * The stream MQTT.js sees is a Duplex around the socket: reads come from the framer below,
 * writes go to the socket as they are (no copy), close and errors are passed on. The broker
 * reads its TCP connections the same way (broker/packet-reads.ts), with the same framer
 * (net/packet-framer.ts).
 */
import { connect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { PacketFramer } from '../net/packet-framer.ts';

/** The Duplex MQTT.js gets: reads through a `PacketFramer`, writes straight to the socket. */
class PacketSocket extends Duplex {
  private readonly socket: Socket;

  constructor(host: string, port: number) {
    super({ allowHalfOpen: false });
    const framer = new PacketFramer();
    this.socket = connect({
      host,
      port,
      onread: {
        buffer: () => framer.nextBuffer(),
        callback: (nread: number) => {
          let more = true;
          for (const chunk of framer.onRead(nread)) more = this.push(chunk);
          return more; // false pauses the socket until MQTT.js reads again (_read)
        },
      },
    });
    this.socket.on('connect', () => this.emit('connect'));
    this.socket.on('end', () => this.push(null));
    this.socket.on('error', (err) => this.destroy(err));
    this.socket.on('close', () => this.destroy());
  }

  setNoDelay(noDelay: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.socket.write(chunk)) done();
    else this.socket.once('drain', () => done());
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, done: (err?: Error | null) => void): void {
    this.socket.cork();
    let flushed = true;
    for (const { chunk } of chunks) flushed = this.socket.write(chunk);
    this.socket.uncork();
    if (flushed) done();
    else this.socket.once('drain', () => done());
  }

  override _final(done: (err?: Error | null) => void): void {
    this.socket.end(() => done());
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.socket.destroy();
    done(err);
  }
}

/** Opens a TCP connection for MQTT.js (the stream its `MqttClient` is built on). */
export function connectPacketSocket(host: string, port: number): Duplex {
  return new PacketSocket(host, port);
}
