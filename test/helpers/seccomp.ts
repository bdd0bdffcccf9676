import { readFileSync } from 'node:fs';

interface Rule {
  names: string[];
  action: string;
  includes?: { caps?: string[] };
  excludes?: { caps?: string[] };
  [k: string]: unknown;
}

/**
 * A Kubernetes node's RuntimeDefault profile for this agent's syscalls, from the
 * local podman default: containerd's default profile (containerd#7301, in 1.6.x
 * and later; moby#43987 likewise) allows bpf with CAP_BPF and perf_event_open
 * with CAP_PERFMON, while Debian 12's containers-common 0.50 allows them with
 * CAP_SYS_ADMIN only. Everything else in the profile is left as it is.
 */
export function containerdLikeRuntimeDefault(podmanProfilePath = '/usr/share/containers/seccomp.json'): string {
  const profile = JSON.parse(readFileSync(podmanProfilePath, 'utf8')) as { syscalls: Rule[] };
  const gated: Record<string, string> = { bpf: 'CAP_BPF', perf_event_open: 'CAP_PERFMON' };
  const rules: Rule[] = [];
  for (const rule of profile.syscalls) {
    const touched = rule.names.filter((n) => n in gated);
    if (touched.length === 0) {
      rules.push(rule);
      continue;
    }
    const rest = rule.names.filter((n) => !(n in gated));
    if (rest.length) rules.push({ ...rule, names: rest });
    for (const name of touched) {
      if (rule.action === 'SCMP_ACT_ALLOW') {
        rules.push({ ...rule, names: [name] }); // the CAP_SYS_ADMIN allowance stays
      } else {
        // the denial no longer applies when the dedicated capability is there
        rules.push({ ...rule, names: [name], excludes: { caps: [...(rule.excludes?.caps ?? []), gated[name]] } });
      }
    }
  }
  for (const [name, cap] of Object.entries(gated)) rules.push({ names: [name], action: 'SCMP_ACT_ALLOW', includes: { caps: [cap] } });
  return JSON.stringify({ ...profile, syscalls: rules });
}
