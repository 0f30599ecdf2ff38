// The Dockerfile, compose.yaml and the Kubernetes manifests, checked against the server's real configuration:
// no container engine runs here, so what a container would find is read from the files instead. The probes' paths
// are operations of the bundled contract that need no credentials; every variable the files set is one the server
// reads (server/config.ts); the environment each process gets passes loadConfig and listens on the port the files
// publish; the image runs node itself as PID 1, as a non-root user; the stop budget (preStop, the workers' stop,
// SHUTDOWN_DELAY_MS, SHUTDOWN_GRACE_MS) fits in the time the orchestrator waits before SIGKILL. Each check answers a
// list of problems, and the last tests make sure doctored copies of the files produce them.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type Config } from '../../server/config.ts';
import { spec } from '../../server/contract.ts';
import { deliveryPolicy } from '../../server/modules/webhooks/webhooks.policy.ts';
import {
  durationSeconds,
  execForm,
  healthcheckOf,
  imageEnvironment,
  parseCompose,
  parseDockerfile,
  parseKubernetes,
  readKubernetesFiles,
  readRootFile,
  root,
  serverEnvironmentNames,
  serviceEnvironment,
  type ComposeService,
  type DockerStage,
  type KubernetesObject,
} from '../support/deploy-files.ts';

const { names: serverVariables, readByLoadConfig } = serverEnvironmentNames();
const defaults = loadConfig({});
/** Seconds the stop may spend beyond its named parts: closing the event bus, the change feed, the pools, Redis's QUIT (1 s). */
const CLOSE_MARGIN_SECONDS = 5;
const testSecrets = (): Record<string, string> => ({ JWT_SECRET: randomBytes(32).toString('hex'), SECRETS_KEY: randomBytes(32).toString('hex') });

/** A GET of the bundled contract that answers without credentials (a probe sends none). */
function probeProblems(where: string, path: string | undefined): string[] {
  if (!path) return [`${where}: no path`];
  const get = spec.paths?.[path]?.get;
  if (!get) return [`${where}: ${path} is not an operation of the contract`];
  if (!Array.isArray(get.security) || get.security.length > 0) return [`${where}: ${path} (${get.operationId}) needs credentials, which a probe does not send`];
  return [];
}

function unknownVariables(where: string, env: Record<string, unknown>): string[] {
  return Object.keys(env)
    .filter((name) => !serverVariables.has(name))
    .map((name) => `${where}: ${name} is not a variable the server reads`);
}

/** The configuration a process gets from `env`, or the problem loadConfig finds in it. */
function configOf(where: string, env: Record<string, string>): Config | string {
  try {
    return loadConfig(env);
  } catch (err) {
    return `${where}: the server would refuse this environment: ${(err as Error).message}`;
  }
}

/** What the server's stop takes at most, in seconds, after SIGTERM (server/server.ts `stop`). */
function stopSeconds(config: Config): number {
  const webhookAttempt = deliveryPolicy(config.webhookDeliveryOverrides).timeout_seconds;
  return webhookAttempt + (config.shutdownDelayMs + config.shutdownGraceMs) / 1000 + CLOSE_MARGIN_SECONDS;
}

