// Writes k8s/seccomp/bindsnoop.json: a node's RuntimeDefault seccomp profile for this agent's syscalls, made from
// the local podman default (/usr/share/containers/seccomp.json). containerd's default profile (containerd#7301, 1.6.x
// and later; moby#43987 likewise) allows bpf with CAP_BPF and perf_event_open with CAP_PERFMON, while the
// containers-common profile of CRI-O and podman (Debian 12's 0.50) allows them with CAP_SYS_ADMIN only: this adds the
// two capability-gated rules and leaves everything else in the profile as it is.
//
//   node scripts/gen-seccomp-profile.mjs [PODMAN_PROFILE] [OUT]
import { readFileSync, writeFileSync } from 'node:fs';

const [source = '/usr/share/containers/seccomp.json', out = 'k8s/seccomp/bindsnoop.json'] = process.argv.slice(2);
const profile = JSON.parse(readFileSync(source, 'utf8'));
const gated = { bpf: 'CAP_BPF', perf_event_open: 'CAP_PERFMON' };
const rules = [];
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
writeFileSync(out, JSON.stringify({ ...profile, syscalls: rules }, null, 2) + '\n');
