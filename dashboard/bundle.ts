/**
 * Builds the page's script in memory with esbuild, from the installed packages (MQTT.js's
 * browser build, protobufjs through schemas/, cytoscape + dagre, Chart.js): nothing is
 * fetched from a CDN, so the dashboard works offline. Built once per process.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { EdgeweaveError } from '../schemas/errors.ts';

export interface DashboardAssets {
  js: string;
  css: string;
  /** How long the build took. */
  buildMs: number;
}

/** The page's sources: beside this file when run from source, in the package's dashboard/ when run from dist/. */
function appDir(): URL {
  const candidates = [new URL('./app/', import.meta.url), new URL('../../dashboard/app/', import.meta.url)];
  return candidates.find((dir) => existsSync(new URL('main.ts', dir))) ?? candidates[0]!;
}

let cached: Promise<DashboardAssets> | undefined;

async function build(): Promise<DashboardAssets> {
  const started = performance.now();
  const esbuild = await import('esbuild');
  const APP_DIR = appDir();
  const [result, css] = await Promise.all([
    esbuild.build({
      entryPoints: [fileURLToPath(new URL('main.ts', APP_DIR))],
      absWorkingDir: fileURLToPath(new URL('../../', APP_DIR)),
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'browser',
      target: ['es2020'],
      minify: true,
      legalComments: 'none',
      logLevel: 'silent',
      define: { 'process.env.NODE_ENV': '"production"' },
    }),
    readFile(new URL('style.css', APP_DIR), 'utf8'),
  ]);
  const js = result.outputFiles[0]?.text;
  if (js === undefined) throw new Error('esbuild produced no output');
  return { js, css, buildMs: performance.now() - started };
}

/** The page's script and stylesheet; the first call builds them, later calls share that build. */
export function dashboardAssets(): Promise<DashboardAssets> {
  cached ??= build().catch((err: unknown) => {
    cached = undefined;
    const reason = err instanceof Error ? err.message : String(err);
    throw new EdgeweaveError('E_CONFIG', `cannot build the dashboard page (is \`npm install\` complete?): ${reason}`, { cause: err });
  });
  return cached;
}
