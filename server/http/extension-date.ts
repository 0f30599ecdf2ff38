// The date-times of the spec's lifecycle extensions (`x-deprecated-at`, `x-sunset`), read by the server
// (deprecation.ts) and by the docs generator (scripts/generate.ts, which runs before the bundle this
// server's contract.ts reads exists, hence a module of its own). A bad value fails, naming where it is.
export function extensionDate(where: string, name: string, raw: unknown): Date | undefined {
  if (raw === undefined) return undefined;
  const date = typeof raw === 'string' ? new Date(raw) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new Error(`${where}: ${name} ${JSON.stringify(raw)} is not an RFC 3339 date-time`);
  return date;
}
