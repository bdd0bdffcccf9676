/** An HTTP header name: RFC 9110's token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A header value may hold visible characters, spaces and tabs, never CR, LF, NUL or other controls (RFC 9110 field-value). */
// eslint-disable-next-line no-control-regex
const UNSAFE_VALUE = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/**
 * OTLP request headers from `k1=v1,k2=v2` (the OpenTelemetry exporter's form,
 * values percent-decoded as UTF-8). Anything that would make a request no
 * receiver accepts is refused with why, never with the value (headers carry
 * credentials): an entry without `=`, a name that is not an HTTP token, a bad
 * percent escape or invalid UTF-8, and a value with a line break or another
 * control character (header injection). Empty entries are skipped. Pure.
 */
export function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  text.split(',').forEach((entry, i) => {
    if (entry.trim() === '') return;
    const eq = entry.indexOf('=');
    if (eq === -1) throw new Error(`entry ${i + 1} has no '=' (the form is name=value,name2=value2)`);
    const name = entry.slice(0, eq).trim();
    if (!TOKEN.test(name)) throw new Error(`entry ${i + 1}: its name is not a valid HTTP header name`);
    let value: string;
    try {
      value = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      throw new Error(`header ${name}: its value has a bad percent escape or is not UTF-8`);
    }
    if (UNSAFE_VALUE.test(value)) throw new Error(`header ${name}: its value holds a line break or another control character`);
    headers[name] = value;
  });
  return headers;
}
