/**
 * Serves the dashboard: the page, its bundled script and stylesheet, and `/config.json`
 * (where the broker is, and the observer login). `dashboardHandler` is a plain Node
 * request handler: `edgeweave dashboard` gives it an HTTP server of its own, and
 * `edgeweave broker --dashboard` hands it to the broker (`startBroker({ httpHandler })`),
 * which serves it on the WebSocket port.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { pino, type Logger } from 'pino';
import { EdgeweaveError } from '../schemas/errors.ts';
import { dashboardAssets } from './bundle.ts';
import { brokerUrlFor, isWebSocketUrl, type DashboardConfig } from './model/config.ts';
import { dashboardPage } from './page.ts';

export interface DashboardOptions {
  /** `ws://` or `wss://` URL of the broker; absent or null: the broker serving the page (with `httpHandler`). */
  brokerUrl?: string | null;
  /** WebSocket path of the broker serving the page (default `/mqtt`). */
  wsPath?: string;
  /** Observer login for a broker with --auth; it is handed to every browser that loads the page. */
  username?: string;
  password?: string;
  title?: string;
  log?: Logger;
}

export type DashboardHandler = ((req: IncomingMessage, res: ServerResponse) => void) & {
  /** Resolves when the page's script is built (it is built once, on first need); rejects when it cannot be. */
  ready(): Promise<void>;
};

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // Scripts only from here, no inline script; 'unsafe-eval' because protobufjs compiles each message's
  // codec with Function(). MQTT over ws/wss anywhere (the broker may be another host). Inline
  // styles too: the graph and chart libraries set element styles. MQTT.js runs its keepalive timer
  // in a worker made from a blob.
  'content-security-policy': "default-src 'self'; script-src 'self' 'unsafe-eval'; worker-src 'self' blob:; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
} as const;

function checkOptions(options: DashboardOptions): void {
  const url = options.brokerUrl;
  if (url !== undefined && url !== null && !isWebSocketUrl(url)) {
    throw new EdgeweaveError('E_CONFIG', `dashboard broker URL "${url}": a browser speaks MQTT over WebSocket only; give ws://host:9001/mqtt or wss://...`);
  }
  if (options.wsPath !== undefined && !options.wsPath.startsWith('/')) throw new EdgeweaveError('E_CONFIG', `wsPath must start with /, got ${options.wsPath}`);
  if ((options.username === undefined) !== (options.password === undefined)) {
    throw new EdgeweaveError('E_CONFIG', 'the dashboard\'s observer login needs both a user name and a password');
  }
}

export function dashboardHandler(options: DashboardOptions = {}): DashboardHandler {
  checkOptions(options);
  const log = (options.log ?? pino({ level: 'silent' })).child({ component: 'dashboard' });
  const title = options.title ?? 'edgeweave dashboard';
  const page = dashboardPage(title);
  const configFor = (req: IncomingMessage): DashboardConfig => ({
    brokerUrl: brokerUrlFor(options.brokerUrl ?? null, req.headers.host),
    wsPath: options.wsPath ?? '/mqtt',
    username: options.username ?? null,
    password: options.password ?? null,
    title,
  });

  const send = (req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string, cache: string): void => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': cache });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...SECURITY_HEADERS, allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    switch (path) {
      case '/':
      case '/index.html':
        return send(req, res, 200, 'text/html; charset=utf-8', page, 'no-cache');
      case '/config.json':
        return send(req, res, 200, 'application/json', JSON.stringify(configFor(req)), 'no-store');
      case '/app.js':
      case '/app.css':
        dashboardAssets().then(
          (assets) => {
            if (path === '/app.js') send(req, res, 200, 'text/javascript; charset=utf-8', assets.js, 'no-cache');
            else send(req, res, 200, 'text/css; charset=utf-8', assets.css, 'no-cache');
          },
          (err: unknown) => {
            log.error({ err, code: 'E_CONFIG' }, 'dashboard page cannot be built');
            send(req, res, 500, 'text/plain', 'the dashboard could not be built; see the server log\n', 'no-store');
          },
        );
        return;
      case '/favicon.ico':
        res.writeHead(204, { ...SECURITY_HEADERS, 'cache-control': 'max-age=86400' }).end();
        return;
      default:
        return send(req, res, 404, 'text/plain', 'not found\n', 'no-store');
    }
  };
  return Object.assign(handler, {
    ready: async () => {
      const { buildMs } = await dashboardAssets();
      log.debug({ buildMs: Math.round(buildMs) }, 'dashboard built');
    },
  });
}

export interface DashboardServerOptions extends DashboardOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** HTTP port; 0 picks a free one (default 8080). */
  port?: number;
}

export interface DashboardServer {
  /** `http://host:port/` */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** The dashboard on an HTTP server of its own; its script is built before it listens. */
export async function startDashboardServer(options: DashboardServerOptions = {}): Promise<DashboardServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new EdgeweaveError('E_CONFIG', `port must be 0..65535, got ${port}`);
  const handler = dashboardHandler(options);
  await handler.ready();
  const server = createServer(handler);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new EdgeweaveError('E_CONFIG', `cannot listen for the dashboard on ${host}:${port}: ${err.message}`, { cause: err })));
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const bound = address !== null && typeof address === 'object' ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const url = `http://${urlHost}:${bound}/`;
  options.log?.child({ component: 'dashboard' }).info({ url, brokerUrl: options.brokerUrl ?? null }, 'dashboard listening');
  let closing: Promise<void> | undefined;
  return {
    url,
    port: bound,
    close: () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}
