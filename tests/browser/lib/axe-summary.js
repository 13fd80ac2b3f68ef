// Prints the axe-core results of the run (one line per checked page) from tests/artifacts.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS } from './harness.js';

let rows = [];
try {
  for (const f of readdirSync(ARTIFACTS).filter((n) => /^axe-\d+\.json$/.test(n))) {
    rows = rows.concat(JSON.parse(readFileSync(join(ARTIFACTS, f), 'utf8')));
  }
} catch {
  rows = [];
}
const count = (impact) => rows.reduce((n, r) => n + r.violations.filter((v) => v.impact === impact).length, 0);
console.log(`\naxe-core: ${rows.length} page states checked; violations: critical ${count('critical')}, serious ${count('serious')}, moderate ${count('moderate')}, minor ${count('minor')}`);
for (const r of rows) {
  const v = r.violations.map((x) => `${x.id}(${x.impact})`).join(' ') || 'none';
  console.log(`  ${r.page.padEnd(34)} ${v}`);
}
writeFileSync(join(ARTIFACTS, 'axe-summary.json'), JSON.stringify(rows, null, 2));
