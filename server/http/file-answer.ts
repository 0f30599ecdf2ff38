// A file as an answer (an operation whose success is `format: binary`, not JSON): its bytes streamed as they are
// read, never held whole, with what RFC 9110 gives a file: `Content-Type` (the file's own), `Content-Length`,
// `Content-Disposition: attachment` (RFC 6266, the name also UTF-8 encoded per RFC 8187), a strong `ETag` and
// `Last-Modified`, `304` for a matching `If-None-Match` or, without one, an `If-Modified-Since` that Express judges
// fresh (as for every other GET), and one byte range (`Range`, `If-Range`) as `206` with `Content-Range`, or `416`
// when it starts beyond the end.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { matches } from '../edge/conditional.ts';
import { ApiError } from './errors.ts';

export interface FileAnswer {
  /** The file's media type, sent as `Content-Type`. */
  mediaType: string;
  size: number;
  /** A strong validator of the bytes (they never change under it). */
  etag: string;
  lastModified: Date;
  /** Its name, for `Content-Disposition`. */
  fileName: string;
  /** Its bytes from `start` to `end`, both included, in order. */
  read(start: number, end: number): AsyncIterable<Uint8Array>;
}

/** RFC 8187's attr-char less what encodeURIComponent leaves as it is. */
const NOT_ATTR_CHAR = /['()*]/g;

/** `attachment; filename="…"; filename*=UTF-8''…`: an ASCII stand-in for old clients, the exact name for the others. */
export function attachment(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(fileName).replace(NOT_ATTR_CHAR, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/**
 * The one byte range to send, `null` for the whole file: a `Range` that is not one byte range (several, another
 * unit, not parseable) or whose `If-Range` is not this file's ETag asks for the whole file, as RFC 9110 allows.
 */
function rangeOf(req: Request, file: FileAnswer): { start: number; end: number } | null {
  if (req.headers.range === undefined) return null;
  const ifRange = req.get('if-range');
  if (ifRange !== undefined && ifRange.trim() !== file.etag) return null;
  const ranges = req.range(file.size, { combine: true });
  if (ranges === -1) throw new ApiError('VAL_RANGE_NOT_SATISFIABLE', `The range ${req.headers.range} starts beyond the end of the file (${file.size} bytes)`, { headers: { 'Content-Range': `bytes */${file.size}` } });
  if (ranges === -2 || ranges === undefined || ranges.type !== 'bytes' || ranges.length !== 1) return null;
  return ranges[0]!;
}

/** Answers with the file (or 304, or its range); throws the 416 before anything is sent. */
export async function answerWithFile(req: Request, res: Response, file: FileAnswer, cacheControl: string | undefined): Promise<void> {
  res.setHeader('ETag', file.etag);
  if (cacheControl) res.setHeader('Cache-Control', cacheControl);
  res.setHeader('Last-Modified', file.lastModified.toUTCString());
  res.setHeader('Accept-Ranges', 'bytes');
  // The preconditions before the range (RFC 9110 13.2.2); Express judges freshness of a 2xx only.
  res.status(200);
  const ifNoneMatch = req.get('if-none-match');
  if (ifNoneMatch !== undefined ? matches(ifNoneMatch, file.etag) : req.fresh) return void res.status(304).end();
  const range = rangeOf(req, file);
  const { start, end } = range ?? { start: 0, end: file.size - 1 };
  if (range) res.status(206).setHeader('Content-Range', `bytes ${start}-${end}/${file.size}`);
  res.setHeader('Content-Type', file.mediaType);
  res.setHeader('Content-Disposition', attachment(file.fileName));
  res.setHeader('Content-Length', String(end - start + 1));
  if (end < start) return void res.end();
  await pipeline(Readable.from(file.read(start, end)), res);
}