/** The path a healthcheck command fetches: the quoted absolute path in its `node -e` program. */
function healthcheckPath(command: string[]): string | undefined {
  return /['"`](\/[^'"`\s]*)['"`]/.exec(command.join(' '))?.[1];
}

// ---- Dockerfile ----

function runtimeStage(stages: DockerStage[]): DockerStage {
  return stages.at(-1)!;
}

function dockerfileProblems(text: string): string[] {
  const problems: string[] = [];
  const stages = parseDockerfile(text);
  if (stages.length < 2) problems.push('Dockerfile: not multi-stage (a build stage and a runtime stage)');
  for (const stage of stages) {
    if (!/^node:24(\.[\d.]+)?-[a-z]+-slim$|^node:24(\.[\d.]+)?-slim$/.test(stage.from)) problems.push(`Dockerfile: stage ${stage.name ?? '?'} is not on a Node 24 slim image (${stage.from})`);
  }
  const runs = (stage: DockerStage) => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args);
  const build = stages[0]!;
  if (!runs(build).some((r) => /\bnpm ci\b/.test(r))) problems.push('Dockerfile: the build stage does not run npm ci');
  if (!runs(build).some((r) => /\bnpm run build\b/.test(r))) problems.push('Dockerfile: the build stage does not run npm run build');
  const runtime = runtimeStage(stages);
  const only = (keyword: string) => runtime.instructions.filter((i) => i.keyword === keyword);
  if (!runs(runtime).some((r) => /\bnpm ci\b[^&]*--omit=dev/.test(r))) problems.push('Dockerfile: the runtime stage does not install with npm ci --omit=dev');
  if (!only('COPY').some((i) => /--from=/.test(i.args) && /\/dist\/?\s/.test(i.args))) problems.push('Dockerfile: the runtime stage does not take the built dist/ from the build stage');

  const users = only('USER');
  const user = users.at(-1)?.args.split(':')[0];
  if (!user || user === 'root' || user === '0') problems.push(`Dockerfile: the runtime stage runs as ${user ?? 'root (no USER)'}`);

  const env = imageEnvironment(runtime);
  problems.push(...unknownVariables('Dockerfile ENV', env));
  const config = configOf('Dockerfile ENV', { ...env, ...testSecrets() });
  if (typeof config === 'string') return [...problems, config];
  if (config.host === '127.0.0.1' || config.host === 'localhost') problems.push(`Dockerfile: HOST is ${config.host}, unreachable from outside the container`);
  const exposed = only('EXPOSE').flatMap((i) => i.args.split(/\s+/)).map((p) => Number(p.split('/')[0]));
  if (!exposed.includes(config.port)) problems.push(`Dockerfile: EXPOSE ${exposed.join(' ')} does not include the port the server listens on (${config.port})`);

  const cmd = only('CMD').at(-1);
  const argv = cmd && execForm(cmd.args);
  if (!argv) problems.push('Dockerfile: CMD is not exec form (a JSON array), so a shell would be PID 1');
  else {
    if (argv[0] !== 'node') problems.push(`Dockerfile: CMD starts ${argv[0]}, not node`);
    const entry = argv.slice(1).find((a) => !a.startsWith('-'));
    if (!entry || !existsSync(join(root, entry.replace(/\.js$/, '.ts')))) problems.push(`Dockerfile: CMD runs ${entry}, which is not the compiled form of a server source`);
    const startFlags = JSON.parse(readRootFile('package.json')).scripts.start as string;
    for (const flag of argv.slice(1).filter((a) => a.startsWith('--'))) {
      if (!startFlags.includes(flag)) problems.push(`Dockerfile: CMD passes ${flag}, which npm start does not`);
    }
  }
  for (const entrypoint of only('ENTRYPOINT')) {
    if (!execForm(entrypoint.args)) problems.push('Dockerfile: ENTRYPOINT is shell form, so a shell would be PID 1');
  }
  const stop = only('STOPSIGNAL').at(-1)?.args;
  if (stop && stop !== 'SIGTERM') problems.push(`Dockerfile: STOPSIGNAL ${stop}; the server stops gracefully on SIGTERM`);

  const healthcheck = only('HEALTHCHECK').at(-1);
  if (!healthcheck) problems.push('Dockerfile: no HEALTHCHECK');
  else {
    const command = execForm(healthcheckOf(healthcheck).command);
    if (!command) problems.push('Dockerfile: HEALTHCHECK CMD is not exec form');
    else {
      const path = healthcheckPath(command);
      if (path !== '/health/live') problems.push(`Dockerfile: HEALTHCHECK checks ${path}, not /health/live`);
      problems.push(...probeProblems('Dockerfile HEALTHCHECK', path));
      if (command[0] !== 'node') problems.push('Dockerfile: HEALTHCHECK runs something other than node (the slim image has no curl or wget)');
    }
  }
  return problems;
}

// ---- compose.yaml ----

const isOpsdeck = (service: ComposeService): boolean => service.build !== undefined || /^opsdeck[:@]/.test(service.image ?? '');

function dependsOn(service: ComposeService): Record<string, string> {
  const deps = service.depends_on ?? {};
  return Array.isArray(deps) ? Object.fromEntries(deps.map((d) => [d, 'service_started'])) : Object.fromEntries(Object.entries(deps).map(([name, d]) => [name, d.condition ?? 'service_started']));
}

function composeProblems(text: string, dockerfile: string): string[] {
  const problems: string[] = [];
  const { services } = parseCompose(text);
  const image = imageEnvironment(runtimeStage(parseDockerfile(dockerfile)));
  const secrets = testSecrets();
  const byImage = (pattern: RegExp) => Object.keys(services).filter((name) => pattern.test(services[name]!.image ?? ''));
  const postgres = byImage(/^postgres:/);
  const redis = byImage(/^redis:/);
  if (postgres.length !== 1) problems.push(`compose.yaml: ${postgres.length} PostgreSQL services, not one`);
  if (redis.length !== 1) problems.push(`compose.yaml: ${redis.length} Redis services, not one`);

  const opsdeck = Object.keys(services).filter((name) => isOpsdeck(services[name]!));
  const commandOf = (service: ComposeService) => (Array.isArray(service.command) ? service.command.join(' ') : (service.command ?? ''));
  const migrations = opsdeck.filter((name) => commandOf(services[name]!) === 'node server/db/migrate.js');
  const servers = opsdeck.filter((name) => services[name]!.command === undefined);
  if (migrations.length !== 1) problems.push(`compose.yaml: ${migrations.length} migration services (node server/db/migrate.js), not one`);
  if (servers.length !== 2) problems.push(`compose.yaml: ${servers.length} Opsdeck server processes, not two`);

  const closure = (name: string, seen = new Set<string>()): Map<string, string> => {
    const all = new Map<string, string>();
    for (const [dep, condition] of Object.entries(dependsOn(services[name] ?? {}))) {
      all.set(dep, condition);
      if (!seen.has(dep)) for (const [d, c] of closure(dep, seen.add(dep))) all.set(d, c);
    }
    return all;
  };

  const workers: boolean[] = [];
  for (const name of opsdeck) {
    const service = services[name]!;
    let env: Record<string, string>;
    try {
      env = serviceEnvironment(service, secrets);
    } catch (err) {
      problems.push(`compose.yaml ${name}: ${(err as Error).message}`);
      continue;
    }
    problems.push(...unknownVariables(`compose.yaml ${name}`, env));
    for (const secret of ['JWT_SECRET', 'SECRETS_KEY']) {
      const raw = Array.isArray(service.environment) ? undefined : service.environment?.[secret];
      if (typeof raw !== 'string' || !new RegExp(`^\\$\\{${secret}:\\?[^}]+\\}$`).test(raw)) {
        problems.push(`compose.yaml ${name}: ${secret} must come from the environment and be required (\${${secret}:?…}), never a value or a default in the file`);
      }
    }
    const config = configOf(`compose.yaml ${name}`, { ...image, ...env });
    if (typeof config === 'string') {
      problems.push(config);
      continue;
    }
    if (!config.databaseUrl || !postgres.some((p) => new URL(config.databaseUrl!).hostname === p)) problems.push(`compose.yaml ${name}: DATABASE_URL does not point at the PostgreSQL service`);
    if (!config.redisUrl || !redis.some((r) => new URL(config.redisUrl!).hostname === r)) problems.push(`compose.yaml ${name}: REDIS_URL does not point at the Redis service`);
    const deps = closure(name);
    // The migration step uses only the database; a server process, both.
    for (const backend of servers.includes(name) ? [...postgres, ...redis] : postgres) {
      if (!deps.has(backend)) problems.push(`compose.yaml ${name}: does not depend on ${backend}`);
    }
    if (!servers.includes(name)) continue;

    workers.push(config.backgroundWorkers);
    if (!migrations.every((m) => deps.get(m) === 'service_completed_successfully')) problems.push(`compose.yaml ${name}: does not wait for the migrations to complete`);
    for (const port of service.ports ?? []) {
      const target = typeof port === 'object' ? port.target : Number(String(port).split(':').at(-1)!.split('/')[0]);
      if (target !== config.port) problems.push(`compose.yaml ${name}: publishes container port ${target}, but the server listens on ${config.port}`);
    }
    if ((service.ports ?? []).length === 0) problems.push(`compose.yaml ${name}: publishes no port`);
    const test = service.healthcheck?.test;
    if (service.healthcheck?.disable || !Array.isArray(test)) problems.push(`compose.yaml ${name}: no exec-form healthcheck`);
    else {
      problems.push(...probeProblems(`compose.yaml ${name} healthcheck`, healthcheckPath(test)));
      if (test.join(' ').includes('127.0.0.1:8080') && config.port !== 8080) problems.push(`compose.yaml ${name}: the healthcheck asks port 8080, the server listens on ${config.port}`);
    }
    const grace = service.stop_grace_period ? durationSeconds(service.stop_grace_period) : 10;
    if (grace < stopSeconds(config)) problems.push(`compose.yaml ${name}: stop_grace_period is ${grace} s, but the server's stop may take ${stopSeconds(config)} s`);
  }
  if (!workers.includes(false)) problems.push('compose.yaml: no API-only process (BACKGROUND_WORKERS=false)');
  if (!workers.includes(true)) problems.push('compose.yaml: no process runs the background workers');
  return problems;
}

