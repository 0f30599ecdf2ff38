// Table types as Kysely sees them. Keep in step with migrations/.
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';
import type { components } from '../../generated/openapi.d.ts';

type Schemas = components['schemas'];

type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface AgentsTable {
  id: string;
  team_id: string;
  hostname: string;
  ip_address: string;
  platform: Schemas['Platform'];
  os_version: string | null;
  agent_version: string | null;
  status: Schemas['AgentStatus'];
  tags: ColumnType<string[], string[] | undefined, string[]>;
  last_seen: Timestamp | null;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface Database {
  alerts: AlertsTable;
  alert_rules: AlertRulesTable;
  alert_rule_states: AlertRuleStatesTable;
  agents: AgentsTable;
  teams: TeamsTable;
  users: UsersTable;
  team_members: TeamMembersTable;
  refresh_tokens: RefreshTokensTable;
  api_keys: ApiKeysTable;
  audit_events: AuditEventsTable;
  enrollment_tokens: EnrollmentTokensTable;
  agent_keys: AgentKeysTable;
  tasks: TasksTable;
  task_logs: TaskLogsTable;
  task_templates: TaskTemplatesTable;
  task_template_versions: TaskTemplateVersionsTable;
  task_artifacts: TaskArtifactsTable;
  task_artifact_chunks: TaskArtifactChunksTable;
  agent_packages: AgentPackagesTable;
  agent_services: AgentServicesTable;
  agent_hardware: AgentHardwareTable;
  agent_metrics: AgentMetricsTable;
  agent_metric_rollups: AgentMetricRollupsTable;
  agent_metric_rollup_marks: AgentMetricRollupMarksTable;
  dashboards: DashboardsTable;
  advisories: AdvisoriesTable;
  advisory_packages: AdvisoryPackagesTable;
  package_vulnerabilities: PackageVulnerabilitiesTable;
  deployments: DeploymentsTable;
  pipelines: PipelinesTable;
  pipeline_runs: PipelineRunsTable;
  agent_groups: AgentGroupsTable;
  agent_group_members: AgentGroupMembersTable;
  events: EventsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  notification_channels: NotificationChannelsTable;
  alert_silences: AlertSilencesTable;
  webhook_delivery_attempts: WebhookDeliveryAttemptsTable;
  instance_keys: InstanceKeysTable;
  change_feed: ChangeFeedTable;
  task_schedules: TaskSchedulesTable;
  task_schedule_executions: TaskScheduleExecutionsTable;
  config_settings: ConfigSettingsTable;
  config_policies: ConfigPoliciesTable;
  oauth_grants: OAuthGrantsTable;
  user_totp: UserTotpTable;
  user_recovery_codes: UserRecoveryCodesTable;
  mfa_challenges: MfaChallengesTable;
  auth_policy: AuthPolicyTable;
  certificate_authorities: CertificateAuthoritiesTable;
  agent_certificates: AgentCertificatesTable;
}

export type AgentRow = Selectable<AgentsTable>;
export type NewAgentRow = Insertable<AgentsTable>;
export type AgentRowUpdate = Updateable<AgentsTable>;

type CreatedAt = ColumnType<Date, Date | string | undefined, Date | string>;

export interface TeamsTable {
  id: string;
  name: string;
  description: string | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  role: Schemas['RoleName'];
  rate_tier: ColumnType<Schemas['User']['rate_tier'], Schemas['User']['rate_tier'] | undefined, Schemas['User']['rate_tier']>;
  password_hash: string;
  active: ColumnType<boolean, boolean | undefined, boolean>;
  password_changed_at: CreatedAt;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface TeamMembersTable {
  team_id: string;
  user_id: string;
  joined_at: CreatedAt;
}

export interface RefreshTokensTable {
  id: string;
  family_id: string;
  user_id: string;
  token_hash: string;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  revoked_at: Timestamp | null;
  created_at: CreatedAt;
}

export interface ApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  secret_hash: string;
  scopes: Schemas['Permission'][];
  created_at: CreatedAt;
  last_used_at: Timestamp | null;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
}

export interface AuditEventsTable {
  id: string;
  at: CreatedAt;
  actor_user_id: string | null;
  actor_api_key_id: string | null;
  actor_email: string | null;
  operation_id: string;
  method: string;
  path: string;
  target_id: string | null;
  team_id: string | null;
  request_id: string;
  outcome: 'success' | 'failure';
  status: number;
  error_code: string | null;
}

export type TeamRow = Selectable<TeamsTable>;
export type UserRow = Selectable<UsersTable>;
export type ApiKeyRow = Selectable<ApiKeysTable>;
export type AuditEventRow = Selectable<AuditEventsTable>;

export interface EnrollmentTokensTable {
  id: string;
  team_id: string;
  name: string;
  prefix: string;
  secret_hash: string;
  uses: ColumnType<number, number | undefined, number>;
  max_uses: number | null;
  expires_at: Timestamp;
  created_at: CreatedAt;
  revoked_at: Timestamp | null;
}

export interface AgentKeysTable {
  id: string;
  agent_id: string;
  prefix: string;
  secret_hash: string;
  created_at: CreatedAt;
  revoked_at: Timestamp | null;
}

type Json<T> = ColumnType<T, string, string>;

type Count = ColumnType<number, number | undefined, number>;

export interface TasksTable {
  id: string;
  team_id: string;
  /** Null only for a fleet task (a parent). */
  agent_id: string | null;
  kind: ColumnType<Schemas['TaskKind'], Schemas['TaskKind'] | undefined, never>;
  parent_id: ColumnType<string | null, string | null | undefined, never>;
  /** A child waiting for its turn in the rollout: pending, but not claimable. */
  held: ColumnType<boolean, boolean | undefined, boolean>;
  template_id: ColumnType<string | null, string | null | undefined, never>;
  template_version: ColumnType<number | null, number | null | undefined, never>;
  /** A parent's target and limits, as asked for. */
  fleet: ColumnType<FleetSettings | null, string | null | undefined, never>;
  stopped_reason: ColumnType<string | null, string | null | undefined, string | null>;
  fleet_total: Count;
  fleet_pending: Count;
  fleet_running: Count;
  fleet_succeeded: Count;
  fleet_failed: Count;
  fleet_cancelled: Count;
  fleet_skipped_offline: Count;
  type: Schemas['TaskType'];
  status: ColumnType<Schemas['TaskStatus'], Schemas['TaskStatus'] | undefined, Schemas['TaskStatus']>;
  progress: ColumnType<number, number | undefined, number>;
  eta: Timestamp | null;
  parameters: Json<Schemas['TaskParameters']>;
  result: ColumnType<Schemas['TaskResult'] | null, string | null, string | null>;
  error: string | null;
  attempt: ColumnType<number, number | undefined, number>;
  retry_of: string | null;
  queued_offline: ColumnType<boolean, boolean | undefined, boolean>;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
}

export interface TaskLogsTable {
  id: string;
  task_id: string;
  seq: ColumnType<number, number, never>;
  at: CreatedAt;
  line: string;
}

export type TaskRow = Selectable<TasksTable>;
export type FleetSettings = Pick<Schemas['FleetProgress'], 'target' | 'concurrency' | 'failure_threshold_percent' | 'queue_if_offline'>;
export type TaskLogRow = Selectable<TaskLogsTable>;

export interface TaskSchedulesTable {
  id: string;
  team_id: string;
  name: string;
  description: string | null;
  cron: string;
  timezone: string;
  enabled: boolean;
  missed_runs: Schemas['TaskScheduleMissedRuns'];
  run: Json<Schemas['CreateTaskRequest']>;
  /** The due time the scheduler waits for; null while disabled (or when the expression is never due again). */
  next_due_at: Timestamp | null;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface TaskScheduleExecutionsTable {
  id: string;
  schedule_id: string;
  due_at: Timestamp;
  fired_at: CreatedAt;
  task_id: string | null;
  status: Schemas['TaskScheduleExecutionStatus'];
  missed: boolean;
  error: string | null;
}

export type TaskScheduleRow = Selectable<TaskSchedulesTable>;
export type TaskScheduleExecutionRow = Selectable<TaskScheduleExecutionsTable>;

/** What every version of a template holds; the template row holds its current version's. */
interface TaskTemplateContent {
  name: string;
  description: string | null;
  action: Schemas['TaskType'];
  defaults: Json<Schemas['TaskParameters']>;
  parameters_schema: Json<Record<string, unknown>>;
}

export interface TaskTemplatesTable extends TaskTemplateContent {
  id: string;
  team_id: string;
  version: number;
  created_at: CreatedAt;
  updated_at: CreatedAt;
  deleted_at: Timestamp | null;
}

export interface TaskTemplateVersionsTable extends TaskTemplateContent {
  id: string;
  template_id: string;
  version: number;
  created_at: CreatedAt;
}

export interface TaskArtifactsTable {
  id: string;
  task_id: string;
  team_id: string;
  agent_id: string;
  name: string;
  content_type: string;
  /** bigint: read it cast to float8 (exact below 2^53). */
  size_bytes: ColumnType<string | number, number, never>;
  sha256: string;
  chunk_bytes: number;
  created_at: CreatedAt;
}

export interface TaskArtifactChunksTable {
  artifact_id: string;
  seq: number;
  data: ColumnType<Uint8Array, Uint8Array, never>;
}

export interface AgentGroupsTable {
  id: string;
  team_id: string;
  name: string;
  description: string | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface AgentGroupMembersTable {
  group_id: string;
  agent_id: string;
  added_at: CreatedAt;
}

export type AgentGroupRow = Selectable<AgentGroupsTable>;

export interface AlertsTable {
  id: string;
  team_id: string;
  agent_id: string | null;
  title: string;
  message: string | null;
  severity: Schemas['AlertSeverity'];
  status: ColumnType<Schemas['AlertStatus'], Schemas['AlertStatus'] | undefined, Schemas['AlertStatus']>;
  source: string | null;
  fingerprint: string | null;
  acknowledged_by: string | null;
  acknowledged_at: Timestamp | null;
  resolved_by: string | null;
  resolved_at: Timestamp | null;
  /** The alert rule that raised it; null for alerts raised through the API. */
  rule_id: ColumnType<string | null, string | null | undefined, string | null>;
  labels: ColumnType<Record<string, string> | null, string | null | undefined, string | null>;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export type AlertRow = Selectable<AlertsTable>;

export interface AlertRulesTable {
  id: string;
  team_id: string;
  name: string;
  metric: Schemas['MetricName'];
  scope: ColumnType<Schemas['AlertRuleScope'], string, string>;
  aggregation: Schemas['AlertRuleCondition']['aggregation'];
  window_seconds: number;
  operator: Schemas['AlertRuleCondition']['operator'];
  threshold: number;
  for_seconds: number;
  no_data_seconds: number | null;
  severity: Schemas['AlertSeverity'];
  labels: ColumnType<Record<string, string>, string, string>;
  description_template: string;
  enabled: boolean;
  /** When an evaluator next takes the rule (claimed FOR UPDATE SKIP LOCKED once due). */
  next_evaluation_at: CreatedAt;
  /** When an evaluator last took the rule (null: never); nudges keep a gap after it. */
  evaluated_at: ColumnType<Date | null, never, string>;
  /** When the next evaluation over every agent in scope is due; one before it (nudged) reads only agents that just reported. */
  full_evaluation_at: CreatedAt;
  /** The oldest sample time of the reports that nudged the rule since its last evaluation (null: none). */
  fresh_since: ColumnType<Date | null, never, string | null>;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export type AlertRuleRow = Selectable<AlertRulesTable>;

/** A (rule, agent) whose condition holds: pending since `since`, firing once it has an alert. */
export interface AlertRuleStatesTable {
  rule_id: string;
  agent_id: string;
  since: Timestamp;
  alert_id: string | null;
}
export type NewAlertRow = Insertable<AlertsTable>;

export interface DeploymentsTable {
  id: string;
  team_id: string;
  service: string;
  version: string;
  environment: Schemas['DeploymentEnvironment'];
  status: ColumnType<Schemas['DeploymentStatus'], Schemas['DeploymentStatus'] | undefined, Schemas['DeploymentStatus']>;
  previous_version: string | null;
  rollback_of: string | null;
  /** A rollback's reason and who asked for it (`rollbackDeployment`); null for others. */
  reason: ColumnType<string | null, string | null | undefined, string | null>;
  requested_by: ColumnType<string | null, string | null | undefined, string | null>;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  duration_seconds: number | null;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface PipelinesTable {
  id: string;
  team_id: string;
  name: string;
  repository: string;
  branch: ColumnType<string, string | undefined, string>;
  status: ColumnType<Schemas['PipelineStatus'], Schemas['PipelineStatus'] | undefined, Schemas['PipelineStatus']>;
  last_run_status: Schemas['PipelineRunStatus'] | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface PipelineRunsTable {
  id: string;
  pipeline_id: string;
  team_id: string;
  number: number;
  status: ColumnType<Schemas['PipelineRunStatus'], Schemas['PipelineRunStatus'] | undefined, Schemas['PipelineRunStatus']>;
  commit_sha: string;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  duration_seconds: number | null;
  created_by: string | null;
  created_at: CreatedAt;
}

export type DeploymentRow = Selectable<DeploymentsTable>;
export type PipelineRow = Selectable<PipelinesTable>;
export type PipelineRowUpdate = Updateable<PipelinesTable>;
export type PipelineRunRow = Selectable<PipelineRunsTable>;

// Inventory (migration 2026-11-21T1100): the last report of each agent, and its metric samples.
export interface AgentPackagesTable {
  id: string;
  agent_id: string;
  name: string;
  version: string;
  available_version: string | null;
  /** '' when the agent did not say. */
  architecture: ColumnType<string, string | undefined, string>;
  /** Generated from `version`: its runs of digits as numbers. */
  version_key: ColumnType<string[], never, never>;
  /** '' when neither the agent nor its operating system says. */
  ecosystem: ColumnType<string, string | undefined, string>;
}

export interface AgentServicesTable {
  id: string;
  agent_id: string;
  name: string;
  state: Schemas['SystemServiceState'];
  enabled: boolean;
}

export interface AgentHardwareTable {
  agent_id: string;
  cpu_model: string;
  cpu_cores: number;
  /** bigint: read it cast to float8 (exact below 2^53). */
  memory_bytes: ColumnType<string | number, number, number>;
  disk_bytes: ColumnType<string | number, number, number>;
  architecture: string | null;
  virtualization: string | null;
  manufacturer: string | null;
  model: string | null;
  reported_at: CreatedAt;
}

/** An imported OSV advisory (global, not a team's). */
export interface AdvisoriesTable {
  id: string;
  aliases: string[];
  summary: string | null;
  severity: Schemas['VulnerabilitySeverity'];
  severity_rank: number;
  modified_at: Timestamp;
  published_at: Timestamp | null;
  withdrawn_at: Timestamp | null;
  document: ColumnType<unknown, string, string>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** One affected package of an advisory (its `affected[position]`). */
export interface AdvisoryPackagesTable {
  advisory_id: string;
  position: number;
  ecosystem: string;
  name: string;
  ranges: ColumnType<unknown, string, string>;
  versions: ColumnType<string[], string, string>;
}

/** An installed package that an advisory affects. */
export interface PackageVulnerabilitiesTable {
  package_id: string;
  agent_id: string;
  advisory_id: string;
  fixed_versions: string[];
}

export interface AgentMetricsTable {
  agent_id: string;
  name: Schemas['MetricName'];
  at: Timestamp;
  value: number;
  /** `{}` when the sample has none (migration 2026-12-03T1700). */
  labels: ColumnType<Schemas['MetricLabels'], string | undefined, string>;
}

/** Per agent, metric, labels and hour: the samples' count, sum, min and max (migration 2026-12-03T1700). */
export interface AgentMetricRollupsTable {
  name: string;
  bucket: Timestamp;
  agent_id: string;
  labels: ColumnType<Schemas['MetricLabels'], string, string>;
  samples: number;
  sum: number;
  min: number;
  max: number;
}

/** The (metric, hour) pairs written since their rollups were last computed; appended, never updated. */
export interface AgentMetricRollupMarksTable {
  name: string;
  bucket: Timestamp;
}

/** A team's saved layout of metric queries (migration 2026-12-03T1700). */
export interface DashboardsTable {
  id: string;
  team_id: string;
  name: string;
  description: string | null;
  panels: ColumnType<Schemas['DashboardPanel'][], string, string>;
  version: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

/** The outbox: one row per event, written in the transaction of the change that causes it. */
export interface EventsTable {
  id: string;
  type: string;
  channel: Schemas['EventChannel'] | null;
  team_id: string;
  data: ColumnType<unknown, string, string>;
  occurred_at: CreatedAt;
  /** Set once the dispatcher has published the event and queued its webhook deliveries. */
  dispatched_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  /** The stream position (Last-Event-ID), in dispatch order; bigint, read as a string. */
  seq: ColumnType<string | null, never, string | number | null>;
  /** The W3C trace context of the request that caused it, when tracing is on (observability/tracing.ts). */
  traceparent: ColumnType<string | null, string | null | undefined, string | null>;
  tracestate: ColumnType<string | null, string | null | undefined, string | null>;
}
export type EventRow = Selectable<EventsTable>;

export interface WebhooksTable {
  id: string;
  team_id: string;
  url: string;
  events: string[];
  description: string | null;
  secret_ciphertext: string;
  secret_hint: string;
  active: Generated<boolean>;
  disabled_reason: string | null;
  disabled_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  consecutive_failures: Generated<number>;
  last_delivery_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}
export type WebhookRow = Selectable<WebhooksTable>;

export interface WebhookDeliveriesTable {
  id: string;
  /**
   * The webhook; null on a notification to a channel (`channel_id`), which only the notification queue
   * (modules/notifications) writes and only the deliverer's own SQL reads, so Kysely code sees webhooks'.
   */
  webhook_id: string;
  channel_id: ColumnType<string | null, string | null | undefined, string | null>;
  event_id: string;
  event: string;
  status: Generated<Schemas['WebhookDeliveryStatus']>;
  attempt_count: Generated<number>;
  next_attempt_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  last_status_code: number | null;
  redelivery_of: string | null;
  created_at: CreatedAt;
  completed_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}
/** A webhook's delivery (notifications to channels are the deliverer's own). */
export type WebhookDeliveryRow = Omit<Selectable<WebhookDeliveriesTable>, 'channel_id'>;

/** Where a team's alerts are sent; exactly the target column of its kind is set. */
export interface NotificationChannelsTable {
  id: string;
  team_id: string;
  name: string;
  kind: Schemas['NotificationChannelKind'];
  webhook_id: string | null;
  /** A `slack` channel's incoming-webhook URL, sealed with the secret box (bound to the channel id). */
  slack_url_ciphertext: string | null;
  slack_url_hint: string | null;
  email_to: string[] | null;
  min_severity: Schemas['AlertSeverity'];
  label_matchers: ColumnType<Record<string, string>, string, string>;
  enabled: boolean;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}
export type NotificationChannelRow = Selectable<NotificationChannelsTable>;

export interface AlertSilencesTable {
  id: string;
  team_id: string;
  starts_at: Timestamp;
  ends_at: Timestamp;
  matchers: ColumnType<Record<string, string>, string, string>;
  comment: string;
  created_by: string | null;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}
export type AlertSilenceRow = Selectable<AlertSilencesTable>;

export interface WebhookDeliveryAttemptsTable {
  delivery_id: string;
  number: number;
  attempted_at: ColumnType<Date, Date | string, Date | string>;
  status_code: number | null;
  latency_ms: number;
  response_excerpt: string | null;
  error: string | null;
  succeeded: boolean;
}
export type WebhookDeliveryAttemptRow = Selectable<WebhookDeliveryAttemptsTable>;

export interface InstanceKeysTable {
  name: string;
  value: string;
  created_at: CreatedAt;
}

/**
 * Written by triggers on the identity tables and on agents (migrations 2026-12-02T1000 and T2000); followed by
 * every process to keep its caches current (server/db/change-feed.ts).
 */
export interface ChangeFeedTable {
  id: ColumnType<string, never, never>;
  kind: 'user' | 'membership' | 'api_key' | 'agent_key' | 'agent' | 'agent_row' | 'agent_work' | 'agent_cert';
  subject: string;
  changed_at: ColumnType<Date, never, never>;
}

/** A setting's value at one scope (migration 2026-12-04T1000): `scope_id` is the team, the group, or the nil UUID for global. */
export interface ConfigSettingsTable {
  scope_id: string;
  key: string;
  scope: Schemas['SettingScope'];
  team_id: string | null;
  group_id: string | null;
  value: ColumnType<Schemas['SettingValue'], string, string>;
  version: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

/** A team's security policy, attached to the team or one of its groups (migration 2026-12-04T1000). */
export interface ConfigPoliciesTable {
  id: string;
  team_id: string;
  group_id: string | null;
  name: string;
  description: string | null;
  kind: Schemas['PolicyKind'];
  rules: ColumnType<Schemas['PolicyRules'], string, string>;
  version: ColumnType<number, number | undefined, number>;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

/** One-time grants of sign-in through an identity provider (identity-providers module): a state or a code. */
export interface OAuthGrantsTable {
  /** SHA-256 (hex) of the secret. */
  id: string;
  kind: 'state' | 'code';
  provider: string;
  payload: ColumnType<Record<string, unknown>, string, string>;
  expires_at: Timestamp;
  created_at: CreatedAt;
}

/** A user's TOTP secret, sealed with the secret box (migration 2026-12-04T1300); pending while `confirmed_at` is null. */
export interface UserTotpTable {
  user_id: string;
  secret_ciphertext: string;
  confirmed_at: Timestamp | null;
  /** The time step (Unix seconds / 30) of the last code accepted, so each code works once. */
  last_used_step: ColumnType<number | null, number | null | undefined, number | null>;
  created_at: CreatedAt;
  updated_at: CreatedAt;
}

export interface UserRecoveryCodesTable {
  id: string;
  user_id: string;
  /** SHA-256 (hex) of the normalised code. */
  code_hash: string;
  used_at: Timestamp | null;
  created_at: CreatedAt;
}

export interface MfaChallengesTable {
  id: string;
  user_id: string;
  token_hash: string;
  failures: ColumnType<number, number | undefined, number>;
  expires_at: Timestamp;
  used_at: Timestamp | null;
  created_at: CreatedAt;
}

/** One row (id 1). */
export interface AuthPolicyTable {
  id: number;
  require_totp_for_roles: ColumnType<Schemas['RoleName'][], Schemas['RoleName'][] | undefined, Schemas['RoleName'][]>;
  updated_at: CreatedAt;
}

/** The certificate authority for agents (one row, `agents`); its private key sealed with the secret box. */
export interface CertificateAuthoritiesTable {
  name: string;
  certificate_pem: string;
  private_key_sealed: string;
  created_at: ColumnType<Date, never, never>;
}

export interface AgentCertificatesTable {
  id: string;
  agent_id: string;
  /** Lowercase hexadecimal, as the CRL lists it. */
  serial_number: string;
  fingerprint_sha256: string;
  subject: string;
  key_algorithm: 'ecdsa-p256' | 'ecdsa-p384' | 'rsa';
  key_bits: number;
  not_before: Date;
  not_after: Date;
  pem: string;
  revoked_at: Date | null;
  revocation_reason: 'unspecified' | 'key_compromise' | 'affiliation_changed' | 'superseded' | 'cessation_of_operation' | null;
  created_at: ColumnType<Date, never, never>;
  updated_at: ColumnType<Date, Date | undefined, Date>;
}
