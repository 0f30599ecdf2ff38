import { requireCaller } from '../../auth/caller.ts';
import type { HandlerMap } from '../../http/operation-types.ts';
import type { SettingService } from './settings.service.ts';

type SettingHandlers = Pick<HandlerMap, 'listSettings' | 'getSetting' | 'replaceSetting' | 'deleteSetting' | 'getAgentConfig' | 'getAgentEffectiveConfig' | 'getAgentCompliance'>;

/** The path of a setting at its scope, as `Location` names it. */
function settingPath(setting: { key: string; scope: string; team_id: string | null; group_id: string | null }): string {
  const scope = setting.scope === 'global' ? '' : setting.scope === 'team' ? `&team_id=${setting.team_id}` : `&group_id=${setting.group_id}`;
  return `/api/v1/config/settings/${setting.key}?scope=${setting.scope}${scope}`;
}

export function settingHandlers(settings: SettingService): SettingHandlers {
  return {
    async listSettings({ query, ctx }) {
      return { status: 200, body: { data: await settings.list(requireCaller(ctx), query ?? {}) } };
    },
    async getSetting({ params, query, ctx }) {
      return { status: 200, body: { data: await settings.get(requireCaller(ctx), params.key, query ?? {}) } };
    },
    async replaceSetting({ params, query, body, ctx }) {
      const { setting, created } = await settings.replace(requireCaller(ctx), params.key, query ?? {}, body, ctx);
      if (created) return { status: 201, headers: { Location: settingPath(setting) }, body: { data: setting } };
      return { status: 200, body: { data: setting } };
    },
    async deleteSetting({ params, query, ctx }) {
      await settings.delete(requireCaller(ctx), params.key, query ?? {}, ctx);
      return { status: 204 };
    },
    async getAgentConfig({ ctx }) {
      return { status: 200, body: { data: await settings.ofAgentItself(requireCaller(ctx)) } };
    },
    async getAgentCompliance({ params, ctx }) {
      return { status: 200, body: { data: await settings.complianceOf(requireCaller(ctx), params.agent_id) } };
    },
    async getAgentEffectiveConfig({ params, ctx }) {
      return { status: 200, body: { data: await settings.ofAgent(requireCaller(ctx), params.agent_id) } };
    },
  };
}
