import { availableParallelism, loadavg } from 'node:os';

/**
 * Polls `probe` (which may be async) until it gives a value (not undefined or false), or fails
 * naming `what`. A bounded wait for something that happens asynchronously, not
 * a timing assertion.
 */
export async function waitUntil<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * `millis` scaled to the host's load: a wait sized for an idle machine,
 * stretched by the run queue per core (the 1-minute load average over the
 * cores) when other work shares the machine. A wait, never an assertion of speed.
 */
export function scaledMillis(millis: number): number {
  const perCore = loadavg()[0] / Math.max(1, availableParallelism());
  return Math.round(millis * Math.max(1, Math.min(perCore, 10)));
}
