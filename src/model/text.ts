/** A comma-separated value ("a, b,,c") as its non-empty items. Pure; imports nothing. */
export function commaList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}
