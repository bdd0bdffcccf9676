// Type-checks the tests with the code, runs the whole vitest suite, and ends
// with the plain line CI reads: "N passed, N failed, N skipped", counted from
// vitest's own JSON report (a failed type check counts as one failure).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';

const typecheck = spawnSync('npx', ['--no-install', 'tsc', '-p', 'tsconfig.test.json'], { stdio: 'inherit' });
const typecheckFailed = typecheck.status === 0 ? 0 : 1;
if (typecheckFailed) console.error('run-tests: the type check of src/ and test/ failed (npm run typecheck)');

const report = 'build/test-report.json';
mkdirSync('build', { recursive: true });
rmSync(report, { force: true });
const run = spawnSync(
  'npx',
  ['--no-install', 'vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { stdio: 'inherit' },
);

let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests;
  failed = r.numFailedTests;
  skipped = r.numPendingTests + r.numTodoTests;
  // a file that fails to load has no tests to count but is a failure
  failed += r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
} catch (e) {
  console.error(`run-tests: no vitest report (${e.message})`);
  failed += 1;
}
failed += typecheckFailed;
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(run.status === 0 && failed === 0 && passed > 0 ? 0 : 1);
