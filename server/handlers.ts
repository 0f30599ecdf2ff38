// The one handler map: every operationId of the spec, each bound to its module's handler.
// Leaving one out, or answering with a status the spec does not declare, fails `npm run typecheck`.
import type { HandlerMap } from './http/operation-types.ts';
import { alertHandlers } from './modules/alerts/alerts.handlers.ts';
import { alertRuleHandlers } from './modules/alert-rules/alert-rules.handlers.ts';
import { AlertRuleService } from './modules/alert-rules/alert-rules.service.ts';
import { eventHandlers } from './modules/events/events.handlers.ts';
import { EventStreamService } from './modules/events/events.service.ts';
import { AlertService } from './modules/alerts/alerts.service.ts';
import { agentHandlers } from './modules/agents/agents.handlers.ts';
import { AgentService } from './modules/agents/agents.service.ts';
import type { Agent } from './modules/agents/agents.mapper.ts';
import { CachedRows } from './db/cached-rows.ts';
import { agentGroupHandlers } from './modules/agent-groups/agent-groups.handlers.ts';
import { AgentGroupService } from './modules/agent-groups/agent-groups.service.ts';
import { apiKeyHandlers } from './modules/api-keys/api-keys.handlers.ts';
import { ApiKeyService } from './modules/api-keys/api-keys.service.ts';
import { auditHandlers } from './modules/audit/audit.handlers.ts';
import { AuditService } from './modules/audit/audit.service.ts';
import { authHandlers } from './modules/auth/auth.handlers.ts';
import { AuthService } from './modules/auth/auth.service.ts';
import { TotpService } from './modules/auth/auth.totp.ts';
import { totpHandlers } from './modules/auth/totp.handlers.ts';
import { systemHandlers } from './modules/system/system.handlers.ts';
import { frontDoorHandlers } from './modules/system/front-door.handlers.ts';
import { metricsHandlers } from './modules/system/metrics.handlers.ts';
import { teamHandlers } from './modules/teams/teams.handlers.ts';
import { TeamService } from './modules/teams/teams.service.ts';
import { userHandlers } from './modules/users/users.handlers.ts';
import { agentProtocolHandlers } from './modules/agent-protocol/agent-protocol.handlers.ts';
import { AgentProtocolService } from './modules/agent-protocol/agent-protocol.service.ts';
import { taskHandlers } from './modules/tasks/tasks.handlers.ts';
import { taskTemplateHandlers } from './modules/task-templates/task-templates.handlers.ts';
import { TaskTemplateService } from './modules/task-templates/task-templates.service.ts';
import { taskArtifactHandlers } from './modules/task-artifacts/task-artifacts.handlers.ts';
import { TaskArtifactService } from './modules/task-artifacts/task-artifacts.service.ts';
import { inventoryHandlers } from './modules/inventory/inventory.handlers.ts';
import { InventoryService } from './modules/inventory/inventory.service.ts';
import { vulnerabilityHandlers } from './modules/vulnerabilities/vulnerabilities.handlers.ts';
import { VulnerabilityService } from './modules/vulnerabilities/vulnerabilities.service.ts';
import { deploymentHandlers } from './modules/deployments/deployments.handlers.ts';
import { DeploymentService } from './modules/deployments/deployments.service.ts';
import { pipelineHandlers } from './modules/pipelines/pipelines.handlers.ts';
import { PipelineService } from './modules/pipelines/pipelines.service.ts';
import { TaskService } from './modules/tasks/tasks.service.ts';
import { taskScheduleHandlers } from './modules/task-schedules/task-schedules.handlers.ts';
import { TaskScheduleService } from './modules/task-schedules/task-schedules.service.ts';
import { UserService } from './modules/users/users.service.ts';
import { notificationHandlers } from './modules/notifications/notifications.handlers.ts';
import { NotificationService } from './modules/notifications/notifications.service.ts';
import { webhookHandlers } from './modules/webhooks/webhooks.handlers.ts';
import { WebhookService } from './modules/webhooks/webhooks.service.ts';
import { metricQueryHandlers } from './modules/metric-queries/metric-queries.handlers.ts';
import { MetricQueryService } from './modules/metric-queries/metric-queries.service.ts';
import { dashboardHandlers } from './modules/dashboards/dashboards.handlers.ts';
import { DashboardService } from './modules/dashboards/dashboards.service.ts';
import { settingHandlers } from './modules/settings/settings.handlers.ts';
import { SettingService } from './modules/settings/settings.service.ts';
import { policyHandlers } from './modules/policies/policies.handlers.ts';
import { PolicyService } from './modules/policies/policies.service.ts';
import { identityProviderHandlers } from './modules/identity-providers/identity-providers.handlers.ts';
import { IdentityProviderService } from './modules/identity-providers/identity-providers.service.ts';
import type { AppDeps } from './deps.ts';
import { certificateHandlers } from './modules/certificates/certificates.handlers.ts';
import { CertificateService } from './modules/certificates/certificates.service.ts';
import type { Authenticator } from './auth/authenticate.ts';

