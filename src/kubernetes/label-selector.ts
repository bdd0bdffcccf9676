/**
 * Kubernetes label selectors, equality- and set-based, as kubectl -l takes
 * them: "app=cart,tier!=db,env in (prod,stage),!legacy,canary". Pure.
 */
type Requirement =
  | { key: string; op: 'eq' | 'ne'; value: string }
  | { key: string; op: 'in' | 'notin'; values: string[] }
  | { key: string; op: 'exists' | 'absent' };

/** Whether a pod's labels match; `keys` are the label keys it reads. */
export type LabelSelector = ((labels: Record<string, string>) => boolean) & { keys: readonly string[] };

/** Splits at commas that are not inside parentheses. */
function clauses(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((c) => c.trim()).filter(Boolean);
}

const KEY = '[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?';

/**
 * A label key as Kubernetes validates it: an optional DNS subdomain prefix
 * and '/', then a name of at most 63 characters, alphanumeric at both ends
 * with '-', '_' and '.' between. A key that is not one never matches a pod.
 */
export function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  const [prefix, name] = slash === -1 ? [undefined, key] : [key.slice(0, slash), key.slice(slash + 1)];
  if (prefix !== undefined && (prefix.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(prefix))) return false;
  return name.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name);
}

export function parseLabelSelector(text: string): LabelSelector {
  const reqs: Requirement[] = [];
  for (const clause of clauses(text)) {
    let m: RegExpExecArray | null;
    if ((m = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*([-A-Za-z0-9_.]*)$`).exec(clause))) {
      reqs.push({ key: m[1], op: m[3] === '!=' ? 'ne' : 'eq', value: m[4] });
    } else if ((m = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`).exec(clause))) {
      reqs.push({ key: m[1], op: m[3] as 'in' | 'notin', values: m[4].split(',').map((v) => v.trim()) });
    } else if ((m = new RegExp(`^!\\s*(${KEY})$`).exec(clause))) {
      reqs.push({ key: m[1], op: 'absent' });
    } else if ((m = new RegExp(`^(${KEY})$`).exec(clause))) {
      reqs.push({ key: m[1], op: 'exists' });
    } else {
      throw new Error(`'${clause}' is not a label selector requirement (key=value, key!=value, key in (a,b), key notin (a,b), key, !key)`);
    }
  }
  const matches = (labels: Record<string, string>): boolean =>
    reqs.every((r) => {
      const v = Object.hasOwn(labels, r.key) ? labels[r.key] : undefined;
      switch (r.op) {
        case 'eq':
          return v === r.value;
        case 'ne':
          return v !== r.value;
        case 'in':
          return v !== undefined && r.values.includes(v);
        case 'notin':
          return v === undefined || !r.values.includes(v);
        case 'exists':
          return v !== undefined;
        default:
          return v === undefined;
      }
    });
  return Object.assign(matches, { keys: [...new Set(reqs.map((r) => r.key))] });
}
