import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { accessFromKubeconfig, ApiAccessError, inClusterAccess, loadApiAccess, tokenFromFile } from '../../src/kubernetes/api-access';

const dir = mkdtempSync(path.join(tmpdir(), 'access-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kubeconfig = (user: string, cluster = 'server: https://10.0.0.1:6443'): string =>
  [
    'apiVersion: v1',
    'kind: Config',
    'current-context: c',
    'contexts: [{name: c, context: {cluster: k, user: u}}]',
    `clusters: [{name: k, cluster: {${cluster}}}]`,
    `users: [{name: u, user: {${user}}}]`,
  ].join('\n');

describe('reaching the API from a kubeconfig', () => {
  it('takes the current context: server, CA data, a token', () => {
    const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n');
    const a = accessFromKubeconfig(kubeconfig('token: abc', `server: "https://10.0.0.1:6443", certificate-authority-data: ${ca.toString('base64')}, tls-server-name: api`), dir);
    expect(a.server.href).toBe('https://10.0.0.1:6443/');
    expect(a.ca).toEqual(ca);
    expect(a.serverName).toBe('api');
    expect(a.insecure).toBe(false);
    expect(a.authorization()).toBe('Bearer abc');
  });

  it('reads a token file, a client certificate and key by path relative to the kubeconfig, or a user name and password', () => {
    writeFileSync(path.join(dir, 'token'), 'from-file\n');
    writeFileSync(path.join(dir, 'c.pem'), 'CERT');
    writeFileSync(path.join(dir, 'k.pem'), 'KEY');
    expect(accessFromKubeconfig(kubeconfig('tokenFile: token'), dir).authorization()).toBe('Bearer from-file');
    const mtls = accessFromKubeconfig(kubeconfig('client-certificate: c.pem, client-key: k.pem'), dir);
    expect([mtls.cert?.toString(), mtls.key?.toString(), mtls.authorization()]).toEqual(['CERT', 'KEY', undefined]);
    expect(accessFromKubeconfig(kubeconfig('username: admin, password: s3cret'), dir).authorization()).toBe(`Basic ${Buffer.from('admin:s3cret').toString('base64')}`);
  });

  it('reads a token file again at the next request once the server refused the token (401), not before', () => {
    const file = path.join(dir, 'refused');
    writeFileSync(file, 'old');
    const now = 0;
    const token = tokenFromFile(file, 'token file', () => undefined, () => now);
    expect(token()).toBe('Bearer old');
    writeFileSync(file, 'new');
    expect(token()).toBe('Bearer old');
    token.reread();
    expect(token()).toBe('Bearer new');
    writeFileSync(file, 'newer');
    expect(token()).toBe('Bearer new');
    // in-cluster and kubeconfig token files are wired to the client's 401
    const sa = path.join(dir, 'sa-refused');
    mkdirSync(sa, { recursive: true });
    writeFileSync(path.join(sa, 'token'), 'first');
    writeFileSync(path.join(sa, 'ca.crt'), 'ca');
    const access = inClusterAccess({ KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '1' }, sa);
    writeFileSync(path.join(sa, 'token'), 'second');
    access.rejected!();
    expect(access.authorization()).toBe('Bearer second');
  });

  it('reads a token file again once a minute (the kubelet rotates projected tokens)', () => {
    const file = path.join(dir, 'rotating');
    writeFileSync(file, 'one');
    let now = 0;
    const warnings: string[] = [];
    const token = tokenFromFile(file, 'token file', (l) => warnings.push(l), () => now);
    expect(token()).toBe('Bearer one');
    writeFileSync(file, 'two');
    now = 59_000;
    expect(token()).toBe('Bearer one');
    now = 60_000;
    expect(token()).toBe('Bearer two');
    rmSync(file);
    now = 200_000;
    expect(token()).toBe('Bearer two'); // a failed read keeps the last token
    expect(warnings).toEqual([expect.stringMatching(/^token file .*rotating: ENOENT; the last good token is kept$/)]);
  });

  it.each<[string, string, RegExp]>([
    ['not YAML', 'a: [', /kubeconfig is not YAML/],
    ['not a mapping', '- 1', /kubeconfig is not a mapping/],
    ['no current context', 'clusters: []', /no current-context/],
    ['a context that does not exist', kubeconfig('token: x').replace('current-context: c', 'current-context: other'), /no context named "other"/],
    ['an exec plugin', kubeconfig('exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}'), /user "u" gets its credentials from an exec plugin, which bindsnoop does not run/],
    ['an auth provider', kubeconfig('auth-provider: {name: gcp}'), /from an auth provider/],
    ['a certificate without its key', kubeconfig('client-certificate-data: QQ=='), /needs both client-certificate and client-key/],
    ['a server that is not a URL', kubeconfig('token: x', 'server: "not a url"'), /cluster "k"\.server is not a URL/],
    ['a server of another scheme', kubeconfig('token: x', 'server: "ftp://x"'), /must be https:\/\//],
    ['CA data that is not base64', kubeconfig('token: x', 'server: "https://x", certificate-authority-data: "*&^"'), /certificate-authority-data is not base64/],
    ['a token with a line break', kubeconfig('token: "a\\r\\nX-Evil: 1"'), /token holds a character a request header cannot carry \(U\+000D at 1\)/],
    ['a token that is a number', kubeconfig('token: 5'), /user "u"\.token must be a string/],
    ['a missing token file', kubeconfig('tokenFile: /nonexistent/token'), /tokenFile \/nonexistent\/token: ENOENT/],
    ['a CA that is a device', kubeconfig('token: x', 'server: "https://x", certificate-authority: /dev/zero'), /\/dev\/zero is not a regular file/],
  ])('refuses a kubeconfig with %s, naming what is wrong', (_what, text, message) => {
    expect(() => accessFromKubeconfig(text, dir)).toThrow(ApiAccessError);
    expect(() => accessFromKubeconfig(text, dir)).toThrow(message);
  });

  it.each<[string, string, RegExp]>([
    ['a token with a control character', 'token: "ab\\x01c"', /user "u"\.token holds a character a request header cannot carry \(U\+0001 at 2\)/],
    ['a token with a euro sign', 'token: "ab€"', /user "u"\.token holds a character a request header cannot carry \(U\+20AC at 2\)/],
    ['an empty token file', 'tokenFile: empty-token', /tokenFile .*empty-token is empty/],
    ['a token file with a euro sign', 'tokenFile: euro-token', /tokenFile .*euro-token holds a character a request header cannot carry \(U\+20AC/],
  ])('refuses %s at start: every request would fail', (_what, user, message) => {
    writeFileSync(path.join(dir, 'empty-token'), '\n');
    writeFileSync(path.join(dir, 'euro-token'), 'tok€n\n');
    expect(() => accessFromKubeconfig(kubeconfig(user), dir)).toThrow(message);
  });

  it('a token file that becomes unusable keeps the last good token, with a warning', () => {
    const file = path.join(dir, 'turns-bad');
    writeFileSync(file, 'good');
    let now = 0;
    const warnings: string[] = [];
    const token = tokenFromFile(file, 'token file', (l) => warnings.push(l), () => now);
    writeFileSync(file, 'bad\x01token');
    now = 60_000;
    expect(token()).toBe('Bearer good');
    expect(warnings).toEqual([expect.stringMatching(/^token file .*turns-bad holds a character a request header cannot carry \(U\+0001 at 3\): a token is visible ASCII; the last good token is kept$/)]);
  });

  it('acts as the kubeconfig\'s as and as-groups (impersonation), and refuses what it cannot send', () => {
    const a = accessFromKubeconfig(kubeconfig('token: abc, as: auditor, as-groups: [viewers, ops]'), dir);
    expect(a.impersonate).toEqual({ user: 'auditor', groups: ['viewers', 'ops'] });
    expect(() => accessFromKubeconfig(kubeconfig('token: abc, as-groups: [ops]'), dir)).toThrow(/as-groups needs as/);
    expect(() => accessFromKubeconfig(kubeconfig('token: abc, as: a, as-user-extra: {k: [v]}'), dir)).toThrow(/as-user-extra or as-uid, which bindsnoop does not send/);
  });

  it('refuses a cluster reached through proxy-url (it would be ignored)', () => {
    expect(() => accessFromKubeconfig(kubeconfig('token: abc', 'server: "https://10.0.0.1:6443", proxy-url: "http://proxy:3128"'), dir)).toThrow(/cluster "k"\.proxy-url is set: bindsnoop reaches the API server directly/);
  });

  it('KUBECONFIG=a:b uses the first file that exists and says the others are not merged; none existing is named', () => {
    const second = path.join(dir, 'second-config');
    writeFileSync(second, kubeconfig('token: from-second'));
    const third = path.join(dir, 'third-config');
    writeFileSync(third, kubeconfig('token: from-third'));
    const warnings: string[] = [];
    const a = loadApiAccess([path.join(dir, 'missing'), second, third].join(':'), {}, (l) => warnings.push(l));
    expect(a.authorization()).toBe('Bearer from-second');
    expect(warnings).toEqual([`kubeconfig: using ${second} only; bindsnoop does not merge kubeconfig files (${third} not read)`]);
    expect(() => loadApiAccess(`${path.join(dir, 'x')}:${path.join(dir, 'y')}`)).toThrow(/none of the kubeconfig files .*x, .*y exists/);
  });

  it('refuses a kubeconfig file that is a FIFO, a device or larger than 1 MiB', () => {
    expect(() => loadApiAccess('/dev/zero')).toThrow(/kubeconfig \/dev\/zero is not a regular file/);
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(() => loadApiAccess(fifo)).toThrow(/kubeconfig .*fifo is not a regular file/);
    const big = path.join(dir, 'big');
    writeFileSync(big, 'x'.repeat(1024 * 1024 + 1));
    expect(() => loadApiAccess(big)).toThrow(/kubeconfig .*big is larger than 1048576 bytes/);
  });
});

describe('reaching the API from inside the cluster', () => {
  it('uses KUBERNETES_SERVICE_HOST/PORT, the mounted CA and token', () => {
    const sa = mkdtempSync(path.join(dir, 'sa-'));
    writeFileSync(path.join(sa, 'ca.crt'), 'CA');
    writeFileSync(path.join(sa, 'token'), 'sa-token');
    const a = inClusterAccess({ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, sa);
    expect(a.server.href).toBe('https://[fd00::1]/');
    expect(a.ca?.toString()).toBe('CA');
    expect(a.authorization()).toBe('Bearer sa-token');
    expect(() => inClusterAccess({}, sa)).toThrow(/not in a cluster/);
    expect(() => inClusterAccess({ KUBERNETES_SERVICE_HOST: 'h', KUBERNETES_SERVICE_PORT: '1' }, path.join(dir, 'none'))).toThrow(/service account CA .*ENOENT/);
  });
});
