// The limits of task artifacts, read from the contract once, at start-up: the largest upload is the `maxLength`
// of `ArtifactContent` (the schema of the bytes, so clients, the mock and the docs see the same bound), the rest
// is `x-artifacts` (its shape checked as the contract loaded, extensions.ts). A value the server cannot use fails
// the start, naming it.
import { policy, spec } from '../../contract.ts';

export interface ArtifactPolicy {
  /** The largest artifact, in bytes. */
  readonly maxBytes: number;
  readonly maxPerTask: number;
  /** The size of the stored chunks: what an upload or a download holds in memory at a time. */
  readonly chunkBytes: number;
  /** The media types an upload may state. */
  readonly contentType: RegExp;
  readonly retentionDays: number;
}

interface Declared {
  max_per_task: number;
  chunk_bytes: number;
  content_type_pattern: string;
  retention_days: number;
}

function readPolicy(): ArtifactPolicy {
  const declared = policy<Declared>('x-artifacts');
  const maxBytes = (spec.components?.schemas?.ArtifactContent as { maxLength?: unknown } | undefined)?.maxLength;
  if (typeof maxBytes !== 'number' || !Number.isSafeInteger(maxBytes) || maxBytes < 1) {
    throw new Error(`the contract's ArtifactContent must declare maxLength, the largest artifact in bytes (got ${JSON.stringify(maxBytes)})`);
  }
  let contentType: RegExp;
  try {
    contentType = new RegExp(declared.content_type_pattern);
  } catch (err) {
    throw new Error(`x-artifacts.content_type_pattern is not a regular expression: ${(err as Error).message}`);
  }
  return Object.freeze({ maxBytes, maxPerTask: declared.max_per_task, chunkBytes: declared.chunk_bytes, contentType, retentionDays: declared.retention_days });
}

export const artifactPolicy: ArtifactPolicy = readPolicy();
