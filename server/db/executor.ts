// What every repository function runs on: the Kysely instance or a transaction, so the service decides
// what runs together.
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.ts';

export type Executor = Kysely<Database> | Transaction<Database>;
