/** A comma-separated value ("a, b,,c") as its non-empty items. Pure; imports nothing. */
export function commaList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/** A lone surrogate, as JSON.stringify escapes it (a backslash before it that is itself escaped does not count). */
const LONE_SURROGATE_ESCAPE = /(?<!\\)((?:\\\\)*)\\ud[89a-f][0-9a-f]{2}/g;
const DEL_AND_C1 = /[\u007f-\u009f]/g;

/**
 * JSON text from JSON.stringify, made safe for strict readers and terminals:
 * a lone surrogate (a string from the API can hold one; JSON.stringify writes
 * it as an escape no strict decoder takes, since it is no character) becomes
 * U+FFFD, as the protobuf encoding's UTF-8 does; DEL and the C1 controls
 * (U+0080-U+009F: CSI is U+009B) are escaped as JSON.stringify escapes ESC.
 * Pure.
 */
export function wellFormedJson(json: string): string {
  let out = json.includes('\\ud') ? json.replace(LONE_SURROGATE_ESCAPE, '$1\\ufffd') : json;
  DEL_AND_C1.lastIndex = 0;
  if (DEL_AND_C1.test(out)) out = out.replace(DEL_AND_C1, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return out;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The string with each lone surrogate (no character; JSON text from a server can hold one) replaced by U+FFFD. Pure. */
export function wellFormed(text: string): string {
  LONE_SURROGATE.lastIndex = 0;
  return LONE_SURROGATE.test(text) ? text.replace(LONE_SURROGATE, '\ufffd') : text;
}

/** A URL's user and password (scheme://user:password@host) never reach a message. Pure. */
export function redactCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/\s@'"]+@/gi, '$1***@');
}

/** A JSON object (not null, not an array): what a field read from untrusted JSON must be before it is read. Pure. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Why `text` is no http(s) URL the agent can use, in a few words (an IPv6 zone
 * is named: WHATWG URLs, Node.js's, have no zone ids), or undefined. Pure.
 */
export function httpUrlProblem(text: string): string | undefined {
  if (isHttpUrl(text)) return undefined;
  if (/^https?:\/\/\[[^\]]*%/i.test(text)) return 'has an IPv6 zone (%25...), which URLs here cannot carry: give a global or unique-local address, or a host name';
  return 'is not an http:// or https:// URL';
}

/** An http:// or https:// URL, the only kind an OTLP/HTTP endpoint can be. Pure. */
export function isHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}
