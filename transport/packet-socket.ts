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
 * The stream MQTT.js sees is a `FramedStream` around the socket (net/framed-stream.ts). The
 * broker reads its TCP connections the same way (broker/packet-reads.ts).
 */
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { FramedStream } from '../net/framed-stream.ts';
import { PacketFramer } from '../net/packet-framer.ts';

/** Opens a TCP connection for MQTT.js (the stream its `MqttClient` is built on), read through a `PacketFramer`. */
export function connectPacketSocket(host: string, port: number): Duplex {
  const framer = new PacketFramer();
  const stream = new FramedStream();
  return stream.attach(connect({
    host,
    port,
    onread: {
      buffer: () => framer.nextBuffer(),
      // false pauses the socket until MQTT.js reads again (_read)
      callback: (nread: number) => stream.deliver(framer.onRead(nread)),
    },
  }));
}
