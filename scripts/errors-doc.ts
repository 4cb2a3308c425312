/**
 * Prints the table of error codes for docs/errors.md from the catalogue in
 * schemas/errors.ts (`npm run errors:doc`); the prose around the table is written by hand.
 */
import { ERROR_CODES } from '../schemas/errors.ts';

const rows = Object.entries(ERROR_CODES).map(([code, text]) => `| \`${code}\` | ${text} |`);
process.stdout.write(['| code | meaning |', '| --- | --- |', ...rows].join('\n') + '\n');
