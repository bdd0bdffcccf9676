// Type-checks the tests with the code, lints both (eslint), runs the whole vitest suite on this
// machine's Node.js, runs the unit tests again on the Node.js the image ships
// (24, the official build from the npm registry), and ends with the plain
// line CI reads: "N passed, N failed, N skipped", counted from vitest's own JSON
// reports (a failed type check or lint counts as one failure).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;

const typecheck = spawnSync('npx', ['--no-install', 'tsc', '-p', 'tsconfig.test.json'], { stdio: 'inherit' });
if (typecheck.status !== 0) {
  console.error('run-tests: the type check of src/ and test/ failed (npm run typecheck)');
  failed += 1;
}

const lint = spawnSync('npx', ['--no-install', 'eslint', 'src', 'test'], { stdio: 'inherit' });
if (lint.status !== 0) {
  console.error('run-tests: eslint found problems in src/ or test/ (npm run lint)');
  failed += 1;
}

mkdirSync('build', { recursive: true });

/** Runs vitest with `node`, adds its counts; false when it failed. */
function vitest(node, report, args) {
  rmSync(report, { force: true });
  const run = spawnSync(node, ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args], {
    stdio: 'inherit',
  });
  try {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + r.numTodoTests;
    // a file that fails to load has no tests to count but is a failure
    failed += r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0).length;
  } catch (e) {
    console.error(`run-tests: no vitest report from ${node} (${e.message})`);
    failed += 1;
  }
  return run.status === 0;
}

let ok = vitest(process.execPath, 'build/test-report.json', process.argv.slice(2));

// the unit tests again on the image's Node.js (only for a whole run, not a filtered one)
if (process.argv.length <= 2) {
  const dir = spawnSync('scripts/node-binary.sh', [], { encoding: 'utf8' });
  if (dir.status !== 0) {
    console.error(`run-tests: cannot get the image's Node.js: ${dir.stderr}`);
    failed += 1;
  } else {
    const node = `${dir.stdout.trim()}/bin/node`;
    console.log(`run-tests: unit tests on ${spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()}`);
    ok = vitest(node, 'build/test-report-node24.json', ['--project', 'unit']) && ok;
  }
}

console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(ok && failed === 0 && passed > 0 ? 0 : 1);
