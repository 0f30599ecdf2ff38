// One simulated host, driving the API exactly as a real Opsdeck agent would, through the SDK: enrol
// with the team's token, report its inventory, heartbeat and report metrics, claim tasks and run them
// (pretending), reporting progress, log lines and a result.
import { createOpsdeckClient, unwrap, type OpsdeckClient } from '@opsdeck/sdk';
import type { components } from '@opsdeck/sdk';

type Task = components['schemas']['Task'];

/**
 * What a host's `cpu_usage` looks like: `normal` 20–50 %, `busy` 92–99 % (a host under load, for alert rules and
 * their demos), `idle` 2–8 %. Settable while the host runs (`host.cpuProfile = 'normal'`: the load drops).
 */
export type CpuProfile = 'normal' | 'busy' | 'idle';
const CPU_RANGES: Record<CpuProfile, [number, number]> = { normal: [20, 50], busy: [92, 99], idle: [2, 8] };

export interface HostOptions {
  baseUrl: string;
  enrollmentToken: string;
  hostname: string;
  ipAddress: string;
  heartbeatMs: number;
  /** How long a pretend task takes. */
  taskMs: number;
  /** Its CPU load (default `normal`). */
  cpuProfile?: CpuProfile;
}

export interface HostCounters {
  heartbeats: number;
  metrics: number;
  claimed: number;
  succeeded: number;
  failed: number;
  errors: number;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

export class SimulatedHost {
  readonly counters: HostCounters = { heartbeats: 0, metrics: 0, claimed: 0, succeeded: 0, failed: 0, errors: 0 };
  agentId: string | undefined;
  /** The load it reports from its next metrics report on. */
  cpuProfile: CpuProfile;
  readonly #options: HostOptions;
  #client: OpsdeckClient | undefined;

  constructor(options: HostOptions) {
    this.#options = options;
    this.cpuProfile = options.cpuProfile ?? 'normal';
  }

  async enrol(): Promise<void> {
    const anonymous = createOpsdeckClient({ baseUrl: this.#options.baseUrl });
    const enrollment = await unwrap(
      anonymous.POST('/api/v1/agent/enroll', {
        body: {
          enrollment_token: this.#options.enrollmentToken,
          hostname: this.#options.hostname,
          ip_address: this.#options.ipAddress,
          platform: 'linux',
          os_version: 'Ubuntu 24.04.1 LTS',
          agent_version: '2.4.1',
        },
      }),
    );
    this.agentId = enrollment.agent.id;
    this.#client = createOpsdeckClient({ baseUrl: this.#options.baseUrl, apiKey: enrollment.agent_key });
    await unwrap(
      this.#client.PUT('/api/v1/agent/inventory', {
        body: {
          packages: [
            { name: 'openssl', version: '3.0.13-0ubuntu3.4', available_version: '3.0.13-0ubuntu3.5', architecture: 'amd64' },
            { name: 'nginx', version: '1.24.0-2ubuntu7', architecture: 'amd64' },
            { name: 'opsdeck-agent', version: '2.4.1', architecture: 'amd64' },
          ],
          services: [
            { name: 'nginx.service', state: 'running', enabled: true },
            { name: 'opsdeck-agent.service', state: 'running', enabled: true },
          ],
          hardware: { cpu_model: 'AMD EPYC 7R13 Processor', cpu_cores: 8, memory_bytes: 34_359_738_368, disk_bytes: 536_870_912_000 },
        },
      }),
    );
  }

  /** Heartbeats and works until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const client = this.#client;
    if (!client) throw new Error('enrol first');
    while (!signal.aborted) {
      try {
        await unwrap(client.POST('/api/v1/agent/heartbeat'));
        this.counters.heartbeats += 1;
        const at = new Date().toISOString();
        const [low, high] = CPU_RANGES[this.cpuProfile];
        const load = Math.round((low + (high - low) * Math.random()) * 10) / 10;
        await client.POST('/api/v1/agent/metrics', {
          body: { samples: [{ name: 'cpu_usage', at, value: load }, { name: 'memory_usage', at, value: 40 + load / 3 }] },
        });
        this.counters.metrics += 1;
        const tasks = await unwrap(client.POST('/api/v1/agent/tasks/claim', { body: { max_tasks: 2 } }));
        this.counters.claimed += tasks.length;
        await Promise.all(tasks.map((task) => this.#perform(client, task, signal)));
      } catch {
        this.counters.errors += 1;
      }
      await sleep(this.#options.heartbeatMs, signal);
    }
  }

  async #perform(client: OpsdeckClient, task: Task, signal: AbortSignal): Promise<void> {
    const path = { task_id: task.id };
    const steps = 4;
    for (let step = 1; step < steps && !signal.aborted; step += 1) {
      await sleep(this.#options.taskMs / steps, signal);
      const eta = new Date(Date.now() + ((steps - step) * this.#options.taskMs) / steps).toISOString();
      const report = await client.POST('/api/v1/agent/tasks/{task_id}/progress', {
        params: { path },
        body: { progress: Math.round((step * 100) / steps), eta, logs: [`${task.type}: step ${step} of ${steps}`] },
      });
      if (report.response.status === 409) return; // cancelled meanwhile: stop
    }
    const failed = task.type === 'command' && task.parameters.command === 'false';
    await unwrap(
      client.POST('/api/v1/agent/tasks/{task_id}/progress', {
        params: { path },
        body: failed
          ? { status: 'failed', error: 'exit code 1', result: { exit_code: 1, output: '' }, logs: ['exited with 1'] }
          : { status: 'succeeded', result: task.type === 'command' ? { exit_code: 0, output: `ran ${task.parameters.command}` } : {}, logs: ['done'] },
      }),
    ).then(
      () => (failed ? (this.counters.failed += 1) : (this.counters.succeeded += 1)),
      () => (this.counters.errors += 1),
    );
  }
}
