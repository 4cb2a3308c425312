/**
 * Rewrites the layering block of docs/ARCHITECTURE.md (between the layering markers) from
 * scripts/layering.ts (`npm run layering:doc`); the prose around the block is written by hand.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { LAYERING_BEGIN, LAYERING_END, renderLayering, withLayeringBlock } from './layering.ts';

const path = new URL('../docs/ARCHITECTURE.md', import.meta.url);
const doc = readFileSync(path, 'utf8');
const next = withLayeringBlock(doc, renderLayering());
if (next === undefined) {
  process.stderr.write(`layering:doc: docs/ARCHITECTURE.md has no block between\n  ${LAYERING_BEGIN}\n  ${LAYERING_END}\n`);
  process.exit(1);
}
if (next !== doc) writeFileSync(path, next);
process.stdout.write(`layering:doc: docs/ARCHITECTURE.md ${next === doc ? 'already up to date' : 'updated'}\n`);
