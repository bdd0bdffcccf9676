import { describe, expect, it } from 'vitest';
import { apiPod } from '../../src/kubernetes/pod-api';
import { wellFormed, wellFormedJson } from '../../src/model/text';
import { jsonEncoding } from '../../src/otlp/encode';
import { formatJsonLine } from '../../src/output/json';

/** What a strict decoder (protobuf's json_format) checks of JSON text: it parses, and every string is well-formed UTF-16. */
function strictlyDecodable(text: string): boolean {
  const ok = (v: unknown): boolean =>
    typeof v === 'string' ? wellFormed(v) === v : Array.isArray(v) ? v.every(ok) : v !== null && typeof v === 'object' ? Object.entries(v).every(([k, x]) => ok(k) && ok(x)) : true;
  return ok(JSON.parse(text));
}

describe('strings every reader takes', () => {
  it('replaces lone surrogates, and only those', () => {
    expect(wellFormed('cart-\ud800x')).toBe('cart-\ufffdx');
    expect(wellFormed('\udc00')).toBe('\ufffd');
    expect(wellFormed('pair \ud83d\ude00 ok')).toBe('pair \ud83d\ude00 ok');
    expect(wellFormed('plain')).toBe('plain');
  });

  it('JSON text: a lone surrogate escape becomes U+FFFD, an escaped backslash before "ud800" stays text', () => {
    expect(wellFormedJson(JSON.stringify({ a: 'cart-\ud800x' }))).toBe('{"a":"cart-\\ufffdx"}');
    expect(wellFormedJson(JSON.stringify({ a: '\\ud800' }))).toBe('{"a":"\\\\ud800"}');
    expect(wellFormedJson(JSON.stringify({ a: '\\\ud800' }))).toBe('{"a":"\\\\\\ufffd"}');
    expect(strictlyDecodable(wellFormedJson(JSON.stringify({ a: '\udfff\ud800' })))).toBe(true);
  });

  it('-o json escapes DEL and the C1 controls (CSI U+009B) as it escapes ESC', () => {
    const line = formatJsonLine(0n, { 'thread.name': 'a\u001b[2Jb\u009b31mc\u007fd' });
    expect(line).toContain('"thread.name":"a\\u001b[2Jb\\u009b31mc\\u007fd"');
    expect(line).not.toMatch(/[\u007f-\u009f]/);
    expect(JSON.parse(line)['thread.name']).toBe('a\u001b[2Jb\u009b31mc\u007fd');
  });

  it('a pod name with a lone surrogate from the API is kept well-formed, so OTLP/JSON with it decodes strictly', () => {
    const { pod } = apiPod({ metadata: { uid: 'u', name: 'cart-\ud800x', namespace: 'shop', labels: { ['k\udc00']: 'v\ud800' } } }, new Set(['k\udc00']));
    expect(pod?.name).toBe('cart-\ufffdx');
    expect(pod?.labels).toEqual({ 'k\ufffd': 'v\ufffd' });
    // and the encoder makes any string that still reaches it well-formed too (the service name from a file, say)
    const encoding = jsonEncoding();
    const resource = encoding.resource({ 'k8s.pod.name': 'cart-\ud800x', 'service.name': '\udc00' }, '');
    expect(strictlyDecodable(resource)).toBe(true);
    expect(JSON.parse(resource).attributes[0].value.stringValue).toBe('cart-\ufffdx');
  });
});
