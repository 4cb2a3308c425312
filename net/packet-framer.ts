/**
 * MQTT packet framing for reads, shared by the broker's connections (broker/packet-reads.ts)
 * and the transport's (transport/packet-socket.ts). A Node socket reads 64 KiB at a time and
 * MQTT parsers (mqtt-packet over `bl`) concatenate the chunks of a packet once it is complete:
 * a 4 MiB tensor cost 64 chunk allocations plus a 4 MiB copy, all garbage at once. The framer
 * follows packet boundaries through the reads of one connection: when a packet's fixed header
 * announces more than the read buffer holds, a buffer of exactly the packet's size is
 * allocated and the kernel fills it directly; the parser gets the whole packet as one chunk and
 * slices the payload out of it without copying. Everything else (acks, small messages) is
 * copied out of one reused 64 KiB read buffer.
 */
/** The reused read buffer; a packet larger than this gets its own buffer. */
const READ_BUFFER_BYTES = 64 * 1024;

type ScanState = 'header' | 'length' | 'body';

/**
 * Follows MQTT packet boundaries through the reads of one connection and decides where the
 * next read goes. Pure over its buffers: fed read counts, returns the chunks to pass on.
 */
export class PacketFramer {
  private readonly reused = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  /** A large packet being filled by reads, from its first byte; null between large packets. */
  private packet: Buffer | null = null;
  private filled = 0;
  private state: ScanState = 'header';
  private remaining = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;

  /** `maxPacketBytes`: larger packets never get a buffer of their own (a size guard refuses them). */
  constructor(private readonly maxPacketBytes = Number.POSITIVE_INFINITY) {}

  /** Where the next read should write. */
  nextBuffer(): Buffer {
    return this.packet === null ? this.reused : this.packet.subarray(this.filled);
  }

  /** `nread` bytes were read into the last `nextBuffer()`; returns what to pass on, in order. */
  onRead(nread: number): Buffer[] {
    const packet = this.packet;
    if (packet !== null) {
      this.filled += nread;
      if (this.filled < packet.length) return [];
      this.packet = null;
      this.state = 'header';
      return [packet];
    }
    const data = this.reused;
    const out: Buffer[] = [];
    let packetStart = -1;
    let i = 0;
    while (i < nread) {
      switch (this.state) {
        case 'header':
          packetStart = i;
          this.remaining = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          this.state = 'length';
          i++;
          break;
        case 'length': {
          const byte = data[i]!;
          i++;
          this.remaining += (byte & 0x7f) * this.multiplier;
          this.multiplier *= 128;
          this.lengthBytes++;
          if ((byte & 0x80) !== 0 && this.lengthBytes < 4) break;
          // A malformed length (a fifth length byte) is left to the parser, which rejects the stream.
          this.bodyLeft = this.remaining;
          this.state = this.remaining > 0 ? 'body' : 'header';
          const total = 1 + this.lengthBytes + this.remaining;
          if (packetStart >= 0 && total > READ_BUFFER_BYTES && total <= this.maxPacketBytes && packetStart + total > nread) {
            // A large packet starts here and goes on past this read: the rest is read into its own buffer.
            if (packetStart > 0) out.push(Buffer.from(data.subarray(0, packetStart)));
            const own = Buffer.allocUnsafe(total);
            data.copy(own, 0, packetStart, nread);
            this.packet = own;
            this.filled = nread - packetStart;
            return out;
          }
          break;
        }
        case 'body': {
          const take = Math.min(this.bodyLeft, nread - i);
          i += take;
          this.bodyLeft -= take;
          if (this.bodyLeft === 0) this.state = 'header';
          break;
        }
      }
    }
    if (nread > 0) out.push(Buffer.from(data.subarray(0, nread)));
    return out;
  }
}
