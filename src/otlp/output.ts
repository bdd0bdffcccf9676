import type { NamedBind, Output } from '../model/named-bind';
import { bindLogRecord } from './record';
import type { LogSink } from './log-sink';

/** Each bind as one OTLP log record of its resource (docs/CONTRACT.md, section 2). */
export function otlpOutput(sink: LogSink, nowWallNs: () => bigint): Output {
  return {
    write(binds: readonly NamedBind[]) {
      const observedNs = nowWallNs();
      for (const b of binds) sink.enqueue(bindLogRecord(b, observedNs), b.resource);
    },
    saturated: () => sink.full(),
    drop: (n) => sink.dropFull(n),
  };
}
