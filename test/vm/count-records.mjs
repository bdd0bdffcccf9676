// Reads an OpenTelemetry Collector file exporter's output (OTLP/JSON, a request a line) in a test VM and
// prints one JSON line: the records of one user's binds, and how many of them repeat another (same thread,
// same bound port, within 100 ms: test/integration/handover.test.ts's rule). Usage: node count-records.mjs FILE UID
import { readFileSync } from 'node:fs';
const [file, uid] = process.argv.slice(2);
let records = 0;
let duplicates = 0;
const times = new Map();
const text = readFileSync(file, 'utf8');
for (const line of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
  if (!line) continue;
  for (const rl of JSON.parse(line).resourceLogs ?? []) {
    for (const sl of rl.scopeLogs ?? []) {
      for (const r of sl.logRecords ?? []) {
        const a = Object.fromEntries((r.attributes ?? []).map((kv) => [kv.key, kv.value.intValue ?? kv.value.stringValue]));
        if (String(a['process.real_user.id']) !== uid) continue;
        records++;
        const key = `${a['thread.id']}:${a['network.local.port']}`;
        const t = BigInt(r.timeUnixNano ?? '0');
        const seen = times.get(key) ?? [];
        if (seen.some((u) => (u > t ? u - t : t - u) < 100000000n)) duplicates++;
        seen.push(t);
        times.set(key, seen);
      }
    }
  }
}
process.stdout.write(`${JSON.stringify({ records, duplicates })}\n`);
