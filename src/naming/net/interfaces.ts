import { readdirSync, readFileSync, statSync } from 'node:fs';

/**
 * Interface names for SO_BINDTODEVICE indexes. An index only means something
 * in its own network namespace, so names are given only for sockets in ours.
 */
export class InterfaceNames {
  private names = new Map<number, string>();
  private readonly ownNetns: number;
  private loadedAtMs = 0;

  constructor(private readonly sysClassNet = '/sys/class/net', private readonly minReloadMillis = 1000) {
    let ino: number;
    try {
      ino = statSync('/proc/self/ns/net').ino;
    } catch {
      ino = 0;
    }
    this.ownNetns = ino;
    this.reload();
  }

  private reload(): void {
    const names = new Map<number, string>();
    try {
      for (const name of readdirSync(this.sysClassNet)) {
        try {
          const index = Number.parseInt(readFileSync(`${this.sysClassNet}/${name}/ifindex`, 'utf8'), 10);
          if (Number.isInteger(index)) names.set(index, name);
        } catch {
          // interface vanished between readdir and read
        }
      }
    } catch {
      // no sysfs: names stay unknown
    }
    this.names = names;
    this.loadedAtMs = Date.now();
  }

  /** Name of `index` for a socket in network namespace `netns`, when it can be known. */
  lookup(index: number, netns: number): string | undefined {
    if (index <= 0 || netns !== this.ownNetns) return undefined;
    let name = this.names.get(index);
    if (name === undefined && Date.now() - this.loadedAtMs >= this.minReloadMillis) {
      this.reload();
      name = this.names.get(index);
    }
    return name;
  }
}
