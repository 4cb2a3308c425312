/**
 * Fails when an import crosses the layering of docs/ARCHITECTURE.md or forms a cycle
 * between the project's folders. Reads every .ts file of the source folders.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const AREAS = ['schemas', 'transport', 'power', 'planner/core', 'planner', 'models', 'broker', 'node-runtime', 'dashboard', 'cli'] as const;
type Area = (typeof AREAS)[number];

/** What each area may import, besides itself. */
const ALLOWED: Record<Area, Area[]> = {
  schemas: [],
  transport: ['schemas'],
  power: [],
  'planner/core': ['schemas', 'power'],
  planner: ['planner/core', 'power', 'schemas', 'models', 'transport'],
  models: ['schemas'],
  broker: ['schemas'],
  'node-runtime': ['schemas', 'models', 'power', 'transport'],
  dashboard: ['schemas'],
  cli: ['schemas', 'transport', 'power', 'planner/core', 'planner', 'models', 'broker', 'node-runtime', 'dashboard'],
};
/** planner/core imports types only from schemas, plus the error class; the power model it uses whole. */
const CORE_VALUE_IMPORTS_ALLOWED = new Set(['schemas/errors.ts', 'power/presets.ts', 'power/energy.ts']);

function areaOf(file: string): Area | undefined {
  const rel = relative(root, file).split('\\').join('/');
  let best: Area | undefined;
  for (const a of AREAS) if (rel === a || rel.startsWith(`${a}/`)) if (!best || a.length > best.length) best = a;
  return best;
}

function walk(dir: string, out: string[]): void {
  let entries: string[];
  try { entries = readdirSync(dir); } catch { return; }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
}

const files: string[] = [];
for (const a of ['schemas', 'transport', 'power', 'planner', 'models', 'broker', 'node-runtime', 'dashboard', 'cli']) walk(join(root, a), files);

const problems: string[] = [];
const graph = new Map<string, Set<string>>();
const IMPORT = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm;
for (const file of files) {
  const from = areaOf(file);
  if (!from) continue;
  const text = readFileSync(file, 'utf8');
  const deps = new Set<string>();
  for (const m of text.matchAll(IMPORT)) {
    const spec = m[3] ?? m[4] ?? m[5];
    if (!spec) continue;
    const typeOnly = m[2] !== undefined;
    const target = resolve(dirname(file), spec);
    const to = areaOf(target);
    deps.add(target);
    if (!to || to === from) continue;
    const rel = relative(root, target).split('\\').join('/');
    if (!ALLOWED[from].includes(to)) {
      problems.push(`${relative(root, file)} imports ${rel}: ${from}/ may not depend on ${to}/`);
    } else if (from === 'planner/core' && !typeOnly && !CORE_VALUE_IMPORTS_ALLOWED.has(rel)) {
      problems.push(`${relative(root, file)} imports ${rel} as a value: planner/core takes only types from schemas/`);
    }
  }
  graph.set(file, deps);
}

// Cycles between files (type-only imports included: they still tie modules together).
const state = new Map<string, 1 | 2>();
const stack: string[] = [];
function visit(f: string): void {
  state.set(f, 1);
  stack.push(f);
  for (const d of graph.get(f) ?? []) {
    if (!graph.has(d)) continue;
    const s = state.get(d);
    if (s === 1) {
      const cycle = stack.slice(stack.indexOf(d)).concat(d).map((x) => relative(root, x));
      problems.push(`import cycle: ${cycle.join(' -> ')}`);
    } else if (s === undefined) visit(d);
  }
  stack.pop();
  state.set(f, 2);
}
for (const f of graph.keys()) if (!state.has(f)) visit(f);

if (problems.length > 0) {
  process.stderr.write(`import check failed:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`import check: ${files.length} files, layering respected, no cycles\n`);
