/**
 * Fails when an import crosses the layering of scripts/layering.ts (rendered in
 * docs/ARCHITECTURE.md), imports a package from a place its rule forbids, or forms a cycle
 * between files. Reads every .ts file of the areas' folders (bench/ included).
 * `--root <dir>` checks another tree laid out the same way (the tests use it).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AREAS, LAYERING, isPackagePlace, packageRuleOf, showPath, type Area } from './layering.ts';

const { values } = parseArgs({ options: { root: { type: 'string' } } });
const root = values.root !== undefined ? resolve(values.root) : resolve(dirname(fileURLToPath(import.meta.url)), '..');
if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) {
  process.stderr.write(`import check: --root ${root} is not a directory\n`);
  process.exit(2);
}

/** Path relative to the root, with `/`. */
function relPath(file: string): string {
  return relative(root, file).split('\\').join('/');
}

function areaOf(file: string): Area | undefined {
  const rel = relPath(file);
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
for (const top of new Set(AREAS.map((a) => a.split('/')[0]!))) walk(join(root, top), files);

const problems: string[] = [];
const graph = new Map<string, Set<string>>();
const IMPORT = /^\s*(import|export)\s+(type\s+)?[^'"]*?from\s+['"](\.[^'"]+)['"]|^\s*import\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm;
/** Bare specifiers: `from 'x'`, `import 'x'`, `import('x')`, `require('x')`. */
const PACKAGE_IMPORT = /^\s*(?:import|export)\s+[^'"]*?from\s+['"]([^.'"/][^'"]*)['"]|^\s*import\s+['"]([^.'"/][^'"]*)['"]|\b(?:import|require)\(\s*['"]([^.'"/][^'"]*)['"]\s*\)/gm;
for (const file of files) {
  const from = areaOf(file);
  if (!from) continue;
  const layer = LAYERING[from];
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
    const rel = relPath(target);
    if (!layer.mayImport.includes(to)) {
      problems.push(`${relPath(file)} imports ${rel}: ${from}/ may not depend on ${to}/`);
    } else if (layer.valuesOnlyFrom && !typeOnly && !layer.valuesOnlyFrom.includes(rel)) {
      problems.push(`${relPath(file)} imports ${rel} as a value: ${from} takes only types from ${to}/ (values only from ${layer.valuesOnlyFrom.join(', ')})`);
    }
  }
  for (const m of text.matchAll(PACKAGE_IMPORT)) {
    const spec = m[1] ?? m[2] ?? m[3];
    if (!spec || spec.startsWith('node:')) continue;
    const rule = packageRuleOf(spec);
    if (rule && !isPackagePlace(rule, relPath(file))) {
      problems.push(`${relPath(file)} imports '${spec}': only ${rule.only.map(({ path }) => showPath(path).replaceAll('`', '')).join(', ')} may import it`);
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
      const cycle = stack.slice(stack.indexOf(d)).concat(d).map((x) => relPath(x));
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
