import type { Attributes } from '../model/attributes';
import type { BindEvent } from '../model/event';
import type { NamedBind, Output } from '../model/named-bind';
import type { BootClock } from '../kernel/clock';
import type { Kubernetes, SelectedBind } from '../kubernetes/kubernetes';
import { bindAttributes } from '../naming/bind-attributes';
import { BIND_ATTRIBUTE_KEYS as K } from '../naming/bind-attribute-keys';
import { BindResources } from '../naming/resource';
import type { ExecutableSelection } from './executable-selection';
import type { InterfaceNames } from '../naming/net/interfaces';
import type { EncodedOutput } from '../otlp/pipeline';

export interface RouterStages {
  clock: BootClock;
  interfaces: InterfaceNames;
  /** the agent's own resource: a host process's binds carry it */
  baseResource: Attributes;
  /** a pod's binds carry its workload's service.* (the conventions' way), or the agent's */
  podService: 'workload' | 'agent';
  /** filter.executables and filter.excludeExecutables, when set */
  executables?: ExecutableSelection;
  kubernetes?: Kubernetes;
  outputs: readonly Output[];
  /** the records the addon encoded, when it encodes: the OTLP output's (the only output then) */
  encoded?: EncodedOutput;
  /**
   * Kubernetes mode, when the addon encodes: it encodes the records of a cgroup once it is told the cgroup's
   * resource slot (false: it names no more), and forgets them all when the pods change.
   */
  encodedCgroups?: { encodeAs(cgroupId: bigint, slot: number): boolean; forget(): void };
}

/** Resource slots the router keeps for the addon's records at most (a slot is never reused; a dead one goes at a forgetting). */
const MAX_RESOURCE_SLOTS = 65_536;
/** Cgroups named to the addon at most between two forgettings (the addon's own bound). */
const MAX_NAMED_CGROUPS = 16_384;

/**
 * One batch from the kernel to every output: select by executable, resolve and select (Kubernetes),
 * name once (attributes, resource, wall-clock time), then each output. Runs on
 * the JavaScript thread, one batch at a time.
 */
export class Router {
  /** records that reached JavaScript */
  delivered = 0;

  private readonly resources: BindResources;

  constructor(private readonly stages: RouterStages) {
    this.resources = new BindResources(stages.baseResource, stages.podService);
    stages.kubernetes?.onRelease((selected) => this.output(selected));
  }

  /** A batch of records the addon encoded, each as of its cgroup's resource slot (slot 0: the agent's own). */
  routeEncoded(batch: Buffer): void {
    this.delivered += this.stages.encoded?.(batch, this.resourceOfSlot) ?? 0;
  }

  /**
   * Resources by slot, held weakly: a slot names one resource object for good (a pod's resource changes as a new
   * object, with a new slot), so a batch encoded before a forgetting still finds its own, and a pod long gone is not
   * kept alive here. Slot 0 is the agent's own.
   */
  private readonly slotResources = new Map<number, WeakRef<Attributes>>();
  private readonly slotOfResource = new WeakMap<Attributes, number>();
  private readonly namedCgroups = new Set<bigint>();
  private nextSlot = 1;
  private readonly resourceOfSlot = (slot: number): Attributes => (slot === 0 ? this.resources.of(undefined) : (this.slotResources.get(slot)?.deref() ?? this.resources.of(undefined)));

  /** The pods changed: the addon forgets every cgroup it was told of (their next binds are resolved here again). */
  forgetEncodedCgroups(): void {
    if (!this.stages.encodedCgroups || this.namedCgroups.size === 0) return;
    this.stages.encodedCgroups.forget();
    this.namedCgroups.clear();
    for (const [slot, ref] of this.slotResources) if (ref.deref() === undefined) this.slotResources.delete(slot);
  }

  /** Tells the addon the resource of a bind's cgroup, as this bind was resolved and named. */
  private nameCgroup(cgroupId: bigint, resource: Attributes): void {
    const cgroups = this.stages.encodedCgroups;
    if (!cgroups || this.namedCgroups.has(cgroupId) || this.namedCgroups.size >= MAX_NAMED_CGROUPS) return;
    let slot = resource === this.resources.of(undefined) ? 0 : this.slotOfResource.get(resource);
    if (slot === undefined) {
      if (this.slotResources.size >= MAX_RESOURCE_SLOTS) return; // until a forgetting lets the dead ones go
      slot = this.nextSlot++;
      this.slotOfResource.set(resource, slot);
      this.slotResources.set(slot, new WeakRef(resource));
    }
    if (cgroups.encodeAs(cgroupId, slot)) this.namedCgroups.add(cgroupId);
  }

  /** Records nothing reads (-q without export), counted where they arrive. */
  count(records: number): void {
    this.delivered += records;
  }

  route(batch: readonly BindEvent[]): void {
    const s = this.stages;
    this.delivered += batch.length;
    // -q without export: nothing reads the binds; seen and lost still come from the kernel's and reader's counters
    if (s.outputs.length === 0) return;
    const selected = s.executables ? s.executables.select(batch) : batch;
    this.output(s.kubernetes ? s.kubernetes.select(selected) : selected.map((event) => ({ event })));
  }

  /** Names the binds selected (now, or released by the Kubernetes stage's hold) and writes them to every output. */
  private output(selected: readonly SelectedBind[]): void {
    const s = this.stages;
    if (selected.length === 0) return;
    if (s.outputs.every((o) => o.saturated?.() === true)) {
      for (const o of s.outputs) o.drop?.(selected.length);
      return;
    }
    // only outputs that read the naming get it: bcc's table alone names nothing
    const named = s.outputs.some((o) => o.reads === 'named') ? this.name(selected) : [];
    for (const output of s.outputs) {
      if (output.reads === 'named') output.write(named);
      else output.write(selected);
    }
  }

  /** Each bind's attributes, resource and wall-clock time, once. */
  private name(selected: readonly SelectedBind[]): NamedBind[] {
    const s = this.stages;
    return selected.map(({ event, pod, unattributedCgroupPath }) => {
      const attributes = bindAttributes(event, s.interfaces.lookup(event.boundDevIf, event.netnsId), s.clock.toWallNs(event.startBootNs));
      const resource = this.resources.of(pod);
      // named like a pod's container, not attributed to it: say where it really is
      if (unattributedCgroupPath !== undefined) attributes[K.cgroupPath] = unattributedCgroupPath;
      // the cgroup's next binds can be encoded where they are read, as of this resource
      else if (s.encodedCgroups) this.nameCgroup(event.cgroupId, resource);
      return { event, pod, attributes, resource, wallNs: s.clock.toWallNs(event.tsBootNs) };
    });
  }
}
