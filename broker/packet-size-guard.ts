/**
 * Refuses oversized MQTT packets before they are buffered. mqtt-packet (aedes's parser)
 * has no size limit: it would buffer a 256 MB PUBLISH before anyone could look at it.
 * This scanner follows packet boundaries in the raw byte stream (fixed header byte +
 * remaining-length varint, then skips the body arithmetically, no copies) and reports
 * the first packet whose declared length is over the limit, as soon as its header
 * arrives. Pure: fed chunks, returns verdicts.
 */

/** Largest PUBLISH overhead besides the payload: topic length (2) + topic (<= 65535) + packet id (2). */
export const MAX_PUBLISH_OVERHEAD_BYTES = 2 + 65535 + 2;

export interface OversizedPacket {
  /** MQTT control packet type (3 = PUBLISH). */
  packetType: number;
  remainingBytes: number;
}

/** `off`: a malformed length was seen; scanning stops and the real parser rejects the stream. */
type State = 'header' | 'length' | 'body' | 'off';

export class PacketSizeScanner {
  private state: State = 'header';
  private packetType = 0;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;

  /** `maxRemainingBytes`: the largest remaining length (everything after the fixed header) allowed. */
  constructor(private readonly maxRemainingBytes: number) {}

  /** Feeds the next chunk of the stream; returns the first oversized packet seen, else null. */
  scan(chunk: Uint8Array): OversizedPacket | null {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.state) {
        case 'header':
          this.packetType = chunk[i]! >> 4;
          this.length = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          this.state = 'length';
          i++;
          break;
        case 'length': {
          const byte = chunk[i]!;
          i++;
          this.length += (byte & 0x7f) * this.multiplier;
          this.multiplier *= 128;
          this.lengthBytes++;
          if ((byte & 0x80) !== 0) {
            if (this.lengthBytes >= 4) this.state = 'off';
            break;
          }
          if (this.length > this.maxRemainingBytes) return { packetType: this.packetType, remainingBytes: this.length };
          this.bodyLeft = this.length;
          this.state = this.length > 0 ? 'body' : 'header';
          break;
        }
        case 'body': {
          const take = Math.min(this.bodyLeft, n - i);
          i += take;
          this.bodyLeft -= take;
          if (this.bodyLeft === 0) this.state = 'header';
          break;
        }
        case 'off':
          return null;
      }
    }
    return null;
  }
}

/** The remaining-length limit that lets through every PUBLISH whose payload is within `maxPayloadBytes`. */
export function maxRemainingBytesFor(maxPayloadBytes: number): number {
  return maxPayloadBytes + MAX_PUBLISH_OVERHEAD_BYTES;
}
