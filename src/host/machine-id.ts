import { readFileSync } from 'node:fs';

/** The machine id as the OpenTelemetry host detector reads it (/etc/machine-id, else D-Bus's), or undefined. */
export function readMachineId(files: readonly string[] = ['/etc/machine-id', '/var/lib/dbus/machine-id']): string | undefined {
  for (const file of files) {
    try {
      const id = readFileSync(file, 'utf8').trim();
      if (/^[0-9a-f]{32}$/.test(id)) return id;
    } catch {
      // not there: the next
    }
  }
  return undefined;
}
