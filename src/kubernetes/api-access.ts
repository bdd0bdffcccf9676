import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { readSmallFile, type SmallFileError } from '../host/small-file';
import { isRecord } from '../model/text';

/**
 * How to reach the Kubernetes API: the server, its CA, and the agent's
 * credentials. The two sources a node agent has: the in-cluster service
 * account (a projected token the kubelet rotates, so it is read again on each
 * request, at most once a minute, as client-go does) and a kubeconfig file
 * with a token, a token file, a client certificate or a user name and
 * password. exec plugins and auth providers are refused: an agent on every
 * node should not run programs named in a file to get its credentials.
 */
export interface ApiAccess {
  server: URL;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** insecure-skip-tls-verify */
  insecure: boolean;
  /** tls-server-name */
  serverName?: string;
  /** The Authorization header's value now, if any. */
  authorization(): string | undefined;
  /** The server refused the credential (401): a token read from a file is read again before the next request. */
  rejected?(): void;
  /** kubeconfig's `as` and `as-groups`: the user and groups the requests act as (Impersonate-User, Impersonate-Group) */
  impersonate?: { user: string; groups: string[] };
}

/** A kubeconfig that cannot be used; the message names the field. */
export class ApiAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiAccessError';
  }
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** A credential or kubeconfig file larger than this is not one (a device, a mistake). */
const MAX_CREDENTIAL_FILE_BYTES = 1024 * 1024;
/** How long a token read from a file is used before it is read again (the kubelet rotates projected tokens). */
const TOKEN_REREAD_MILLIS = 60_000;

/** A regular file of at most 1 MiB, read whole; the error names what it is for. */
export function readCredentialFile(file: string, what: string): Buffer {
  try {
    return readSmallFile(file, MAX_CREDENTIAL_FILE_BYTES);
  } catch (e) {
    throw new ApiAccessError(`${what} ${file}${(e as SmallFileError).reason.startsWith('not a') || (e as SmallFileError).reason.startsWith('larger') ? ' is ' : ': '}${(e as SmallFileError).reason}`);
  }
}

/**
 * Why a token cannot be sent in an Authorization header, or undefined when it
 * can: a bearer token is visible ASCII (RFC 6750's b64token and every token
 * Kubernetes issues); anything else would fail every request. Pure.
 */
export function tokenProblem(token: string): string | undefined {
  if (token === '') return 'is empty';
  const bad = /[^\x21-\x7e]/.exec(token);
  return bad ? `holds a character a request header cannot carry (U+${bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} at ${bad.index}): a token is visible ASCII` : undefined;
}

/** A credential read from a file: the header's value now, and a way to read the file again at the next request. */
export interface FileToken {
  (): string | undefined;
  /** the server refused it: read the file again before the next request (the kubelet may have rotated it) */
  reread(): void;
}

/**
 * A bearer token read from a file, read again once a minute, or at the next
 * request after the server refused it. The first read must give a usable token
 * (else ApiAccessError); a later unreadable or unusable one keeps the last good
 * token, with a warning.
 */
export function tokenFromFile(file: string, what: string, warn: (line: string) => void = () => undefined, now: () => number = Date.now): FileToken {
  const read = (): string => {
    const token = readCredentialFile(file, what).toString('utf8').trim();
    const problem = tokenProblem(token);
    if (problem) throw new ApiAccessError(`${what} ${file} ${problem}`);
    return token;
  };
  let token = read();
  let readAt = now();
  let stale = false;
  const header = (): string => {
    if (stale || now() - readAt >= TOKEN_REREAD_MILLIS) {
      stale = false;
      try {
        token = read();
      } catch (e) {
        // keep the last token: the kubelet replaces the file atomically, a failed read is a passing state
        warn(`${(e as Error).message}; the last good token is kept`);
      }
      readAt = now();
    }
    return `Bearer ${token}`;
  };
  return Object.assign(header, { reread: () => void (stale = true) });
}

