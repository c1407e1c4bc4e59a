#!/usr/bin/env node
// The CLI is TypeScript that shares src/core with the browser app; tsx runs it without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
