import { describe, expect, it } from 'vitest';
import { formatCountTable } from '../../src/output/count';
import { returnCodeText, tableHeader, TableFormatter, terminalBytes } from '../../src/output/table';
import { FLAG_EXE_DELETED } from '../../src/model/event';
import { addr4, exeNames, makeEvent } from './events';

// Expected strings were produced by Python's % operator with bcc's format strings.
describe('the table in bcc\'s layout', () => {
  const plain = { timestamp: false, wide: false, errors: false, printUid: false };

  it('has bcc\'s headers for every flag combination', () => {
    expect(tableHeader(plain)).toBe('     PID COMM         PROT ADDR            PORT   OPTS IF');
    expect(tableHeader({ timestamp: true, printUid: true, errors: true, wide: true })).toBe(
      'TIME(s)      UID RC                               PID COMM         PROT ADDR                                    PORT   OPTS IF',
    );
    expect(tableHeader({ ...plain, errors: true })).toBe(' RC      PID COMM         PROT ADDR            PORT   OPTS IF');
    expect(tableHeader({ ...plain, timestamp: true })).toBe('TIME(s)        PID COMM         PROT ADDR            PORT   OPTS IF');
  });

  it('formats a row, truncating COMM to 12 and ADDR to 15 as bcc does', () => {
    const t = new TableFormatter({ ...plain, timestamp: true, printUid: true, errors: true });
    const row = t.row(
      makeEvent({
        comm: Buffer.from('tbl-probe-long'),
        family: 10,
        boundAddr: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0xaa, 0xaa, 0xbb, 0xbb, 0, 0, 0, 0, 0, 0, 0, 1]),
        boundPort: 4555,
        opts: 0b01000,
        ret: 0,
      }),
    );
    expect(row).toBe('0.000000       0   0     1234 tbl-probe-lo TCP  2001:db8:aaaa:b  4555 ...R.  0');
  });

  it('shows a failed bind with the requested address and port, RC as a number or with -w its errno name', () => {
    const failed = makeEvent({ ret: -99, boundPort: 0, reqAddr: addr4(192, 0, 2, 7), reqPort: 8080 });
    expect(new TableFormatter({ ...plain, errors: true }).row(failed)).toBe(
      '-99     1234 nginx        TCP  192.0.2.7        8080 .....  0',
    );
    expect(new TableFormatter({ ...plain, errors: true, wide: true }).row(failed)).toBe(
      'EADDRNOTAVAIL                   1234 nginx        TCP  192.0.2.7                                8080 .....  0',
    );
    expect(returnCodeText(0, true)).toBe('Success');
    expect(returnCodeText(-98, false)).toBe('-98');
  });

  it('counts TIME(s) in microseconds from the first event printed', () => {
    const t = new TableFormatter({ ...plain, timestamp: true });
    const at = (ns: bigint): string => t.row(makeEvent({ tsBootNs: ns })).slice(0, 10);
    expect(at(5_000_123_999n)).toBe('0.000000  ');
    expect(at(5_000_124_999n)).toBe('0.000001  ');
    expect(at(7_500_000_000n)).toBe('2.499877  '); // 7_500_000 us - 5_000_123 us
    expect(at(1_005_000_123_999n)).toBe('1000.000000 '.slice(0, 10));
  });

  it('writes the protocol name bcc uses, UNKNOWN otherwise', () => {
    const row = (protocol: number): string => new TableFormatter(plain).row(makeEvent({ protocol })).slice(22, 26);
    expect([row(6), row(17), row(132), row(262), row(136), row(255), row(999)]).toEqual(['TCP ', 'UDP ', 'SCTP', 'MPTC', 'UDPL', 'RAW ', 'UNKN']);
  });

  it('prints a comm\'s valid UTF-8 as it is and escapes bytes that are not UTF-8, in bcc\'s columns', () => {
    const row = (comm: Uint8Array): string => new TableFormatter(plain).row(makeEvent({ comm }));
    // a valid name: its characters, padded to bcc's 12 columns
    expect(row(Buffer.from('✓ok'))).toBe(new TableFormatter(plain).row(makeEvent({ comm: Buffer.from('xok') })).replace('xok', '✓ok'));
    expect(terminalBytes(row(Buffer.from('✓ok'))).includes(Buffer.from('✓ok'))).toBe(true);
    // bytes that are no UTF-8: each escaped, never sent raw
    expect(row(new Uint8Array([0x63, 0xe9, 0xff]))).toContain(' c\\xe9\\xff    ');
    // a C1 control, valid UTF-8 (C2 9B, the CSI): both its bytes escaped, no raw lead byte
    expect(row(new Uint8Array([0x61, 0xc2, 0x9b, 0x62]))).toContain(' a\\xc2\\x9bb ');
    // eslint-disable-next-line no-control-regex -- what must not reach a terminal
    for (const r of [row(Buffer.from('✓ok')), row(new Uint8Array([0xc2, 0x9b]))]) expect(r).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
  });

  it('cuts COMM at a character, never inside an escape or a character', () => {
    const comm = (bytes: number[]): string => new TableFormatter(plain).row(makeEvent({ comm: new Uint8Array(bytes) })).slice(9, 21);
    // 'abcdefgh' then \x08 (4 columns): 12 exactly
    expect(comm([...Buffer.from('abcdefgh'), 0x08])).toBe('abcdefgh\\x08');
    // 'abcdefghi' then \x08: the escape does not fit whole, so it is left out, not cut to '\x0'
    expect(comm([...Buffer.from('abcdefghi'), 0x08])).toBe('abcdefghi   ');
    // eleven letters and an emoji (two columns as a string): the emoji is left out whole
    expect(comm([...Buffer.from('abcdefghijk'), ...Buffer.from('🙂')])).toBe('abcdefghijk ');
  });
  it('adds PPID and EXE with --exe (not in bcc), after IF and before -K\'s columns, raw bytes and escaped controls', () => {
    const exe = { ...plain, exe: true };
    // bcc's columns unchanged, the two appended
    expect(tableHeader(exe)).toBe(`${tableHeader(plain)}    PPID EXE`);
    expect(new TableFormatter(exe).row(makeEvent({ ppid: 77 }))).toBe(`${new TableFormatter(plain).row(makeEvent())}      77 /usr/sbin/nginx`);
    expect(new TableFormatter(exe).row(makeEvent({ flags: FLAG_EXE_DELETED, exeNames: exeNames('/tmp/\x1b[2Jx\xe9') }))).toContain(' /tmp/\\x1b[2Jx\u00e9 (deleted)');
    // a kernel thread: no executable, an empty column
    expect(new TableFormatter(exe).row(makeEvent({ ppid: 2, exeNames: new Uint8Array() }))).toMatch(/ {6}2$/);
    const k = new TableFormatter({ ...exe, kubernetes: true });
    expect(k.header()).toMatch(/ IF {4}PPID EXE {30}NAMESPACE {8}POD/);
    expect(k.row(makeEvent(), { podUid: 'u', containerId: 'c', namespace: 'default', pod: 'web', container: 'nginx', service: {} })).toMatch(/ 0 {7}1 \/usr\/sbin\/nginx {18}default {10}web {30}nginx$/);
  });
});

