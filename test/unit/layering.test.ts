import { test, after } from 'node:test';
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { layeringBlockOf, renderLayering } from '../../scripts/layering.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const temps: string[] = [];

after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

/** Runs scripts/check-imports.ts, on the repository or on `root`. */
function checkImports(root?: string): { status: number | null; output: string } {
  const args = ['--import', 'tsx', 'scripts/check-imports.ts', ...(root !== undefined ? ['--root', root] : [])];
  const r = spawnSync(process.execPath, args, { cwd: repo, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** A temporary tree holding `files` (path relative to its root -> source). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'edgeweave-layering-'));
  temps.push(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test('layering — docs/ARCHITECTURE.md holds the block rendered from scripts/layering.ts', () => {
  const doc = readFileSync(join(repo, 'docs/ARCHITECTURE.md'), 'utf8');
  const block = layeringBlockOf(doc);
  assert.notEqual(block, undefined, 'docs/ARCHITECTURE.md lost its layering markers');
  assert.equal(block, renderLayering(), 'docs/ARCHITECTURE.md is out of step with scripts/layering.ts: run `npm run layering:doc`');
});

test('layering — check-imports passes on the tree', () => {
  const { status, output } = checkImports();
  assert.equal(status, 0, output);
});

test('layering — check-imports fails on an import against the layering', () => {
  const root = tree({
    'node-runtime/x.ts': "import { y } from '../planner/y.ts';\nexport const x = y;\n",
    'planner/y.ts': 'export const y = 1;\n',
  });
  const { status, output } = checkImports(root);
  assert.equal(status, 1, output);
  assert.match(output, /node-runtime\/x\.ts imports planner\/y\.ts: node-runtime\/ may not depend on planner\//);
});

test('layering — check-imports fails on a cycle in bench/', () => {
  const root = tree({
    'bench/a.ts': "import type { B } from './b.ts';\nexport type A = { b?: B };\n",
    'bench/b.ts': "import type { A } from './a.ts';\nexport type B = { a?: A };\n",
  });
  const { status, output } = checkImports(root);
  assert.equal(status, 1, output);
  assert.match(output, /import cycle: bench\/(a\.ts -> bench\/b\.ts -> bench\/a\.ts|b\.ts -> bench\/a\.ts -> bench\/b\.ts)/);
});

test('layering — check-imports fails on mqtt imported outside its places', () => {
  const root = tree({
    'node-runtime/z.ts': "import mqtt from 'mqtt';\nexport const z = mqtt;\n",
    'transport/t.ts': "import mqtt from 'mqtt';\nexport const t = mqtt;\n",
  });
  const { status, output } = checkImports(root);
  assert.equal(status, 1, output);
  assert.match(output, /node-runtime\/z\.ts imports 'mqtt'/);
  assert.doesNotMatch(output, /transport\/t\.ts/);
});
