// resolveTemplateAction, the one way a task is made from a template (fleet-wide tasks and schedules call it): team
// scope, versions, defaults merged under the caller's parameters, and Ajv's verdict as 422 details.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v7 as uuidv7 } from 'uuid';
import type { Caller } from '../../server/auth/caller.ts';
import { openDatabase, type DatabaseHandle } from '../../server/db/database.ts';
import { migrateToLatest } from '../../server/db/migrator.ts';
import { ApiError } from '../../server/http/errors.ts';
import type { RequestContext } from '../../server/http/request-context.ts';
import { createLogger } from '../../server/logger.ts';
import { resolveTemplateAction, TaskTemplateService } from '../../server/modules/task-templates/task-templates.service.ts';
import { createTestDatabase, type TestDatabase } from '../support/backends.ts';

const log = createLogger('silent');

async function refusal(work: Promise<unknown>): Promise<ApiError> {
  const err = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(err)}`);
  return err;
}

describe('resolveTemplateAction', () => {
  let testDb: TestDatabase;
  let handle: DatabaseHandle;
  const team = uuidv7();
  const otherTeam = uuidv7();
  const caller = { userId: uuidv7(), agentId: null, email: 'ops@example.com', role: 'operator', permissions: new Set(), teamIds: [team], apiKeyId: null, tier: 'authenticated', expiresAt: null } as unknown as Caller;
  const ctx = { expectedUpdatedAt: null } as RequestContext;
  let templateId: string;

  beforeAll(async () => {
    testDb = await createTestDatabase();
    handle = await openDatabase({ url: testDb.url, pgliteDir: 'memory://', poolMax: 2, timeoutMs: 5000, log });
    await migrateToLatest(handle.db, log);
    await handle.db.insertInto('teams').values([{ id: team, name: 'Resolve' }, { id: otherTeam, name: 'Other' }]).execute();
    const templates = new TaskTemplateService(handle.db);
    const created = await templates.create(caller, {
      name: 'Restart a unit',
      action: 'command',
      defaults: { command: 'systemctl', args: ['restart', 'nginx'], timeout_seconds: 60 },
      parameters_schema: {
        type: 'object',
        required: ['reason'],
        properties: { command: { const: 'systemctl' }, reason: { type: 'string', minLength: 3 }, timeout_seconds: { type: 'integer', maximum: 300 } },
      },
    });
    templateId = created.id;
    // Version 2 lets the timeout go to an hour and needs no reason.
    await templates.patch(caller, templateId, { parameters_schema: { type: 'object', properties: { timeout_seconds: { type: 'integer', maximum: 3600 } } } }, ctx);
  });
  afterAll(async () => {
    await handle?.close();
    await testDb?.drop();
  });

  it('merges the defaults under the parameters and names the version it resolved', async () => {
    const resolved = await resolveTemplateAction(handle.db, [team], { id: templateId, version: 1, parameters: { reason: 'config change', timeout_seconds: 120 } });
    expect(resolved).toEqual({
      team_id: team,
      type: 'command',
      parameters: { command: 'systemctl', args: ['restart', 'nginx'], timeout_seconds: 120, reason: 'config change' },
      template_id: templateId,
      template_version: 1,
    });
  });

  it('resolves the latest version when none is named', async () => {
    const resolved = await resolveTemplateAction(handle.db, [team], { id: templateId, parameters: { timeout_seconds: 1800 } });
    expect(resolved.template_version).toBe(2);
    expect(resolved.parameters).toEqual({ command: 'systemctl', args: ['restart', 'nginx'], timeout_seconds: 1800 });
  });

  it("answers 422 with one detail per failing field, under template.parameters, by that version's schema", async () => {
    const err = await refusal(resolveTemplateAction(handle.db, [team], { id: templateId, version: 1, parameters: { command: 'rm', timeout_seconds: 1800 } }));
    expect(err.status).toBe(422);
    expect(err.code).toBe('VAL_MULTIPLE_ERRORS');
    expect(err.details?.map((d) => d.field).sort()).toEqual(['template.parameters.command', 'template.parameters.reason', 'template.parameters.timeout_seconds']);
    expect(err.details?.find((d) => d.field === 'template.parameters.timeout_seconds')?.value).toBe(1800);
  });

  it('refuses parameters that are no task parameters, even when the template schema allows them', async () => {
    const err = await refusal(resolveTemplateAction(handle.db, [team], { id: templateId, parameters: { args: 'restart nginx' } }));
    expect(err.status).toBe(422);
    expect(err.details?.[0]?.field).toBe('template.parameters.args');
  });

  it("answers 404 for another team's template, a version it does not have, or a deleted one", async () => {
    expect((await refusal(resolveTemplateAction(handle.db, [otherTeam], { id: templateId }))).code).toBe('RES_NOT_FOUND');
    expect((await refusal(resolveTemplateAction(handle.db, [team], { id: templateId, version: 3 }))).code).toBe('RES_NOT_FOUND');
    const templates = new TaskTemplateService(handle.db);
    const doomed = await templates.create(caller, { name: 'Reboot', action: 'reboot' });
    expect((await resolveTemplateAction(handle.db, [team], { id: doomed.id })).type).toBe('reboot');
    await templates.delete(caller, doomed.id, ctx);
    expect((await refusal(resolveTemplateAction(handle.db, [team], { id: doomed.id, version: 1 }))).code).toBe('RES_NOT_FOUND');
    // The versions stay for the tasks that ran them.
    expect(await handle.db.selectFrom('task_template_versions').select('version').where('template_id', '=', doomed.id).execute()).toEqual([{ version: 1 }]);
  });
});
