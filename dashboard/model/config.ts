/**
 * What the server tells the page (`/config.json`): where the broker is and how to log in.
 * Shared by the server and the page; pure.
 */

export interface DashboardConfig {
  /** `ws://` or `wss://` URL of the broker; null: the broker that serves this page (same host and port, at `wsPath`). */
  brokerUrl: string | null;
  wsPath: string;
  /** Observer credentials for a broker with --auth; null: connect anonymously. */
  username: string | null;
  password: string | null;
  title: string;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

function hostnameOf(hostHeader: string): string {
  // `[::1]:8080`, `example.org:8080`, `example.org`
  if (hostHeader.startsWith('[')) return hostHeader.slice(0, hostHeader.indexOf(']') + 1);
  const colon = hostHeader.lastIndexOf(':');
  return colon >= 0 ? hostHeader.slice(0, colon) : hostHeader;
}

/**
 * The broker URL to hand a page requested with this Host header. A loopback broker URL
 * (the default) means "the broker on this machine": a browser on another machine reaches
 * it under the name it used for the dashboard, so the host name is replaced by that one.
 */
export function brokerUrlFor(configured: string | null, hostHeader: string | undefined): string | null {
  if (configured === null || hostHeader === undefined || hostHeader === '') return configured;
  let url: URL;
  try {
    url = new URL(configured);
  } catch {
    return configured;
  }
  const requested = hostnameOf(hostHeader);
  if (!LOOPBACK.has(url.hostname) || LOOPBACK.has(requested) || requested === '') return configured;
  url.hostname = requested;
  return url.toString();
}

/** The broker that serves the page itself: `ws(s)://<page host><wsPath>`. */
export function sameOriginBrokerUrl(location: { protocol: string; host: string }, wsPath: string): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${wsPath}`;
}

/** True for a URL a browser can open MQTT over: ws:// or wss://. */
export function isWebSocketUrl(url: string): boolean {
  return /^wss?:\/\/[^\s/]+/.test(url);
}
