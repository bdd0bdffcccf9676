import { sprintf } from 'sprintf-js';
import { expect, it } from 'vitest';
import { Agent, describePrivileged, OWN_UID, runBinds, TRACING_LINE } from './harness';

// Expected text comes from bcc's bindsnoop.py format strings (and, for the
// fixed lines, Python's own % operator), never from the code under test.
const BCC_ROW = '%8d %-12.12s %-4.4s %-15.15s %5d %-5s %2d';
const BCC_WIDE_ROW = '%10d %-12.12s %-4s %-39s %5d %-5s %2d';

describePrivileged('the table, byte for byte as bcc prints it', () => {
  it('prints bcc\'s banner, header and rows', async () => {
    const agent = await Agent.start([]);
    const run = runBinds([
      '--netns',
      '--comm',
      'tbl-probe-long-name',
      'tcp,4,127.0.0.1,4555,R',
      'udp,6,::1,4556,Fr',
      'tcp,6,2001:db8:aaaa:bbbb::1,80,F',
    ]);
    const mine = await agent.waitFor(() => {
      const rows = agent.lines().filter((l) => l.slice(0, 8).trim() === String(run.pid));
      return rows.length >= 3 ? rows : undefined;
    }, 'three table rows');
    const lines = agent.lines();
    expect(lines[0]).toBe(TRACING_LINE);
    expect(lines[1]).toBe('     PID COMM         PROT ADDR            PORT   OPTS IF');
    expect(mine).toEqual([
      sprintf(BCC_ROW, run.pid, 'tbl-probe-long-name'.slice(0, 15), 'TCP', '127.0.0.1', 4555, '...R.', 0),
      sprintf(BCC_ROW, run.pid, 'tbl-probe-long-name', 'UDP', '::1', 4556, 'F...r', 0),
      // IP_FREEBIND lets it bind an address this namespace does not have; ADDR is cut at 15 as in bcc
      sprintf(BCC_ROW, run.pid, 'tbl-probe-long-name', 'TCP', '2001:db8:aaaa:bbbb::1', 80, 'F....', 0),
    ]);
    expect(mine[2]).toBe(`${String(run.pid).padStart(8)} tbl-probe-lo TCP  2001:db8:aaaa:b    80 F....  0`);
    expect((await agent.stop('SIGINT')).code).toBe(0);
  });

  it('adds TIME(s), UID and RC in bcc\'s order; -w widens and names the errno', async () => {
    const agent = await Agent.start(['-t', '-U', '-E', '-w']);
    const run = runBinds(['--netns', '--comm', 'tbl-wide', 'tcp,6,::1,4557', 'tcp,6,::1,4557', 'udp,4,127.0.0.1,4558']);
    expect(run.results).toEqual(['ok 4557', 'err 98', 'ok 4558']);
    const mine = await agent.waitFor(() => {
      const rows = agent.lines().filter((l) => l.includes(' tbl-wide '));
      return rows.length >= 3 ? rows : undefined;
    }, 'three wide rows');
    expect(agent.lines()[1]).toBe(
      'TIME(s)      UID RC                               PID COMM         PROT ADDR                                    PORT   OPTS IF',
    );
    const times = mine.map((l) => Number(l.slice(0, 10)));
    expect(mine.map((l) => l.slice(10))).toEqual([
      sprintf('%6d %-25s ' + BCC_WIDE_ROW, 0, 'Success', run.pid, 'tbl-wide', 'TCP', '::1', 4557, '.....', 0),
      sprintf('%6d %-25s ' + BCC_WIDE_ROW, 0, 'EADDRINUSE', run.pid, 'tbl-wide', 'TCP', '::1', 4557, '.....', 0),
      sprintf('%6d %-25s ' + BCC_WIDE_ROW, 0, 'Success', run.pid, 'tbl-wide', 'UDP', '127.0.0.1', 4558, '.....', 0),
    ]);
    // seconds since the first event, "%-9.6f "
    for (const l of mine) expect(l.slice(0, 10)).toMatch(/^\d+\.\d{6} +$/);
    expect(times[0]).toBeGreaterThanOrEqual(0);
    expect(times[1]).toBeGreaterThanOrEqual(times[0]);
    expect(times[2]).toBeGreaterThanOrEqual(times[1]);
    await agent.stop();
  });

  it('names MPTCP (protocol 262, beyond bcc\'s 8 bits) and UDP-Lite as bcc would, cut to four columns', async () => {
    const agent = await Agent.start([]);
    const run = runBinds(['--netns', '--comm', 'tbl-proto', 'mptcp,4,127.0.0.1,4570', 'udplite,6,::1,4571']);
    expect(run.results).toEqual(['ok 4570', 'ok 4571']);
    const mine = await agent.waitFor(() => {
      const rows = agent.lines().filter((l) => l.includes(' tbl-proto '));
      return rows.length >= 2 ? rows : undefined;
    }, 'two rows');
    expect(mine).toEqual([
      sprintf(BCC_ROW, run.pid, 'tbl-proto', 'MPTCP', '127.0.0.1', 4570, '.....', 0),
      sprintf(BCC_ROW, run.pid, 'tbl-proto', 'UDPLITE', '::1', 4571, '.....', 0),
    ]);
    expect(mine[0]).toContain(' MPTC 127.0.0.1 ');
    await agent.stop();
  });

  it('shows RC as the number without -w', async () => {
    const agent = await Agent.start(['-E']);
    const run = runBinds(['--netns', '--comm', 'tbl-rc', 'tcp,4,127.0.0.1,4559', 'tcp,4,127.0.0.1,4559']);
    const mine = await agent.waitFor(() => {
      const rows = agent.lines().filter((l) => l.includes(' tbl-rc '));
      return rows.length >= 2 ? rows : undefined;
    }, 'two rows');
    expect(agent.lines()[1]).toBe(' RC      PID COMM         PROT ADDR            PORT   OPTS IF');
    expect(mine).toEqual([
      sprintf('%3s ' + BCC_ROW, '0', run.pid, 'tbl-rc', 'TCP', '127.0.0.1', 4559, '.....', 0),
      sprintf('%3s ' + BCC_ROW, '-98', run.pid, 'tbl-rc', 'TCP', '127.0.0.1', 4559, '.....', 0),
    ]);
    await agent.stop();
  });

  it('--count prints bcc\'s table of binds per address and port on exit, most first', async () => {
    const agent = await Agent.start(['--count']);
    runBinds(['--netns', 'tcp,4,127.0.0.1,4561', 'udp,4,127.0.0.1,4561', 'udp,6,::1,4562']);
    runBinds(['--netns', 'tcp,4,127.0.0.1,4561']);
    runBinds(['--netns', 'tcp,4,127.0.0.1,4560']);
    // counts live in the kernel: nothing is printed until the end
    await new Promise((r) => setTimeout(r, 150));
    expect(agent.lines()).toEqual([TRACING_LINE]);
    expect((await agent.stop('SIGTERM')).code).toBe(0);
    const lines = agent.stdout.split('\n');
    expect(lines.slice(0, 3)).toEqual([
      TRACING_LINE,
      '',
      'LADDR                                           LPORT     BINDS     ',
    ]);
    const row = (addr: string, port: number, n: number): string => sprintf('%s     %-10d', sprintf('%-32s %20s', addr, String(port)), n);
    const rows = lines.slice(3);
    const mine = rows.filter((l) => / (4560|4561|4562) {5}/.test(l));
    expect(mine).toEqual([row('127.0.0.1', 4561, 3), row('127.0.0.1', 4560, 1), row('::1', 4562, 1)]);
    expect(mine[0]).toBe('127.0.0.1                                        4561     3         ');
  });

  it('--count -o json prints the counts as JSON lines (the records\' names), most first, and nothing else on stdout', async () => {
    const agent = await Agent.start(['--count', '-o', 'json', '-P', '4563,4564']);
    runBinds(['--netns', 'tcp,4,127.0.0.1,4563', 'udp,4,127.0.0.1,4563', 'tcp,6,::1,4564']);
    await new Promise((r) => setTimeout(r, 150));
    expect((await agent.stop('SIGTERM')).code).toBe(0);
    // the tracing line goes to stderr, as with -o json: stdout is data only
    expect(agent.stderr).toContain(TRACING_LINE);
    expect(agent.jsonRecords()).toEqual([
      { 'network.local.address': '127.0.0.1', 'network.local.port': 4563, 'network.type': 'ipv4', 'bindsnoop.binds': 2 },
      { 'network.local.address': '::1', 'network.local.port': 4564, 'network.type': 'ipv6', 'bindsnoop.binds': 1 },
    ]);
    expect(agent.lines().every((l) => l.startsWith('{'))).toBe(true);
  });

  it('-q with nothing exported says so at start and what it traced at the end (it printed nothing before)', async () => {
    const agent = await Agent.start(['-q', '-u', String(OWN_UID)]);
    expect(agent.stderr).toContain('bindsnoop: -q and no OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, otlp.endpoint): binds are traced and counted, not printed or exported\n');
    runBinds(['--netns', '--uid', String(OWN_UID), 'tcp,4,127.0.0.1,0', 'udp,4,127.0.0.1,0']);
    await new Promise((r) => setTimeout(r, 150));
    expect((await agent.stop('SIGTERM')).code).toBe(0);
    expect(agent.stdout).toBe('');
    expect(agent.stderr).toContain('bindsnoop: traced 2 binds (-q: none printed)\n');
  });

  it('decodes a request by its own family, in the table and --count -E alike (an IPv4 address given to an IPv6 socket and back)', async () => {
    const table = await Agent.start(['-E', '-w', '-P', '4570,4571']);
    const run = runBinds(['--netns', 'tcp,6a4,127.0.0.1,4570', 'udp,4a6,::1,4571']);
    expect(run.results).toEqual(['err 97', 'err 97']);
    await table.waitFor(() => table.lines().length >= 4, 'two rows');
    const rows = table.lines().slice(2);
    expect(rows[0]).toMatch(/^EAFNOSUPPORT\s+\d+ bind_helper\s+TCP {2}127\.0\.0\.1\s+4570 \.\.\.\.\. {2}0$/);
    expect(rows[1]).toMatch(/^EAFNOSUPPORT\s+\d+ bind_helper\s+UDP {2}::1\s+4571 \.\.\.\.\. {2}0$/);
    await table.stop();

    const count = await Agent.start(['--count', '-E', '-P', '4570,4571']);
    runBinds(['--netns', 'tcp,6a4,127.0.0.1,4570', 'udp,4a6,::1,4571']);
    await new Promise((r) => setTimeout(r, 150));
    expect((await count.stop('SIGTERM')).code).toBe(0);
    const counted = count.stdout.split('\n').filter((l) => / (4570|4571) {5}/.test(l));
    expect(counted.sort()).toEqual([sprintf('%-32s %20s     %-10d', '127.0.0.1', '4570', 1), sprintf('%-32s %20s     %-10d', '::1', '4571', 1)].sort());
  });
});
