// Print node_modules/<name> for the named packages and every package they depend on (at run time, as
// installed here), one per line: what to copy next to compiled code that imports them.
import { readFileSync } from 'node:fs';

const seen = new Set();
const queue = process.argv.slice(2);
while (queue.length > 0) {
  const name = queue.pop();
  if (seen.has(name)) continue;
  seen.add(name);
  const manifest = JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8'));
  queue.push(...Object.keys(manifest.dependencies ?? {}));
}
for (const name of [...seen].sort()) console.log(`node_modules/${name}`);