/** How many agents a process keeps as `getAgent` answered them (~1 KB each). */
const AGENT_CACHE_ENTRIES = 10_000;

/** `authenticator`: the pipeline's, which the live WebSocket's `auth` message goes through too. */
export function createHandlers(deps: AppDeps, authenticator: Authenticator): HandlerMap {
  const db = deps.database.db;
  const metricQueries = new MetricQueryService(db);
  const totp: TotpService = new TotpService(db, deps.secretBox, deps.loginThrottle, (user) => auth.issueTokens(user));
  const auth = new AuthService(db, deps.tokens, deps.loginThrottle, totp);
  const certificates = new CertificateService(db, deps.authority);
  const agents = new AgentService(db, deps.edge.cache, new CachedRows<Agent>('agent_row', deps.feed, (agent) => agent.team_id, AGENT_CACHE_ENTRIES));
  return {
    ...authHandlers(auth),
    ...identityProviderHandlers(new IdentityProviderService(db, deps.config.oauth, deps.config.publicUrl, (user) => auth.issueTokens(user))),
    ...apiKeyHandlers(new ApiKeyService(db)),
    ...teamHandlers(new TeamService(db)),
    ...userHandlers(new UserService(db)),
    ...auditHandlers(new AuditService(db)),
    ...agentHandlers(agents),
    ...agentGroupHandlers(new AgentGroupService(db, deps.edge.cache, agents)),
    ...taskHandlers(new TaskService(db)),
    ...taskScheduleHandlers(new TaskScheduleService(db)),
    ...taskTemplateHandlers(new TaskTemplateService(db)),
    ...taskArtifactHandlers(new TaskArtifactService(db)),
    ...deploymentHandlers(new DeploymentService(db)),
    ...pipelineHandlers(new PipelineService(db)),
    ...alertHandlers(new AlertService(db)),
    ...alertRuleHandlers(new AlertRuleService(db)),
    ...eventHandlers(new EventStreamService(db, deps.bus, deps.eventStream), authenticator),
    ...webhookHandlers(
      new WebhookService(db, deps.secretBox, {
        allowPrivateTargets: deps.config.webhookAllowPrivateTargets,
        onDeliveryQueued: () => deps.webhookDeliverer.wake(),
      }),
    ),
    ...notificationHandlers(
      new NotificationService(db, deps.secretBox, {
        allowPrivateTargets: deps.config.webhookAllowPrivateTargets,
        smtpConfigured: deps.config.smtpUrl !== undefined,
        onDeliveryQueued: () => deps.webhookDeliverer.wake(),
      }),
    ),
    ...agentProtocolHandlers(new AgentProtocolService(db, deps.edge.cache, deps.signs, certificates)),
    ...inventoryHandlers(new InventoryService(db, deps.edge.cache, deps.signs, deps.alertNudger)),
    ...metricQueryHandlers(metricQueries),
    ...dashboardHandlers(new DashboardService(db, metricQueries)),
    ...vulnerabilityHandlers(new VulnerabilityService(db)),
    ...settingHandlers(new SettingService(db)),
    ...policyHandlers(new PolicyService(db)),
    ...systemHandlers(deps.health, deps.database.backend, deps.startedAt),
    ...frontDoorHandlers(),
    ...metricsHandlers(deps.metrics),
    ...totpHandlers(totp),
    ...certificateHandlers(certificates),
  } satisfies HandlerMap;
}
