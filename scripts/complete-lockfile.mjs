#!/usr/bin/env node
// The registry this project is built against lacks some platform builds that packages list as
// optional dependencies (chdb's darwin/arm64 engines, msgpackr-extract's prebuilds). npm then
// leaves them out of package-lock.json and `npm ci` refuses the lock as out of sync. This adds
// each missing optional dependency as a platform-restricted entry, which npm ci accepts and skips
// on other platforms. Run after `npm install` changes the lock: node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const OS = ['darwin', 'linux', 'win32', 'freebsd'];
const CPU = ['arm64', 'x64', 'arm', 'ia32', 'ppc64', 's390x'];
const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const base = path ? `${path}/node_modules/${name}` : `node_modules/${name}`;
    if (lock.packages[`node_modules/${name}`] || lock.packages[base]) continue;
    const parts = name.split(/[/-]/);
    const os = OS.filter((o) => parts.includes(o));
    const cpu = CPU.filter((c) => parts.includes(c));
    if (os.length === 0 || cpu.length === 0) continue;
    lock.packages[`node_modules/${name}`] = { version, optional: true, os, cpu };
    added++;
  }
}
writeFileSync('package-lock.json', `${JSON.stringify(lock, null, 2)}\n`);
console.log(`added ${added} platform-only optional entries`);
