// An operation's life: deprecation, its sunset date (x-sunset) and its removal. Removing an operation is
// breaking unless it was deprecated with an x-sunset date that has passed by the time of the comparison.
import type { Changes, Obj, Scope } from './types.ts';
import { code } from './types.ts';

export function diffRemovedOperation(changes: Changes, scope: Scope, op: Obj, now: Date): void {
  const sunset = sunsetDate(op);
  const deprecated = op.deprecated === true;
  if (deprecated && sunset && sunset.getTime() <= now.getTime()) {
    changes.add(scope, 'operation-removed-after-sunset', 'operation', `removed after its sunset date ${day(sunset)} (deprecated)`);
  } else if (deprecated) {
    const why = sunset ? `its sunset date ${day(sunset)} has not passed yet` : 'it has no x-sunset date';
    changes.add(scope, 'operation-removed-before-sunset', 'operation', `removed while deprecated, but ${why}`);
  } else {
    const note = sunset ? ` (it has an x-sunset date ${day(sunset)} but was never marked deprecated)` : '';
    changes.add(scope, 'operation-removed', 'operation', `removed without deprecation${note}`);
  }
}

export function diffLifecycle(changes: Changes, scope: Scope, b: Obj, a: Obj): void {
  if (b.deprecated !== true && a.deprecated === true) changes.add(scope, 'operation-deprecated', 'operation', 'deprecated');
  if (b.deprecated === true && a.deprecated !== true) changes.add(scope, 'operation-undeprecated', 'operation', 'no longer deprecated');
  if (b['x-sunset'] !== a['x-sunset']) {
    if (a['x-sunset'] === undefined) changes.add(scope, 'documentation', 'operation', `${code('x-sunset')} removed`);
    else {
      const date = sunsetDate(a);
      const shown = date ? day(date) : `${code(a['x-sunset'])} (not a date)`;
      changes.add(scope, 'operation-sunset-announced', 'operation', `sunset date ${shown}`);
    }
  }
  if (b.operationId !== a.operationId) {
    if (b.operationId === undefined) changes.add(scope, 'documentation', 'operation', `operationId ${code(a.operationId)} added`);
    else {
      const after = a.operationId === undefined ? 'removed' : code(a.operationId);
      changes.add(scope, 'operation-id-changed', 'operation', `operationId ${code(b.operationId)} → ${after}`);
    }
  }
}

function sunsetDate(op: Obj): Date | undefined {
  const raw = op['x-sunset'];
  if (typeof raw !== 'string' && !(raw instanceof Date)) return undefined;
  const date = new Date(raw);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}
