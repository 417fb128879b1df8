#!/usr/bin/env -S node --max-semi-space-size=64
// Runs the TypeScript CLI through tsx so a fresh clone needs no build step. A larger young
// generation (64 MB semi-spaces) cuts garbage-collection time under ingestion load and in rebuilds;
// run it as `node --max-semi-space-size=64 bin/tessera.js` when not started through this line.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
