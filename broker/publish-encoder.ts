/**
 * Encodes the head of an MQTT 3.1.1 PUBLISH packet (fixed header, topic, packet id);
 * the payload follows as its own buffer so large tensors are never copied. Used by the
 * `$share` dispatcher, which writes its deliveries itself (own packet ids, no aedes
 * persistence in the way).
 */

/** Bytes of the MQTT "remaining length" varint for `n`. */
function varintBytes(n: number): number {
  return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

/** Largest remaining length MQTT can express. */
export const MAX_REMAINING_LENGTH = 268_435_455;

/**
 * The bytes before the payload of a PUBLISH with retain clear. `messageId` is required
 * (1..65535) for QoS 1 and ignored for QoS 0; `dup` is only ever set at QoS 1.
 */
export function encodePublishHead(topic: string, payloadBytes: number, qos: 0 | 1, messageId: number, dup = false): Buffer {
  const topicBytes = Buffer.byteLength(topic, 'utf8');
  const remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + payloadBytes;
  if (remaining > MAX_REMAINING_LENGTH) throw new RangeError(`PUBLISH of ${remaining} bytes exceeds the MQTT maximum`);
  const head = Buffer.allocUnsafe(1 + varintBytes(remaining) + remaining - payloadBytes);
  let pos = 0;
  head[pos++] = 0x30 | (qos << 1) | (dup && qos > 0 ? 0x08 : 0);
  let left = remaining;
  do {
    let byte = left % 128;
    left = Math.floor(left / 128);
    if (left > 0) byte |= 0x80;
    head[pos++] = byte;
  } while (left > 0);
  head.writeUInt16BE(topicBytes, pos);
  pos += 2;
  pos += head.write(topic, pos, 'utf8');
  if (qos > 0) head.writeUInt16BE(messageId, pos);
  return head;
}
