/** The page's MQTT client: MQTT.js over WebSocket, an observer of the public topics only. */
import mqtt from 'mqtt';
import { DASHBOARD_FILTERS, decodeMessage, type DashboardEvent } from '../model/events.ts';
import { sameOriginBrokerUrl, type DashboardConfig } from '../model/config.ts';

export interface BrokerLink {
  url: string;
  close(): void;
}

export function connectBroker(config: DashboardConfig, dispatch: (event: DashboardEvent) => void): BrokerLink {
  const url = config.brokerUrl ?? sameOriginBrokerUrl(window.location, config.wsPath);
  const random = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(16).padStart(2, '0')).join('');
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    clean: true,
    // With --auth a client id must be the user name or start with "<user>.".
    clientId: config.username !== null ? `${config.username}.dashboard-${random}` : `dashboard-${random}`,
    reconnectPeriod: 3000,
    // We subscribe on every 'connect' ourselves.
    resubscribe: false,
    connectTimeout: 15_000,
    ...(config.username !== null ? { username: config.username } : {}),
    ...(config.password !== null ? { password: config.password } : {}),
  });
  const now = (): number => Date.now();
  // Attach before the connection completes, or retained messages are lost.
  client.on('message', (topic, payload) => dispatch(decodeMessage(topic, payload, now())));
  client.on('connect', () => {
    dispatch({ kind: 'connection', state: 'connected', detail: url, atMs: now() });
    // One SUBSCRIBE per filter, so a refusal names its filter.
    const refused: string[] = [];
    let pending = DASHBOARD_FILTERS.length;
    for (const filter of DASHBOARD_FILTERS) {
      client.subscribe(filter, { qos: 1 }, (err) => {
        if (err) refused.push(filter);
        if (--pending === 0) dispatch({ kind: 'subscribed', refused, atMs: now() });
      });
    }
  });
  client.on('reconnect', () => dispatch({ kind: 'connection', state: 'reconnecting', detail: url, atMs: now() }));
  client.on('offline', () => dispatch({ kind: 'connection', state: 'offline', detail: url, atMs: now() }));
  client.on('error', (err: Error & { code?: unknown }) => {
    // CONNACK 4 (bad user name or password) or 5 (not authorised).
    const refused = err.code === 4 || err.code === 5;
    dispatch({ kind: 'connection', state: refused ? 'refused' : 'offline', detail: err.message, atMs: now() });
  });
  return { url, close: () => void client.end(true) };
}