/** The in-cluster service account (KUBERNETES_SERVICE_HOST/PORT, the mounted token and CA). */
export function inClusterAccess(env: NodeJS.ProcessEnv = process.env, dir = SERVICE_ACCOUNT_DIR, warn?: (line: string) => void): ApiAccess {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new ApiAccessError('not in a cluster (KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set) and no kubeconfig given');
  const server = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`);
  const ca = readCredentialFile(path.join(dir, 'ca.crt'), 'service account CA');
  const token = tokenFromFile(path.join(dir, 'token'), 'service account token', warn);
  return { server, ca, insecure: false, authorization: token, rejected: token.reread };
}

type Obj = Record<string, unknown>;


/** The entry of a kubeconfig list (clusters, users, contexts) with this name. */
function named(config: Obj, list: string, name: string, inner: string): Obj {
  const entries = config[list];
  if (!Array.isArray(entries)) throw new ApiAccessError(`kubeconfig has no ${list} list`);
  const entry = entries.find((e) => isRecord(e) && e.name === name) as Obj | undefined;
  if (!entry) throw new ApiAccessError(`kubeconfig has no ${list.slice(0, -1)} named "${name}"`);
  const body = entry[inner];
  if (!isRecord(body)) throw new ApiAccessError(`kubeconfig ${list.slice(0, -1)} "${name}" has no ${inner}`);
  return body;
}

function optionalString(o: Obj, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw new ApiAccessError(`kubeconfig ${where}.${key} must be a string`);
  return v;
}

/** base64 data of a kubeconfig field, or a file it names (relative to the kubeconfig). */
function dataOrFile(o: Obj, field: string, where: string, baseDir: string): Buffer | undefined {
  const data = optionalString(o, `${field}-data`, where);
  if (data !== undefined) {
    if (!/^[A-Za-z0-9+/=\s]*$/.test(data)) throw new ApiAccessError(`kubeconfig ${where}.${field}-data is not base64`);
    return Buffer.from(data, 'base64');
  }
  const file = optionalString(o, field, where);
  return file === undefined ? undefined : readCredentialFile(path.resolve(baseDir, file), `kubeconfig ${where}.${field}`);
}

/**
 * The current context of a kubeconfig's text: its cluster's server and CA, its
 * user's credentials. Files it names are read relative to `baseDir`. Pure but
 * for those files.
 */
export function accessFromKubeconfig(text: string, baseDir: string, warn?: (line: string) => void): ApiAccess {
  let config: unknown;
  try {
    config = parseYaml(text);
  } catch (e) {
    throw new ApiAccessError(`kubeconfig is not YAML (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isRecord(config)) throw new ApiAccessError('kubeconfig is not a mapping');
  const contextName = optionalString(config, 'current-context', 'kubeconfig');
  if (!contextName) throw new ApiAccessError('kubeconfig has no current-context');
  const context = named(config, 'contexts', contextName, 'context');
  const clusterName = optionalString(context, 'cluster', `context "${contextName}"`);
  if (!clusterName) throw new ApiAccessError(`kubeconfig context "${contextName}" names no cluster`);
  const cluster = named(config, 'clusters', clusterName, 'cluster');
  const where = `cluster "${clusterName}"`;
  const serverText = optionalString(cluster, 'server', where);
  if (!serverText) throw new ApiAccessError(`kubeconfig ${where} has no server`);
  let server: URL;
  try {
    server = new URL(serverText);
  } catch {
    throw new ApiAccessError(`kubeconfig ${where}.server is not a URL`);
  }
  if (server.protocol !== 'https:' && server.protocol !== 'http:') throw new ApiAccessError(`kubeconfig ${where}.server must be https:// (or http://)`);
  if (optionalString(cluster, 'proxy-url', where) !== undefined) {
    throw new ApiAccessError(`kubeconfig ${where}.proxy-url is set: bindsnoop reaches the API server directly, not through a proxy; remove proxy-url or use a kubeconfig without it`);
  }
  const insecure = cluster['insecure-skip-tls-verify'] === true;
  const access: ApiAccess = {
    server,
    ca: dataOrFile(cluster, 'certificate-authority', where, baseDir),
    insecure,
    serverName: optionalString(cluster, 'tls-server-name', where),
    authorization: () => undefined,
  };
  const userName = optionalString(context, 'user', `context "${contextName}"`);
  if (!userName) return access;
  const user = named(config, 'users', userName, 'user');
  const uw = `user "${userName}"`;
  if (user.exec !== undefined || user['auth-provider'] !== undefined) {
    throw new ApiAccessError(`kubeconfig ${uw} gets its credentials from ${user.exec !== undefined ? 'an exec plugin' : 'an auth provider'}, which bindsnoop does not run: give it a token, a token file or a client certificate`);
  }
  access.cert = dataOrFile(user, 'client-certificate', uw, baseDir);
  access.key = dataOrFile(user, 'client-key', uw, baseDir);
  if ((access.cert === undefined) !== (access.key === undefined)) throw new ApiAccessError(`kubeconfig ${uw} needs both client-certificate and client-key`);
  const token = optionalString(user, 'token', uw);
  const tokenFile = optionalString(user, 'tokenFile', uw);
  const username = optionalString(user, 'username', uw);
  if (token !== undefined) {
    const problem = tokenProblem(token);
    if (problem) throw new ApiAccessError(`kubeconfig ${uw}.token ${problem}`);
    access.authorization = () => `Bearer ${token}`;
  } else if (tokenFile !== undefined) {
    const fileToken = tokenFromFile(path.resolve(baseDir, tokenFile), `kubeconfig ${uw}.tokenFile`, warn);
    access.authorization = fileToken;
    access.rejected = fileToken.reread;
  } else if (username !== undefined) {
    const basic = `Basic ${Buffer.from(`${username}:${optionalString(user, 'password', uw) ?? ''}`).toString('base64')}`;
    access.authorization = () => basic;
  }
  const as = optionalString(user, 'as', uw);
  const groups = user['as-groups'];
  if (groups !== undefined && groups !== null && !(Array.isArray(groups) && groups.every((g) => typeof g === 'string'))) throw new ApiAccessError(`kubeconfig ${uw}.as-groups must be a list of strings`);
  if (user['as-user-extra'] !== undefined || user['as-uid'] !== undefined) throw new ApiAccessError(`kubeconfig ${uw} sets as-user-extra or as-uid, which bindsnoop does not send: use as and as-groups only`);
  const asGroups = (groups ?? []) as string[];
  if (as === undefined && asGroups.length > 0) throw new ApiAccessError(`kubeconfig ${uw}.as-groups needs as (the user to act as)`);
  for (const [field, value] of [['as', as ?? ''], ...asGroups.map((g) => ['as-groups', g])] as const) {
    if (/[^\x20-\x7e]/.test(value)) throw new ApiAccessError(`kubeconfig ${uw}.${field} holds a character a request header cannot carry`);
  }
  if (as !== undefined) access.impersonate = { user: as, groups: asGroups };
  return access;
}

/**
 * The access of a kubeconfig file, or of the in-cluster service account when
 * `kubeconfig` is empty. A list (KUBECONFIG=a:b) is not merged as kubectl
 * merges it: the first file of it that exists is used, and a warning names the
 * others that exist.
 */
export function loadApiAccess(kubeconfig: string, env: NodeJS.ProcessEnv = process.env, warn: (line: string) => void = () => undefined): ApiAccess {
  if (!kubeconfig) return inClusterAccess(env, SERVICE_ACCOUNT_DIR, warn);
  let file = kubeconfig;
  const list = kubeconfig.split(path.delimiter).filter(Boolean);
  if (list.length > 1) {
    const present = list.filter((f) => existsSync(f));
    if (present.length === 0) throw new ApiAccessError(`none of the kubeconfig files ${list.join(', ')} exists`);
    if (present.length > 1) warn(`kubeconfig: using ${present[0]} only; bindsnoop does not merge kubeconfig files (${present.slice(1).join(', ')} not read)`);
    file = present[0];
  }
  const text = readCredentialFile(file, 'kubeconfig').toString('utf8');
  return accessFromKubeconfig(text, path.dirname(path.resolve(file)), warn);
}
