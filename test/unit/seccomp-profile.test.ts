import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { expect, it } from 'vitest';

interface Rule {
  names: string[];
  action: string;
  includes?: { caps?: string[] };
  excludes?: { caps?: string[] };
}

it('the shipped seccomp profile refuses by default and allows bpf() with CAP_BPF and perf_event_open() with CAP_PERFMON', () => {
  const profile = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', 'k8s', 'seccomp', 'bindsnoop.json'), 'utf8')) as { defaultAction: string; syscalls: Rule[] };
  expect(profile.defaultAction).toMatch(/^SCMP_ACT_(ERRNO|KILL)/);
  /** Whether a process with exactly these capabilities may make this syscall: the first rule that applies decides. */
  const allowed = (name: string, caps: string[]): boolean => {
    const applies = (r: Rule): boolean =>
      r.names.includes(name) && (r.includes?.caps ?? []).every((c) => caps.includes(c)) && !(r.excludes?.caps ?? []).some((c) => caps.includes(c));
    // libseccomp: an errno rule and an allow rule for the same call: the allow of a matching capability wins only
    // where the errno rule excludes that capability, as the profile is written
    const rules = profile.syscalls.filter(applies);
    return rules.some((r) => r.action === 'SCMP_ACT_ALLOW') && !rules.some((r) => r.action !== 'SCMP_ACT_ALLOW');
  };
  expect(allowed('bpf', ['CAP_BPF', 'CAP_PERFMON'])).toBe(true);
  expect(allowed('perf_event_open', ['CAP_BPF', 'CAP_PERFMON'])).toBe(true);
  expect(allowed('bpf', [])).toBe(false);
  expect(allowed('perf_event_open', [])).toBe(false);
  // the rest as a runtime default: no mount, no kexec for the agent
  expect(allowed('kexec_load', ['CAP_BPF', 'CAP_PERFMON'])).toBe(false);
});
