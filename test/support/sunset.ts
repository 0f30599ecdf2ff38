// Tests of a deprecated operation itself (its headers, its answers until the sunset) must not depend on
// today's date being before the sunset the contract declares. They run on a clock the test controls: the
// in-process test server (test/support/server.ts) reads the same `Date` (server/http/deprecation.ts compares
// `new Date()` with `x-sunset`), so moving the test process's clock moves the server's.
//
// Tests that only need a list of agents use `listAgentsV2` and no clock at all.
import { vi } from 'vitest';
import { operationsById } from '../../server/contract.ts';

/** The `x-sunset` of a deprecated operation of the contract. */
export function sunsetOf(operationId: string): Date {
  const sunset = (operationsById.get(operationId)?.operation as { 'x-sunset'?: unknown } | undefined)?.['x-sunset'];
  const date = typeof sunset === 'string' ? new Date(sunset) : undefined;
  if (!date || Number.isNaN(date.getTime())) throw new Error(`${operationId} declares no x-sunset date`);
  return date;
}

const DAY_MS = 86_400_000;

/**
 * Runs `work` on a clock before `operationId`'s sunset: `Date` starts at the real time, or a day before the
 * sunset when the real time is later than that, and runs on in real time from there. Timers are left alone.
 * The clock is always the test's (the same code runs every day), and it is given back when `work` settles.
 */
export async function beforeSunset<T>(operationId: string, work: () => Promise<T>): Promise<T> {
  const latest = sunsetOf(operationId).getTime() - DAY_MS;
  vi.useFakeTimers({ toFake: ['Date'], now: Math.min(Date.now(), latest), shouldAdvanceTime: true, advanceTimeDelta: 5 });
  try {
    return await work();
  } finally {
    vi.useRealTimers();
  }
}
