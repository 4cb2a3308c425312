/**
 * Whole-packet reads for the broker's plain TCP connections. A Node socket reads 64 KiB at a
 * time, and aedes's parser (mqtt-packet over `bl`) concatenates the chunks of a packet once
 * it is complete: a 4 MiB tensor cost 64 reads, 64 chunk allocations and a 4 MiB copy before
 * the broker could forward it. Here the connection reads with `onread` into our buffers:
 * when a packet's fixed header announces more than the read buffer holds (and no more than
 * the broker accepts), a buffer of exactly the packet's size is allocated and the kernel
 * fills it directly, in as few reads as the socket allows; the parser gets the packet as one
 * chunk and takes the payload out of it without copying. Everything else is copied out of
 * one reused 64 KiB read buffer, as before.
 *
 * Node gives `onread` to sockets it connects, not to the ones a server accepts; so the server
 * accepts with `pauseOnConnect` (nothing read yet) and the accepted socket's handle is moved
 * into a socket made with `onread`, as Node's own accept does (`new Socket({ handle })`).
 * `socket._handle` is a Node internal; this file is the only place that touches it.
 * The connection aedes gets is a `FramedStream` (net/framed-stream.ts), as the transport's
 * client side (transport/packet-socket.ts).
 */
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { FramedStream } from '../net/framed-stream.ts';
import { PacketFramer } from '../net/packet-framer.ts';

interface SocketInternals {
  _handle: unknown;
}

/**
 * Takes over a socket a server accepted with `pauseOnConnect` (nothing read yet) and returns
 * the connection to hand to aedes; `null` if the socket has no handle any more (closed).
 */
export function readWholePackets(accepted: Socket, maxPacketBytes: number): Duplex | null {
  const internals = accepted as unknown as SocketInternals;
  const handle = internals._handle;
  if (handle === null || handle === undefined || accepted.destroyed) return null;
  internals._handle = null;
  accepted.destroy(); // releases the server's count of it; the handle lives on below
  const framer = new PacketFramer(maxPacketBytes);
  const connection = new FramedStream();
  const socket = new Socket({
    handle,
    readable: true,
    writable: true,
    noDelay: true,
    onread: {
      buffer: () => framer.nextBuffer(),
      callback: (nread: number) => connection.deliver(framer.onRead(nread)),
    },
  } as ConstructorParameters<typeof Socket>[0]);
  return connection.attach(socket);
}