// ---- deploy/kubernetes/ ----

interface Probe {
  httpGet?: { path?: string; port?: number | string };
  periodSeconds?: number;
  failureThreshold?: number;
}
interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } } }[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds: number } } };
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
}
interface PodSpec {
  containers: Container[];
  terminationGracePeriodSeconds?: number;
  restartPolicy?: string;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
}
type Workload = KubernetesObject & { spec: { selector?: { matchLabels?: Record<string, string> }; template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } } };

function kubernetesProblems(files: Record<string, string>, dockerfile: string): string[] {
  const problems: string[] = [];
  const objects = parseKubernetes(files);
  const image = imageEnvironment(runtimeStage(parseDockerfile(dockerfile)));
  const find = <T extends KubernetesObject = KubernetesObject>(kind: string) => objects.filter((o) => o.kind === kind) as unknown as (T & { readonly file: string })[];
  const data = (kind: 'ConfigMap' | 'Secret', name: string): Record<string, string> | undefined => {
    const object = find(kind).find((o) => o.metadata.name === name) as (KubernetesObject & { data?: Record<string, string>; stringData?: Record<string, string> }) | undefined;
    if (!object) return undefined;
    const decoded = Object.fromEntries(Object.entries(object.data ?? {}).map(([k, v]) => [k, kind === 'Secret' ? Buffer.from(v, 'base64').toString('utf8') : String(v)]));
    return { ...decoded, ...Object.fromEntries(Object.entries(object.stringData ?? {}).map(([k, v]) => [k, String(v)])) };
  };
  for (const kind of ['ConfigMap', 'Secret'] as const) {
    for (const object of find<KubernetesObject & { data?: Record<string, unknown>; stringData?: Record<string, unknown> }>(kind)) {
      const where = `${object.file} ${kind} ${object.metadata.name}`;
      problems.push(...unknownVariables(where, data(kind, object.metadata.name)!));
      // The API server refuses a number or a boolean here (YAML's 8080 or true must be quoted).
      for (const [key, value] of Object.entries({ ...object.data, ...object.stringData })) {
        if (typeof value !== 'string') problems.push(`${where}: ${key} is a ${typeof value}, not a string`);
      }
    }
  }

  /** The container's environment; `secrets` replaces the Secrets' values (as the operator fills them in). */
  const environmentOf = (where: string, container: Container, secrets: Record<string, string> | undefined): Record<string, string> => {
    const env: Record<string, string> = { ...image };
    const secretNames = new Set<string>();
    for (const from of container.envFrom ?? []) {
      const kind = from.configMapRef ? 'ConfigMap' : 'Secret';
      const name = (from.configMapRef ?? from.secretRef)!.name;
      const values = data(kind, name);
      if (!values) problems.push(`${where}: envFrom ${kind} ${name}, which no manifest defines`);
      else Object.assign(env, values);
      if (kind === 'Secret') for (const key of Object.keys(values ?? {})) secretNames.add(key);
    }
    for (const variable of container.env ?? []) {
      const ref = variable.valueFrom?.secretKeyRef ?? variable.valueFrom?.configMapKeyRef;
      if (ref) {
        const kind = variable.valueFrom?.secretKeyRef ? 'Secret' : 'ConfigMap';
        const value = data(kind, ref.name)?.[ref.key];
        if (value === undefined) problems.push(`${where}: ${variable.name} refers to ${kind} ${ref.name} key ${ref.key}, which no manifest defines`);
        env[variable.name] = value ?? '';
        if (kind === 'Secret') secretNames.add(variable.name);
      } else env[variable.name] = variable.value ?? '';
    }
    problems.push(...unknownVariables(where, Object.fromEntries((container.env ?? []).map((v) => [v.name, v.value]))));
    for (const secret of ['JWT_SECRET', 'SECRETS_KEY']) {
      if (!secretNames.has(secret)) problems.push(`${where}: ${secret} does not come from a Secret`);
    }
    if (secrets) for (const name of secretNames) env[name] = secrets[name] ?? (name === 'DATABASE_URL' ? 'postgres://opsdeck:password@postgres:5432/opsdeck' : env[name]!);
    return env;
  };

  const nonRoot = (where: string, pod: PodSpec, container: Container) => {
    const context = { ...pod.securityContext, ...container.securityContext };
    if (context.runAsNonRoot !== true) problems.push(`${where}: runAsNonRoot is not set`);
    if (context.runAsUser === 0) problems.push(`${where}: runs as root`);
  };

  const deployments = find<Workload>('Deployment');
  if (deployments.length === 0) problems.push('deploy/kubernetes: no Deployment');
  const images = new Set<string>();
  for (const deployment of deployments) {
    const pod = deployment.spec.template.spec;
    const labels = deployment.spec.template.metadata?.labels ?? {};
    for (const [key, value] of Object.entries(deployment.spec.selector?.matchLabels ?? {})) {
      if (labels[key] !== value) problems.push(`${deployment.file}: the selector's ${key}=${value} is not on the pods`);
    }
    for (const container of pod.containers) {
      const where = `${deployment.file} ${container.name}`;
      if (container.image) images.add(container.image);
      nonRoot(where, pod, container);
      if (container.command) problems.push(`${where}: sets command, replacing the image's exec-form node CMD`);
      const env = environmentOf(where, container, testSecrets());
      const config = configOf(where, env);
      if (typeof config === 'string') {
        problems.push(config);
        continue;
      }
      if (config.host === '127.0.0.1' || config.host === 'localhost') problems.push(`${where}: HOST is ${config.host}; the kubelet's probes and the Service cannot reach it`);
      if (!config.databaseUrl) problems.push(`${where}: no DATABASE_URL, so every pod would have an embedded database of its own`);
      const ports = container.ports ?? [];
      const http = ports.find((p) => p.containerPort === config.port);
      if (!http) problems.push(`${where}: no containerPort ${config.port} (the server's PORT)`);
      const portOf = (probe: Probe | undefined) => (typeof probe?.httpGet?.port === 'string' ? ports.find((p) => p.name === probe.httpGet!.port)?.containerPort : probe?.httpGet?.port);
      for (const [kind, probe, path] of [
        ['readinessProbe', container.readinessProbe, '/health/ready'],
        ['livenessProbe', container.livenessProbe, '/health/live'],
      ] as const) {
        if (!probe?.httpGet) {
          problems.push(`${where}: no HTTP ${kind}`);
          continue;
        }
        if (probe.httpGet.path !== path) problems.push(`${where}: ${kind} asks ${probe.httpGet.path}, not ${path}`);
        problems.push(...probeProblems(`${where} ${kind}`, probe.httpGet.path));
        if (portOf(probe) !== config.port) problems.push(`${where}: ${kind} asks port ${probe.httpGet.port}, the server listens on ${config.port}`);
      }
      if (container.startupProbe?.httpGet) {
        problems.push(...probeProblems(`${where} startupProbe`, container.startupProbe.httpGet.path));
        if (portOf(container.startupProbe) !== config.port) problems.push(`${where}: startupProbe asks port ${container.startupProbe.httpGet.port}, the server listens on ${config.port}`);
      }
      // Readiness must be seen failing before the listener closes: SHUTDOWN_DELAY_MS covers the probe's failures.
      const readiness = container.readinessProbe;
      const noticed = (readiness?.periodSeconds ?? 10) * (readiness?.failureThreshold ?? 3);
      if (config.shutdownDelayMs / 1000 < noticed) problems.push(`${where}: SHUTDOWN_DELAY_MS is ${config.shutdownDelayMs} ms, but readiness is seen failing only after ${noticed} s (periodSeconds × failureThreshold)`);
      const preStop = container.lifecycle?.preStop;
      const sleep = preStop?.sleep?.seconds ?? (preStop?.exec?.command?.[0] === 'sleep' ? Number(preStop.exec.command[1]) : undefined);
      if (sleep === undefined || !(sleep > 0)) problems.push(`${where}: no preStop sleep (endpoints are removed while the pod still serves)`);
      const budget = (sleep ?? 0) + stopSeconds(config);
      const grace = pod.terminationGracePeriodSeconds ?? 30;
      if (grace < budget) problems.push(`${where}: terminationGracePeriodSeconds is ${grace}, but preStop (${sleep ?? 0} s) and the server's stop (${stopSeconds(config)} s) take ${budget}`);
    }
    const services = find<KubernetesObject & { spec: { selector?: Record<string, string>; ports?: { targetPort?: number | string }[] } }>('Service');
    const serving = services.filter((s) => Object.entries(s.spec.selector ?? {}).every(([k, v]) => labels[k] === v));
    if (serving.length === 0) problems.push(`${deployment.file}: no Service selects its pods`);
    for (const service of serving) {
      for (const port of service.spec.ports ?? []) {
        const ok = pod.containers.some((c) => (c.ports ?? []).some((p) => p.name === port.targetPort || p.containerPort === port.targetPort));
        if (!ok) problems.push(`${service.file}: targetPort ${port.targetPort} is no port of the pods`);
      }
    }
  }

  const jobs = find<Workload>('Job');
  const migrationJobs = jobs.filter((job) => job.spec.template.spec.containers.some((c) => [...(c.command ?? []), ...(c.args ?? [])].join(' ') === 'node server/db/migrate.js'));
  if (migrationJobs.length !== 1) problems.push(`deploy/kubernetes: ${migrationJobs.length} migration Jobs (node server/db/migrate.js), not one`);
  if (!existsSync(join(root, 'server/db/migrate.ts'))) problems.push('server/db/migrate.ts, which the migration Job runs compiled, is gone');
  for (const job of migrationJobs) {
    const pod = job.spec.template.spec;
    if (!['Never', 'OnFailure'].includes(pod.restartPolicy ?? '')) problems.push(`${job.file}: restartPolicy must be Never or OnFailure`);
    for (const container of pod.containers) {
      const where = `${job.file} ${container.name}`;
      nonRoot(where, pod, container);
      if (!container.image || !images.has(container.image)) problems.push(`${where}: image ${container.image} is not the Deployment's`);
      const config = configOf(where, environmentOf(where, container, testSecrets()));
      if (typeof config === 'string') problems.push(config);
      else if (!config.databaseUrl) problems.push(`${where}: no DATABASE_URL`);
    }
  }
  return problems;
}

