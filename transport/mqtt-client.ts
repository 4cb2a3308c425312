/**
 * The MQTT.js client the transport (mqtt-transport.ts) is built on: plain TCP read through
 * `connectPacketSocket`, TLS and WebSocket through MQTT.js's own streams, and QoS 1 publishes
 * stored for resending without a copy of their payload. Uses the MQTT.js internal
 * `_storeAndSend`, pinned by the mqtt version range.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { connectPacketSocket } from './packet-socket.ts';

/**
 * The MQTT.js client for `url`. Plain TCP (`mqtt:`, `tcp:`) runs over `connectPacketSocket`,
 * which reads large messages into one buffer; TLS and WebSocket use MQTT.js's own streams.
 */
export function connectClient(url: string, opts: IClientOptions): MqttClient {
  const parsed = new URL(url);
  let client: MqttClient;
  if ((parsed.protocol === 'mqtt:' || parsed.protocol === 'tcp:') && parsed.username === '' && parsed.search === '') {
    const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = parsed.port === '' ? 1883 : Number(parsed.port);
    client = new mqtt.MqttClient(() => connectPacketSocket(host, port), { ...opts, protocol: 'mqtt', host, port });
  } else {
    client = mqtt.connect(url, opts);
  }
  storePublishesWithoutCopy(client);
  return client;
}

/**
 * MQTT.js deep-copies (rfdc) every QoS 1 PUBLISH it stores for resending, payload included,
 * only so that MQTT 5 topic aliases can be stripped from the stored copy: a second copy of
 * every tensor sent. With protocol 4 there are no aliases, and neither MQTT.js nor the transport
 * changes a payload once published, so the packet is stored as a shallow copy. Replaces the
 * internal `_storeAndSend` (see the module comment on internals); left alone if it is not there.
 */
function storePublishesWithoutCopy(client: MqttClient): void {
  type Packet = { cmd: string };
  type Callback = (err?: Error) => void;
  const internals = client as unknown as {
    _storeAndSend?: (packet: Packet, cb: Callback | undefined, cbStorePut: () => void) => void;
    _writePacket(packet: Packet, cb: Callback | undefined): void;
    outgoingStore: { put(packet: Packet, cb: (err?: Error) => void): unknown };
  };
  if (typeof internals._storeAndSend !== 'function' || client.options.protocolVersion !== 4) return;
  internals._storeAndSend = (packet, cb, cbStorePut) => {
    internals.outgoingStore.put(packet.cmd === 'publish' ? { ...packet } : packet, (err) => {
      if (err) return cb?.(err);
      cbStorePut();
      internals._writePacket(packet, cb);
    });
  };
}
