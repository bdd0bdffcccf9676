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
}

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

  /** A batch of records the addon encoded: each of the agent's resource (slot 0, the only one it is given). */
  routeEncoded(batch: Buffer): void {
    this.delivered += this.stages.encoded?.(batch, this.resourceOfSlot) ?? 0;
  }

  private readonly resourceOfSlot = (): Attributes => this.resources.of(undefined);

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
      // named like a pod's container, not attributed to it: say where it really is
      if (unattributedCgroupPath !== undefined) attributes[K.cgroupPath] = unattributedCgroupPath;
      return { event, pod, attributes, resource: this.resources.of(pod), wallNs: s.clock.toWallNs(event.tsBootNs) };
    });
  }
}
