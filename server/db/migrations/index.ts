// Every migration, in order. Names sort by date; Kysely's Migrator runs the ones not yet applied.
import type { Migration } from 'kysely/migration';
import * as agents from './2026-11-21T0700-agents.ts';
import * as identity from './2026-11-21T0800-identity.ts';
import * as rateTier from './2026-11-21T0900-rate-tier.ts';
import * as tasks from './2026-11-21T1000-tasks.ts';
import * as inventory from './2026-11-21T1100-inventory.ts';
import * as agentGroups from './2026-11-21T1200-agent-groups.ts';
import * as deploymentsPipelines from './2026-11-21T1300-deployments-pipelines.ts';
import * as alerts from './2026-11-21T1400-alerts.ts';
import * as eventsWebhooks from './2026-11-21T1500-events-webhooks.ts';
import * as metricsRetention from './2026-11-21T1600-metrics-retention.ts';
import * as identityChanges from './2026-12-02T1000-identity-changes.ts';
import * as changeFeed from './2026-12-02T2000-change-feed.ts';
import * as eventTraceContext from './2026-12-03T0900-event-trace-context.ts';
import * as agentRowsPerStatement from './2026-12-03T1000-agent-rows-per-statement.ts';
import * as taskTemplates from './2026-12-03T1100-task-templates.ts';
import * as fleetTasks from './2026-12-03T1200-fleet-tasks.ts';
import * as taskSchedules from './2026-12-03T1300-task-schedules.ts';
import * as taskArtifacts from './2026-12-03T1400-task-artifacts.ts';
import * as deploymentRollbackReason from './2026-12-03T1500-deployment-rollback-reason.ts';
import * as agentWorkChanges from './2026-12-03T1600-agent-work-changes.ts';
import * as metricNamesAndRollups from './2026-12-03T1700-metric-names-and-rollups.ts';
import * as packageVulnerabilities from './2026-12-03T1800-package-vulnerabilities.ts';
import * as alertRules from './2026-12-03T1900-alert-rules.ts';
import * as alertNotifications from './2026-12-03T1910-alert-notifications.ts';
import * as alerting from './2026-12-04T1400-alerting.ts';
import * as configSettingsPolicies from './2026-12-04T1000-config-settings-policies.ts';
import * as identityProviders from './2026-12-04T1200-identity-providers.ts';
import * as totp from './2026-12-04T1300-totp.ts';
import * as agentCertificates from './2026-12-04T1100-agent-certificates.ts';

export const migrations: Record<string, Migration> = {
  '2026-11-21T0700-agents': agents,
  '2026-11-21T0800-identity': identity,
  '2026-11-21T0900-rate-tier': rateTier,
  '2026-11-21T1000-tasks': tasks,
  '2026-11-21T1100-inventory': inventory,
  '2026-11-21T1200-agent-groups': agentGroups,
  '2026-11-21T1300-deployments-pipelines': deploymentsPipelines,
  '2026-11-21T1400-alerts': alerts,
  '2026-11-21T1500-events-webhooks': eventsWebhooks,
  '2026-11-21T1600-metrics-retention': metricsRetention,
  '2026-12-02T1000-identity-changes': identityChanges,
  '2026-12-02T2000-change-feed': changeFeed,
  '2026-12-03T0900-event-trace-context': eventTraceContext,
  '2026-12-03T1000-agent-rows-per-statement': agentRowsPerStatement,
  '2026-12-03T1100-task-templates': taskTemplates,
  '2026-12-03T1200-fleet-tasks': fleetTasks,
  '2026-12-03T1300-task-schedules': taskSchedules,
  '2026-12-03T1400-task-artifacts': taskArtifacts,
  '2026-12-03T1500-deployment-rollback-reason': deploymentRollbackReason,
  '2026-12-03T1600-agent-work-changes': agentWorkChanges,
  '2026-12-03T1700-metric-names-and-rollups': metricNamesAndRollups,
  '2026-12-03T1800-package-vulnerabilities': packageVulnerabilities,
  '2026-12-03T1900-alert-rules': alertRules,
  '2026-12-03T1910-alert-notifications': alertNotifications,
  '2026-12-04T1400-alerting': alerting,
  '2026-12-04T1000-config-settings-policies': configSettingsPolicies,
  '2026-12-04T1200-identity-providers': identityProviders,
  '2026-12-04T1300-totp': totp,
  '2026-12-04T1100-agent-certificates': agentCertificates,
};
