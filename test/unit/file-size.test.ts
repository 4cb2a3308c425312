import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// A project rule: no source file over 400 lines, tests included (a file that long is asking to
// be split). Generated code (schemas/generated) is exempt; dependencies, build output and
// results are not ours (node_modules, dist, bench-results, test-artifacts, dot-directories).

const MAX_LINES = 400;
const repo = fileURLToPath(new URL('../../', import.meta.url));
const SKIPPED_DIRS = new Set(['node_modules', 'dist', 'bench-results', 'test-artifacts']);
const SKIPPED_PATHS = new Set(['schemas/generated']);

/** Path relative to the repository, with `/`. */
function relPath(path: string): string {
  return relative(repo, path).split('\\').join('/');
}

/** Every .ts file under `dir`, but for the skipped directories. */
function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name.startsWith('.') || SKIPPED_DIRS.has(entry.name) || SKIPPED_PATHS.has(relPath(path))) continue;
      sourceFiles(path, out);
    } else if (entry.isFile() && entry.name.endsWith('.ts')) {
      out.push(path);
    }
  }
  return out;
}

/** Lines of a text as `wc -l` counts them, plus an unterminated last line. */
function lineCount(text: string): number {
  if (text === '') return 0;
  const breaks = text.split('\n').length - 1;
  return text.endsWith('\n') ? breaks : breaks + 1;
}

test('file size — the walk finds the sources and tests and leaves generated code out', () => {
  const files = sourceFiles(repo).map(relPath);
  assert.ok(files.includes('test/unit/file-size.test.ts'), 'the walk does not find this test');
  assert.ok(files.includes('planner/core/instance.ts'), 'the walk does not find planner/core/instance.ts');
  assert.deepEqual(files.filter((f) => f.startsWith('schemas/generated/') || f.startsWith('node_modules/')), []);
});

test(`file size — no .ts file is over ${MAX_LINES} lines (schemas/generated aside)`, () => {
  const tooLong = sourceFiles(repo)
    .map((path) => ({ file: relPath(path), lines: lineCount(readFileSync(path, 'utf8')) }))
    .filter((f) => f.lines > MAX_LINES)
    .sort((a, b) => a.file.localeCompare(b.file));
  assert.deepEqual(
    tooLong.map((f) => `${f.file} (${f.lines} lines)`),
    [],
    `split these files (no source file over ${MAX_LINES} lines)`,
  );
});