describe('the --count table', () => {
  it('escapes control characters in COMM and pod names, so no process can forge a row or drive the terminal', () => {
    const t = new TableFormatter({ timestamp: false, wide: false, errors: false, printUid: false, kubernetes: true });
    const row = t.row(makeEvent({ comm: Buffer.from('\nFAKE 1 ROW\r') }), { podUid: 'u', containerId: 'c', namespace: 'ns\x1b[2J', pod: 'p\x07', container: 'c\x9b', service: {} });
    // eslint-disable-next-line no-control-regex -- what must not reach a terminal
    expect(row).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
    expect(row).toContain('\\x0aFAKE 1 R');
    expect(row).toContain('ns\\x1b[2J');
    expect(row).toContain('p\\x07');
    expect(row).toContain('c\\x9b');
  });

  it('lists most binds first, IPv4 before IPv6 on a tie, in bcc\'s format', () => {
    const text = formatCountTable([
      { family: 10, addr: new Uint8Array(16), port: 443, binds: 2n },
      { family: 2, addr: addr4(127, 0, 0, 1), port: 4555, binds: 3n },
      { family: 2, addr: addr4(0, 0, 0, 0), port: 6771, binds: 2n },
    ]);
    expect(text).toBe(
      [
        '',
        'LADDR                                           LPORT     BINDS     ',
        '127.0.0.1                                        4555     3         ',
        '0.0.0.0                                          6771     2         ',
        '::                                                443     2         ',
        '',
      ].join('\n'),
    );
  });
});
