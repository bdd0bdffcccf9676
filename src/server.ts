import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { HANDOVER_DELIVERY_UNKNOWN, LOSS_STAGES, type Accounting } from './agent/accounting';
import type { AgentStatus, EncoderCounts } from './agent/status';
import { DELIVERY_UNKNOWN_REASONS } from './otlp/exporter';

/**
 * Resolution of the event-loop lag metrics (bindsnoop_nodejs_eventloop_lag_*): a sample a second. Under load the
 * loop is busy throughout, so a late sample still shows the lag; idle, each sample is a wake-up, and the idle cost
 * is what a DaemonSet pays on every node (figures in docs/BENCHMARKS.md).
 */
const EVENT_LOOP_SAMPLE_MILLIS = 1000;

/** Prometheus metrics of the agent, in a registry of their own, and the scrape that reads them. */
export interface AgentMetrics {
  registry: Registry;
  /**
   * One scrape: the books (seen, exported, lost, pending) are read once, before
   * any metric is collected, so that in one scrape they balance exactly
   * whatever order the metrics are collected in.
   */
  scrape(): Promise<string>;
}

/** Prometheus metrics of the agent (docs: "Running as a service"). */
export function agentMetrics(status: AgentStatus): AgentMetrics {
  const registry = new Registry();
  // the event-loop lag histogram samples with a timer: at prom-client's default (every 10 ms) that timer alone was
  // most of the idle agent's CPU (see EVENT_LOOP_SAMPLE_MILLIS)
  collectDefaultMetrics({ register: registry, prefix: 'bindsnoop_', eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MILLIS });
  let snapshot: Accounting | undefined;
  new Counter({
    name: 'bindsnoop_events_total',
    help: 'Binds that passed the kernel filters: read from the ring buffer or lost in the kernel.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(snapshot?.seen ?? 0);
    },
  });
  new Counter({
    name: 'bindsnoop_events_exported_total',
    help: 'Binds accepted by the OTLP receiver.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(snapshot?.exported ?? 0);
    },
  });
  new Counter({
    name: 'bindsnoop_events_lost_total',
    help: 'Binds lost, by the stage that lost them: events_total = exported + lost + pending.',
    labelNames: ['stage'],
    registers: [registry],
    collect() {
      this.reset();
      for (const stage of LOSS_STAGES) this.inc({ stage }, snapshot?.lost[stage] ?? 0);
    },
  });
  new Counter({
    name: 'bindsnoop_export_failures_total',
    help: 'Records not exported, by reason (http_400, network, timeout, retries_exhausted, rejected, shutdown, delivery_unknown, ...); delivery="unknown" for records the receiver may have kept (a reply past the deadline, cut off or not understood), "lost" for the rest.',
    labelNames: ['reason', 'delivery'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of snapshot?.exportFailures ?? []) this.inc({ reason, delivery: DELIVERY_UNKNOWN_REASONS.has(reason) ? 'unknown' : 'lost' }, n);
    },
  });
  new Counter({
    name: 'bindsnoop_handover_lost_total',
    help: 'Binds of a handover\'s gap lost, by reason (ring_full, inflight_full, inflight_orphaned, unowned, agent_ended, ring_replaced): the stage="handover" of events_lost_total; delivery="unknown" for binds a reader took and may have sent before it ended.',
    labelNames: ['reason', 'delivery'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of snapshot?.handover?.losses ?? []) this.inc({ reason, delivery: HANDOVER_DELIVERY_UNKNOWN.has(reason) ? 'unknown' : 'lost' }, n);
    },
  });
  new Counter({
    name: 'bindsnoop_handover_recovered_total',
    help: 'Binds queued in the pinned ring while no agent read it, read by this one (exported like any other).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(snapshot?.handover?.recovered ?? 0);
    },
  });
  new Counter({
    name: 'bindsnoop_handover_duplicates_dropped_total',
    help: 'Binds both pinned sets saw while a handover had them attached at once, reported by one of them only.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(snapshot?.handover?.duplicatesDropped ?? 0);
    },
  });
  new Gauge({
    name: 'bindsnoop_handover_generation',
    help: 'How many agents have owned the pinned set, this one included (0: no handover).',
    registers: [registry],
    collect() {
      this.set(snapshot?.handover?.generation ?? 0);
    },
  });
  new Gauge({
    name: 'bindsnoop_events_pending',
    help: 'Binds read but not yet exported (export queue, exports in flight, batches on their way to JavaScript).',
    registers: [registry],
    collect() {
      this.set(snapshot?.pending ?? 0);
    },
  });
  new Gauge({
    name: 'bindsnoop_export_queue_depth',
    help: 'Records waiting for export or being exported now (bounded by otlp.maxQueueSize).',
    registers: [registry],
    collect() {
      this.set(status.exportQueueDepth());
    },
  });
  new Gauge({
    name: 'bindsnoop_pods_known',
    help: 'Pods on this node the agent knows (API watch, else kubelet log tree).',
    registers: [registry],
    collect() {
      this.set(status.podsKnown());
    },
  });
  new Gauge({
    name: 'bindsnoop_containers_known',
    help: 'Container cgroups on this node in the pinned maps (selected and excluded).',
    registers: [registry],
    collect() {
      this.set(status.containersKnown());
    },
  });
  new Counter({
    name: 'bindsnoop_kubernetes_events_rejected_total',
    help: 'Kubernetes API watch events and list items skipped: not JSON, of no known type, or a pod without metadata, uid, name or namespace.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(status.podWatch()?.eventsRejected ?? 0);
    },
  });
  new Counter({
    name: 'bindsnoop_kubernetes_values_rejected_total',
    help: "Values of a pod from the Kubernetes API of the wrong type (a label that is not a string, a null container status), skipped.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(status.podWatch()?.valuesRejected ?? 0);
    },
  });
  new Counter({
    name: 'bindsnoop_kubernetes_pods_refused_total',
    help: "New pods from the Kubernetes API not kept because kubernetes.api.maxPods were known (their binds are named from the log tree).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(status.podWatch()?.podsRefused ?? 0);
    },
  });
  new Counter({
    name: 'bindsnoop_kubernetes_watch_idle_renewals_total',
    help: 'Pod watches made again because they brought nothing, not even a bookmark, for kubernetes.api.watchIdleMillis (not a failure).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(status.podWatch()?.idleRenewals ?? 0);
    },
  });
  new Counter({
    name: 'bindsnoop_kubernetes_api_failures_total',
    help: 'Failed lists and watches of the Kubernetes API, by reason (http, network, timeout, too_large, malformed, watch_error, expired, short_watch); each is retried with backoff.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of status.podWatch()?.failures ?? []) this.inc({ reason }, n);
    },
  });
  new Gauge({
    name: 'bindsnoop_kubernetes_binds_held',
    help: 'Binds waiting to be named: for the Kubernetes API to describe their pod, or for their look-alike cgroup to be placed (counted in bindsnoop_events_pending).',
    registers: [registry],
    collect() {
      this.set(status.podHold()?.held ?? 0);
    },
  });
  new Counter({
    name: 'bindsnoop_kubernetes_hold_total',
    help: 'Binds that waited to be named, by outcome: described (released once the API described their pod, or their cgroup was placed), expired (released after kubernetes.api.holdMillis, named from the log tree), overflowed (not held: kubernetes.api.holdMaxRecords reached).',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      const h = status.podHold();
      if (h) for (const outcome of ['described', 'expired', 'overflowed'] as const) this.inc({ outcome }, h[outcome]);
    },
  });
  const encoder: [string, string, keyof EncoderCounts][] = [
    ['bindsnoop_encoder_records_total', 'Records the addon encoded as OTLP log records where it read them (otlp.encodeInAddon).', 'records'],
    ['bindsnoop_encoder_bytes_total', 'Bytes of the log records the addon encoded.', 'bytes'],
    ['bindsnoop_encoder_seconds_total', 'Time the reader thread spent encoding records.', 'seconds'],
    ['bindsnoop_encoder_unencoded_records_total', 'Records the addon left to JavaScript to name and encode (bound to a device, whose name it resolves).', 'unencoded'],
  ];
  for (const [name, help, field] of encoder) {
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(status.encoder()?.[field] ?? 0);
      },
    });
  }
  new Gauge({
    name: 'bindsnoop_backend_info',
    help: 'The kernel backend in use: 1 for the one attached (fentry, kprobe or tracepoint).',
    labelNames: ['backend'],
    registers: [registry],
    collect() {
      this.reset();
      const backend = status.backend();
      if (backend) this.set({ backend: backend.name }, 1);
    },
  });
  new Gauge({
    name: 'bindsnoop_otlp_resources',
    help: 'Distinct resources (pods and the host) the exporter holds a logger for (bounded by otlp.maxResources).',
    registers: [registry],
    collect() {
      this.set(status.resourcesKnown());
    },
  });
  new Gauge({
    name: 'bindsnoop_ready',
    help: '1 when the programs are attached and the agent is not shutting down.',
    registers: [registry],
    collect() {
      this.set(status.ready() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'bindsnoop_live',
    help: '1 while the reader thread is alive and has drained the ring buffer recently (what /healthz answers 200 to).',
    registers: [registry],
    collect() {
      this.set(status.live() ? 1 : 0);
    },
  });
  return {
    registry,
    scrape: () => {
      snapshot = status.accounting();
      return registry.metrics();
    },
  };
}

/**
 * Limits on who talks to the endpoints: a probe or a scraper sends a few
 * hundred bytes at once, so a client that takes seconds over its headers, or
 * holds many connections, is cut off (slowloris), and headers past 16 KiB are
 * refused (431, Node's default).
 */
const SERVER_LIMITS = {
  headersTimeout: 5_000,
  requestTimeout: 10_000,
  /** how often Node checks the two timeouts above (its default is 30 s) */
  connectionsCheckingInterval: 1_000,
  maxHeaderSize: 16 * 1024,
  keepAliveTimeout: 5_000,
};
/** Connections kept at most; past it the least recently active one is closed to admit a new one. */
export const MAX_CONNECTIONS = 256;
/**
 * Requests of one connection being answered at once at most: a client that
 * pipelines more without reading the answers has its connection closed (a
 * probe or a scraper asks one at a time), so no connection can queue work.
 */
export const MAX_PIPELINED_REQUESTS = 4;

/**
 * The open connections, least recently active first. A full server does not
 * refuse a new connection (a neighbour holding every slot would starve the
 * kubelet's probes, which come from the same node address): it closes the
 * connection that has waited longest since its last request. A probe connects
 * and asks at once, so it is the last to go.
 */
class Connections {
  private readonly open = new Set<Socket>();
  evicted = 0;

  admit(socket: Socket): void {
    if (this.open.size >= MAX_CONNECTIONS) {
      const oldest = this.open.values().next().value as Socket;
      this.open.delete(oldest);
      oldest.destroy();
      this.evicted++;
    }
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
  }

  /** A request came on this connection: it is the most recently active. */
  active(socket: Socket): void {
    if (this.open.delete(socket)) this.open.add(socket);
  }
}

/** /healthz, /readyz and /metrics on `port` (0 = any free port). */
export async function startAgentServer(status: AgentStatus, port: number, host: string): Promise<{ server: Server; port: number }> {
  const metrics = agentMetrics(status);
  const registry = metrics.registry;
  const connections = new Connections();
  let closedPipelining = 0;
  new Counter({
    name: 'bindsnoop_http_connections_pipelining_closed_total',
    help: `Connections to these endpoints closed for pipelining more than ${MAX_PIPELINED_REQUESTS} requests without reading the answers.`,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(closedPipelining);
    },
  });
  // one scrape at a time, shared by the requests that ask meanwhile: a burst of scrapers costs one
  let scraping: Promise<string> | undefined;
  const scrape = (): Promise<string> => (scraping ??= metrics.scrape().finally(() => (scraping = undefined)));
  const answering = new WeakMap<Socket, number>();
  new Counter({
    name: 'bindsnoop_http_connections_evicted_total',
    help: `Connections to these endpoints closed to admit a new one past ${MAX_CONNECTIONS} (the least recently active goes).`,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(connections.evicted);
    },
  });
  const server = createServer(SERVER_LIMITS, (req, res) => {
    const socket = req.socket;
    // requests parsed from a connection already closed for pipelining are not answered
    if (socket.destroyed) return;
    const inFlight = (answering.get(socket) ?? 0) + 1;
    if (inFlight > MAX_PIPELINED_REQUESTS) {
      closedPipelining++;
      socket.destroy();
      return;
    }
    answering.set(socket, inFlight);
    res.once('close', () => answering.set(socket, (answering.get(socket) ?? 1) - 1));
    connections.active(socket);
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      // only probes and scrapers are expected: a client asking for anything else does not keep its connection
      res.writeHead(405, { allow: 'GET, HEAD', connection: 'close' }).end();
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const ok = path === '/healthz' ? status.live() : status.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not ok\n');
      return;
    }
    if (path === '/metrics') {
      scrape()
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
        .catch((e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain', connection: 'close' }).end('not found: try /healthz, /readyz or /metrics\n');
  });
  server.on('connection', (socket: Socket) => connections.admit(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as { port: number }).port };
}
