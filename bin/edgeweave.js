#!/usr/bin/env node
// Entry point of the `edgeweave` command. Runs the TypeScript sources through tsx's loader,
// so the command works straight after `npm install` with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