const dockerfile = readRootFile('Dockerfile');
const compose = readRootFile('compose.yaml');
const kubernetes = readKubernetesFiles();

describe('the server side of the checks', () => {
  it('finds the variables config.ts reads, and only those', () => {
    expect([...readByLoadConfig].filter((name) => !serverVariables.has(name))).toEqual([]);
    for (const name of ['PORT', 'HOST', 'JWT_SECRET', 'SECRETS_KEY', 'SHUTDOWN_DELAY_MS', 'SHUTDOWN_GRACE_MS', 'BACKGROUND_WORKERS', 'DATABASE_URL', 'REDIS_URL']) {
      expect(serverVariables).toContain(name);
    }
    for (const name of ['POSTGRES_PASSWORD', 'SHUTDOWN_GRACE_SECONDS', 'JWT_SECRET_FILE', 'RES_NOT_FOUND']) expect(serverVariables).not.toContain(name);
  });

  it('knows the health checks as operations without credentials', () => {
    expect(probeProblems('x', '/health/live')).toEqual([]);
    expect(probeProblems('x', '/health/ready')).toEqual([]);
    expect(probeProblems('x', '/healthz')).toEqual(['x: /healthz is not an operation of the contract']);
    expect(probeProblems('x', '/api/v2/agents')[0]).toMatch(/needs credentials/);
  });
});

