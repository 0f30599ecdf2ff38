// A fleet of simulated hosts, for `npm run agent:sim` and for the embedded demo.
import { SimulatedHost, type CpuProfile, type HostCounters } from './simulated-host.ts';

export interface FleetOptions {
  baseUrl: string;
  enrollmentToken: string;
  count: number;
  heartbeatMs?: number;
  taskMs?: number;
  /** Hostname prefix, so several fleets can share a team. */
  prefix?: string;
  /** The first `busy` hosts report a busy CPU (92–99 %); the rest `cpuProfile` (default `normal`). */
  busy?: number;
  cpuProfile?: CpuProfile;
}

export interface Fleet {
  readonly hosts: readonly SimulatedHost[];
  totals(): HostCounters & { hosts: number };
  stop(): Promise<void>;
}

export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const prefix = options.prefix ?? `sim-${Math.random().toString(36).slice(2, 6)}`;
  const hosts = Array.from(
    { length: options.count },
    (_, i) =>
      new SimulatedHost({
        baseUrl: options.baseUrl,
        enrollmentToken: options.enrollmentToken,
        hostname: `${prefix}-${String(i + 1).padStart(4, '0')}.sim.opsdeck.local`,
        ipAddress: `10.${200 + Math.floor(i / 65_536) % 50}.${Math.floor(i / 256) % 256}.${i % 256}`,
        heartbeatMs: options.heartbeatMs ?? 5_000,
        taskMs: options.taskMs ?? 2_000,
        cpuProfile: i < (options.busy ?? 0) ? 'busy' : (options.cpuProfile ?? 'normal'),
      }),
  );
  // Enrol a few at a time, so a big fleet does not arrive as one burst.
  for (let i = 0; i < hosts.length; i += 10) await Promise.all(hosts.slice(i, i + 10).map((h) => h.enrol()));
  const controller = new AbortController();
  const running = hosts.map((h) => h.run(controller.signal));
  return {
    hosts,
    totals: () =>
      hosts.reduce(
        (sum, h) => ({
          hosts: sum.hosts + 1,
          heartbeats: sum.heartbeats + h.counters.heartbeats,
          metrics: sum.metrics + h.counters.metrics,
          claimed: sum.claimed + h.counters.claimed,
          succeeded: sum.succeeded + h.counters.succeeded,
          failed: sum.failed + h.counters.failed,
          errors: sum.errors + h.counters.errors,
        }),
        { hosts: 0, heartbeats: 0, metrics: 0, claimed: 0, succeeded: 0, failed: 0, errors: 0 },
      ),
    async stop() {
      controller.abort();
      await Promise.all(running);
    },
  };
}