describe('Dockerfile', () => {
  it('builds on Node 24 slim, installs production dependencies, runs node as PID 1 as a non-root user, checks /health/live', () => {
    expect(dockerfileProblems(dockerfile)).toEqual([]);
  });

  it('exposes the port the server listens on in the image', () => {
    const env = imageEnvironment(runtimeStage(parseDockerfile(dockerfile)));
    const config = loadConfig({ ...env, ...testSecrets() });
    expect(config.env).toBe('production');
    expect(config.port).toBe(defaults.port);
    // Production without the secrets stops with the variable's name, so an image never runs with random keys.
    expect(() => loadConfig(env)).toThrow(ConfigError);
  });
});

describe('compose.yaml', () => {
  it('has PostgreSQL, Redis, a migration step and two Opsdeck processes (one API-only) configured as the server reads them', () => {
    expect(composeProblems(compose, dockerfile)).toEqual([]);
  });

  it('refuses to start without JWT_SECRET and SECRETS_KEY', () => {
    const { services } = parseCompose(compose);
    expect(() => serviceEnvironment(services.opsdeck!, {})).toThrow(/JWT_SECRET|SECRETS_KEY/);
  });
});

describe('deploy/kubernetes', () => {
  it('has a Deployment with probes on the right paths and ports, a stop that fits its grace period, a Service, a ConfigMap, a Secret and a migration Job', () => {
    expect(kubernetesProblems(kubernetes, dockerfile)).toEqual([]);
  });

  it('ships no usable secret: left as it is, the Secret stops the server with the variable it lacks', () => {
    const objects = parseKubernetes(kubernetes);
    const config = objects.find((o) => o.kind === 'ConfigMap') as unknown as { data: Record<string, string> };
    const secret = objects.find((o) => o.kind === 'Secret') as unknown as { stringData: Record<string, string> };
    const image = imageEnvironment(runtimeStage(parseDockerfile(dockerfile)));
    let error: unknown;
    try {
      loadConfig({ ...image, ...config.data, ...secret.stringData });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(['JWT_SECRET', 'SECRETS_KEY']).toContain((error as ConfigError).variable);
  });
});

describe('the checks fail when a file drifts', () => {
  const doctored = (text: string, from: string | RegExp, to: string): string => {
    const changed = text.replace(from, to);
    if (changed === text) throw new Error(`the test's change did not apply: ${String(from)}`);
    return changed;
  };

  it.each([
    ['runs as root', (t: string) => doctored(t, /^USER node$/m, 'USER root'), /runs as root/],
    ['starts through npm', (t: string) => doctored(t, /^CMD \[.*$/m, 'CMD ["npm", "start"]'), /not node/],
    ['starts through a shell', (t: string) => doctored(t, /^CMD \[.*$/m, 'CMD node server/main.js'), /not exec form/],
    ['checks another path', (t: string) => doctored(t, "'/health/live'", "'/healthz'"), /not \/health\/live/],
    ['exposes another port', (t: string) => doctored(t, /^EXPOSE 8080$/m, 'EXPOSE 3000'), /EXPOSE 3000/],
    ['sets a variable the server does not read', (t: string) => doctored(t, 'HOST=0.0.0.0', 'HOST=0.0.0.0 LISTEN_PORT=8080'), /LISTEN_PORT is not a variable/],
    ['listens on loopback', (t: string) => doctored(t, 'HOST=0.0.0.0', 'HOST=127.0.0.1'), /HOST is 127\.0\.0\.1/],
    ['keeps dev dependencies', (t: string) => doctored(t, 'npm ci --omit=dev', 'npm ci'), /--omit=dev/],
    ['is on another Node', (t: string) => doctored(t, 'ARG NODE_IMAGE=node:24-bookworm-slim', 'ARG NODE_IMAGE=node:22-bookworm-slim'), /Node 24 slim/],
  ])('Dockerfile %s', (_, change, problem) => {
    expect(dockerfileProblems(change(dockerfile))).toContainEqual(expect.stringMatching(problem));
  });

  it.each([
    ['misspells a variable', (t: string) => doctored(t, 'SHUTDOWN_GRACE_MS: "10000"', 'SHUTDOWN_GRACE_SECONDS: "10"'), /SHUTDOWN_GRACE_SECONDS is not a variable/],
    ['gives a bad value', (t: string) => doctored(t, 'SHUTDOWN_GRACE_MS: "10000"', 'SHUTDOWN_GRACE_MS: "ten"'), /would refuse.*SHUTDOWN_GRACE_MS/],
    ['stops too soon', (t: string) => doctored(t, 'stop_grace_period: 30s', 'stop_grace_period: 10s'), /stop_grace_period is 10 s/],
    ['has no API-only process', (t: string) => doctored(t, 'BACKGROUND_WORKERS: "false"', 'BACKGROUND_WORKERS: "true"'), /no API-only process/],
    ['publishes another port', (t: string) => doctored(t, '"8081:8080"', '"8081:3000"'), /container port 3000/],
    ['writes a secret in the file', (t: string) => doctored(t, /JWT_SECRET: \$\{JWT_SECRET:\?[^}]*\}/, `JWT_SECRET: ${'k'.repeat(40)}`), /JWT_SECRET must come from the environment/],
    ['checks a path that is not an operation', (t: string) => doctored(t, "'/health/ready'", "'/ready'"), /\/ready is not an operation/],
    ['starts before the migrations', (t: string) => doctored(t, 'condition: service_completed_successfully', 'condition: service_started'), /does not wait for the migrations/],
  ])('compose.yaml %s', (_, change, problem) => {
    expect(composeProblems(change(compose), dockerfile)).toContainEqual(expect.stringMatching(problem));
  });

  const k8s = (file: string, from: string | RegExp, to: string) => ({ ...kubernetes, [file]: doctored(kubernetes[file]!, from, to) });
  it.each([
    ['probes readiness on the liveness path', () => k8s('deployment.yaml', 'path: /health/ready', 'path: /health/live'), /readinessProbe asks \/health\/live/],
    ['probes a path that is not an operation', () => k8s('deployment.yaml', 'path: /health/ready', 'path: /readyz'), /\/readyz is not an operation/],
    ['probes another port', () => k8s('deployment.yaml', 'containerPort: 8080', 'containerPort: 3000'), /no containerPort 8080/],
    ['moves the server to another port', () => k8s('configmap.yaml', 'PORT: "8080"', 'PORT: "9090"'), /no containerPort 9090/],
    ['writes a number where Kubernetes takes a string', () => k8s('configmap.yaml', 'PORT: "8080"', 'PORT: 8080'), /PORT is a number/],
    ['has a grace period shorter than the stop', () => k8s('deployment.yaml', 'terminationGracePeriodSeconds: 60', 'terminationGracePeriodSeconds: 30'), /terminationGracePeriodSeconds is 30/],
    ['grows the grace of requests past the grace period', () => k8s('configmap.yaml', 'SHUTDOWN_GRACE_MS: "20000"', 'SHUTDOWN_GRACE_MS: "60000"'), /terminationGracePeriodSeconds is 60/],
    ['closes the listener before readiness is seen failing', () => k8s('configmap.yaml', 'SHUTDOWN_DELAY_MS: "10000"', 'SHUTDOWN_DELAY_MS: "2000"'), /SHUTDOWN_DELAY_MS is 2000 ms/],
    ['has no preStop sleep', () => k8s('deployment.yaml', 'command: ["sleep", "5"]', 'command: ["true"]'), /no preStop sleep/],
    ['sets a variable the server does not read', () => k8s('configmap.yaml', 'LOG_LEVEL: info', 'LOG_LEVEL: info\n  GRACEFUL_TIMEOUT: "30"'), /GRACEFUL_TIMEOUT is not a variable/],
    ['listens on loopback', () => k8s('configmap.yaml', 'HOST: 0.0.0.0', 'HOST: 127.0.0.1'), /HOST is 127\.0\.0\.1/],
    ['keeps JWT_SECRET in the ConfigMap', () => ({ ...k8s('configmap.yaml', 'LOG_LEVEL: info', `LOG_LEVEL: info\n  JWT_SECRET: ${'k'.repeat(40)}`), 'secret.yaml': doctored(kubernetes['secret.yaml']!, /^ {2}JWT_SECRET: ""$/m, '') }), /JWT_SECRET does not come from a Secret/],
    ['runs as root', () => k8s('deployment.yaml', 'runAsNonRoot: true', 'runAsNonRoot: false'), /runAsNonRoot is not set/],
    ['targets a port the pods do not have', () => k8s('service.yaml', 'targetPort: http', 'targetPort: web'), /targetPort web/],
    ['migrates with another image', () => k8s('migrate-job.yaml', 'image: opsdeck:0.1.0', 'image: opsdeck:0.0.9'), /image opsdeck:0\.0\.9 is not the Deployment's/],
    ['migrates with another command', () => k8s('migrate-job.yaml', 'command: ["node", "server/db/migrate.js"]', 'command: ["npm", "run", "db:migrate"]'), /0 migration Jobs/],
  ])('deploy/kubernetes %s', (_, change, problem) => {
    expect(kubernetesProblems(change(), dockerfile)).toContainEqual(expect.stringMatching(problem));
  });
});
