// A fleet at scale, simulated from one process: up to 100,000 agents (and more) that enrol, heartbeat, claim
// tasks and report metrics over a shared pool of keep-alive connections, each request with its own agent's key.
// No host per agent: an agent is its id, its key and its place in the schedule; one timer walks the schedule.
// Used by `npm run agent:sim` and by the bench's `fleet` section.
//
// The load is open-loop: every agent's request is sent when it is due, whether or not earlier ones have been
// answered (a request waits in the connection pool's queue when every connection is busy, and that wait counts
// in its latency), so a server that falls behind shows it in its latency and achieved rate, not by slowing the
// simulated fleet down. Agents are spread evenly over each interval, as a real fleet's clocks are.
//
// Why not the SDK: the SDK (openapi-fetch over fetch) costs several times more per request than a bare keep-alive
// request, and at 4,000 requests a second on a 2-core machine that difference would be measured as the server's.
// The requests are the SDK's in what matters (method, path, the agent key, a JSON body); the smaller, SDK-based
// simulation of real hosts is server/demo/simulated-fleet.ts.
import { connect, type Socket } from 'node:net';
import { createHistogram, monitorEventLoopDelay, type RecordableHistogram } from 'node:perf_hooks';

export interface EnrolledAgent {
  id: string;
  key: string;
}

export type Activity = 'heartbeat' | 'claim' | 'metrics';
/** What the fleet's requests are tallied under: its activities, and the reports on the tasks it runs (`execute`). */
export type Tallied = Activity | 'report';

export interface Tally {
  sent: number;
  /** Answered 2xx. */
  acknowledged: number;
  /** Answered otherwise, or not at all (the status or error code counts in `failures`). */
  errors: number;
  failures: Record<string, number>;
  /** Latency of answered requests, in microseconds. */
  latency: RecordableHistogram;
  /** Metric samples acknowledged (metrics reports only). */
  samples: number;
  /** Tasks handed out by claims. */
  claimed: number;
  /** Tasks run to the end (`--execute`: reports only). */
  executed: number;
  /** Requests refused by a rate limit and sent again after its Retry-After (enrolment). */
  retried: number;
}

export const newTally = (): Tally => ({ sent: 0, acknowledged: 0, errors: 0, failures: {}, latency: createHistogram(), samples: 0, claimed: 0, executed: 0, retried: 0 });

export interface TallySummary {
  sent: number;
  acknowledged: number;
  errors: number;
  failures: Record<string, number>;
  latency_p50_ms: number;
  latency_p99_ms: number;
  latency_max_ms: number;
  samples?: number;
  claimed?: number;
  executed?: number;
  retried?: number;
}

export function summarise(t: Tally): TallySummary {
  const ms = (us: number) => Math.round(us / 10) / 100;
  const answered = t.latency.count > 0;
  return {
    sent: t.sent,
    acknowledged: t.acknowledged,
    errors: t.errors,
    failures: t.failures,
    latency_p50_ms: answered ? ms(t.latency.percentile(50)) : 0,
    latency_p99_ms: answered ? ms(t.latency.percentile(99)) : 0,
    latency_max_ms: answered ? ms(t.latency.max) : 0,
    ...(t.samples > 0 ? { samples: t.samples } : {}),
    ...(t.claimed > 0 ? { claimed: t.claimed } : {}),
    ...(t.executed > 0 ? { executed: t.executed } : {}),
    ...(t.retried > 0 ? { retried: t.retried } : {}),
  };
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const MAX_ENROL_RETRIES = 60;

interface Pending {
  request: string;
  resolve: (answer: Answer) => void;
  reject: (err: Error) => void;
}

/**
 * One keep-alive connection: requests wait their turn, one in flight at a time (as an agent's HTTP/1.1 client
 * sends them), each written with a single write and its answer read by the small parser below.
 *
 * Why by hand and not node:http: at a few thousand requests a second, node:http's client (a ClientRequest and an
 * IncomingMessage per request, the agent's queues) cost this process half a core of a 2-core machine, which the
 * server under test then did not have. This needs only what Opsdeck answers: a status line, headers and a body of
 * `Content-Length` bytes (the server sends no chunked answers to these requests).
 */
class Connection {
  readonly #queue: Pending[] = [];
  #inFlight: Pending | undefined;
  #socket: Socket | undefined;
  #buffer: Buffer = Buffer.alloc(0);
  #head: { status: number; headers: Record<string, string>; bodyStart: number; length: number } | undefined;
  readonly #host: string;
  readonly #port: number;

  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
  }

  get waiting(): number {
    return this.#queue.length + (this.#inFlight ? 1 : 0);
  }

  send(request: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ request, resolve, reject });
      if (!this.#inFlight) this.#next();
    });
  }

  close(): void {
    this.#socket?.destroy();
  }

  #next(): void {
    this.#inFlight = this.#queue.shift();
    if (!this.#inFlight) return;
    (this.#socket ??= this.#connect()).write(this.#inFlight.request);
  }

  #connect(): Socket {
    const socket = connect({ host: this.#host, port: this.#port, noDelay: true });
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#read();
    });
    let gone = false;
    const lost = (err?: NodeJS.ErrnoException) => {
      if (gone) return;
      gone = true;
      if (this.#socket === socket) this.#socket = undefined;
      this.#buffer = Buffer.alloc(0);
      this.#head = undefined;
      const failed = this.#inFlight;
      this.#inFlight = undefined;
      failed?.reject(Object.assign(err ?? new Error('connection closed'), { code: err?.code ?? 'ECONNRESET' }));
      this.#next();
    };
    socket.on('error', lost);
    socket.on('close', () => lost());
    return socket;
  }

  #read(): void {
    while (this.#inFlight) {
      if (!this.#head) {
        const end = this.#buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const lines = this.#buffer.toString('latin1', 0, end).split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
        }
        this.#head = { status: Number(lines[0]!.split(' ')[1]), headers, bodyStart: end + 4, length: Number(headers['content-length'] ?? 0) };
      }
      const { status, headers, bodyStart, length } = this.#head;
      if (this.#buffer.length < bodyStart + length) return;
      const body = this.#buffer.toString('utf8', bodyStart, bodyStart + length);
      this.#buffer = this.#buffer.subarray(bodyStart + length);
      this.#head = undefined;
      const done = this.#inFlight;
      this.#inFlight = undefined;
      if (headers.connection === 'close') {
        this.#socket?.destroy();
        this.#socket = undefined;
      }
      done.resolve({ status, headers, body });
      this.#next();
    }
  }
}

/** A client for one server: `connections` keep-alive connections, each request on the next one (round robin). */
export class FleetClient {
  readonly #connections: Connection[];
  readonly #hostHeader: string;
  #turn = 0;

  constructor(url: string, connections: number) {
    const { hostname, port, host } = new URL(url);
    this.#hostHeader = host;
    this.#connections = Array.from({ length: connections }, () => new Connection(hostname, Number(port || 80)));
  }

  /**
   * `lane`: the agent's own number, so an agent always uses the same connection, as a real agent keeps its one
   * keep-alive connection (behind WEB_CONCURRENCY, a connection stays with one worker process, and so does the agent).
   * Without one, the next connection in turn.
   */
  send(method: string, path: string, headers: Record<string, string>, body?: string, lane?: number): Promise<Answer> {
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.#hostHeader}\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    const request = body === undefined ? `${head}Content-Length: 0\r\n\r\n` : `${head}Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    if (lane !== undefined) return this.#connections[lane % this.#connections.length]!.send(request);
    // Round robin; a connection with requests waiting is passed over for the next one when that one is idle.
    let connection = this.#connections[this.#turn++ % this.#connections.length]!;
    if (connection.waiting > 0) connection = this.#connections[this.#turn++ % this.#connections.length]!;
    return connection.send(request);
  }

  close(): void {
    for (const connection of this.#connections) connection.close();
  }
}

/**
 * Sends one request, timing it into `tally`; answers the response if it was 2xx or one of `passOn` (which the
 * caller handles and which counts neither as acknowledged nor as an error), else undefined.
 */
async function timed(
  client: FleetClient,
  tally: Tally,
  request: { method: string; path: string; headers: Record<string, string>; body?: string; lane?: number },
  passOn: number[] = [],
): Promise<Answer | undefined> {
  const started = process.hrtime.bigint();
  tally.sent += 1;
  try {
    const answer = await client.send(request.method, request.path, request.headers, request.body, request.lane);
    tally.latency.record(Math.max(1, Number((process.hrtime.bigint() - started) / 1000n)));
    if (answer.status >= 200 && answer.status < 300) {
      tally.acknowledged += 1;
      return answer;
    }
    if (passOn.includes(answer.status)) return answer;
    tally.errors += 1;
    tally.failures[answer.status] = (tally.failures[answer.status] ?? 0) + 1;
    return undefined;
  } catch (err) {
    tally.errors += 1;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    tally.failures[code] = (tally.failures[code] ?? 0) + 1;
    return undefined;
  }
}

export interface EnrolOptions {
  client: FleetClient;
  /** Enrollment tokens; agents are spread over them (each token has its own rate limit). */
  tokens: readonly string[];
  count: number;
  /** Enrolments under way at once. */
  concurrency: number;
  /** Hostnames are `<prefix>-<n>.sim.example.com`. */
  prefix: string;
  onProgress?: (done: number, tally: Tally) => void;
}

/** Enrols `count` agents; answers those that enrolled, with the tally of the enrolments. */
export async function enrolFleet(o: EnrolOptions): Promise<{ agents: EnrolledAgent[]; tally: Tally; seconds: number }> {
  const tally = newTally();
  const agents: EnrolledAgent[] = [];
  const started = performance.now();
  let next = 0;
  let lastProgress = started;
  const worker = async () => {
    while (next < o.count) {
      const i = next++;
      const body = JSON.stringify({
        enrollment_token: o.tokens[i % o.tokens.length],
        hostname: `${o.prefix}-${i}.sim.example.com`,
        ip_address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        platform: i % 10 === 0 ? 'windows' : 'linux',
        ...(i % 10 === 0 ? {} : { os_version: LINUX_RELEASES[i % LINUX_RELEASES.length] }),
        agent_version: '2.4.1',
      });
      let answer: Answer | undefined;
      // A refusal by the token's rate limit is waited out and tried again, as a real agent does (Retry-After).
      for (let attempt = 0; ; attempt++) {
        answer = await timed(o.client, tally, { method: 'POST', path: '/api/v1/agent/enroll', headers: {}, body }, attempt < MAX_ENROL_RETRIES ? [429] : []);
        if (answer?.status !== 429) break;
        tally.retried += 1;
        await new Promise((resolve) => setTimeout(resolve, 1000 * Math.max(1, Number(answer!.headers['retry-after'] ?? 1))));
      }
      if (answer && answer.status < 300) {
        const { data } = JSON.parse(answer.body) as { data: { agent: { id: string }; agent_key: string } };
        agents.push({ id: data.agent.id, key: data.agent_key });
      }
      if (o.onProgress && performance.now() - lastProgress > 2000) {
        lastProgress = performance.now();
        o.onProgress(agents.length, tally);
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return { agents, tally, seconds: (performance.now() - started) / 1000 };
}

/** The operating systems of the Linux agents (their packages' ecosystems, for advisories to match). */
const LINUX_RELEASES = ['Ubuntu 24.04.1 LTS', 'Debian GNU/Linux 12 (bookworm)'];

/**
 * A small inventory per agent, its versions spread over the fleet (half the hosts one patch behind), so an imported
 * advisory (`importAdvisories`) has some hosts to list: the operating system's openssl and libc, an npm and a PyPI
 * package.
 */
function inventoryOf(i: number): string {
  const behind = Math.floor(i / 2) % 2 === 0;
  const ubuntu = LINUX_RELEASES[i % LINUX_RELEASES.length]!.startsWith('Ubuntu');
  return JSON.stringify({
    packages: [
      { name: 'openssl', version: ubuntu ? (behind ? '3.0.13-0ubuntu3.4' : '3.0.13-0ubuntu3.5') : behind ? '3.0.9-1' : '3.0.11-1~deb12u2', architecture: 'amd64' },
      { name: 'libc6', version: ubuntu ? '2.39-0ubuntu8.3' : '2.36-9+deb12u7', architecture: 'amd64' },
      { name: 'lodash', version: behind ? '4.17.20' : '4.17.21', ecosystem: 'npm' },
      { name: 'requests', version: behind ? '2.28.1' : '2.32.3', ecosystem: 'PyPI' },
    ],
    services: [{ name: 'nginx.service', state: 'running', enabled: true }],
    hardware: { cpu_model: 'AMD EPYC 7R13 Processor', cpu_cores: 4, memory_bytes: 17_179_869_184, disk_bytes: 214_748_364_800 },
  });
}

/** Each agent reports its inventory once (`reportInventory`), `concurrency` at a time; answers the tally. */
export async function reportInventories(client: FleetClient, agents: readonly EnrolledAgent[], concurrency: number): Promise<Tally> {
  const tally = newTally();
  let next = 0;
  const worker = async () => {
    while (next < agents.length) {
      const i = next++;
      await timed(client, tally, { method: 'PUT', path: '/api/v1/agent/inventory', headers: { 'X-API-Key': agents[i]!.key }, body: inventoryOf(i), lane: i });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return tally;
}

/** Four metrics, `points` samples each, ending now: what an agent that reports in batches sends. */
function metricReport(points: number, stepMs: number, now: number, busy = false): { body: string; samples: number } {
  const samples = [];
  for (const name of ['cpu_usage', 'memory_usage', 'disk_usage', 'load_1m']) {
    // A busy agent's CPU stays at 92–99 % (for alert rules); otherwise any value from 0 to 100.
    const value = () => (busy && name === 'cpu_usage' ? 920 + Math.round(Math.random() * 70) : Math.round(Math.random() * 1000)) / 10;
    for (let p = 0; p < points; p++) samples.push({ name, at: new Date(now - (points - p) * stepMs).toISOString(), value: value() });
  }
  return { body: JSON.stringify({ samples }), samples: samples.length };
}

export interface DriveOptions {
  client: FleetClient;
  agents: readonly EnrolledAgent[];
  /** Each activity the fleet does, every `intervalS` per agent; `points`: samples per metric in a metrics report. */
  activities: Partial<Record<Activity, { intervalS: number; points?: number }>>;
  durationS: number;
  onProgress?: (elapsedS: number, tallies: Record<Tallied, Tally>) => void;
  /** Stops early when it resolves (Ctrl-C). */
  stop?: Promise<void>;
  /** Run each claimed task: a progress report, then one that it succeeded (else claimed tasks are left running). */
  execute?: boolean;
  /** The first `busyAgents` agents report a busy CPU (`cpu_usage` 92–99 %). */
  busyAgents?: number;
}

const TICK_MS = 5;

/**
 * Drives the fleet for `durationS`: agent i does each activity at offset i/N of its interval, then every
 * interval. Answers one tally per activity once every request sent has been answered.
 */
export async function driveFleet(o: DriveOptions): Promise<Record<Tallied, Tally> & { simulatorLag: { p99_ms: number; max_ms: number } }> {
  const tallies: Record<Tallied, Tally> = { heartbeat: newTally(), claim: newTally(), metrics: newTally(), report: newTally() };
  // The simulator's own event-loop delay: a latency figure includes it (a request is timed from when the loop
  // sent it to when the loop read its answer), so a large one says the load generator, not the server, was late.
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const inFlight = new Set<Promise<unknown>>();
  const started = performance.now();
  const n = o.agents.length;
  const plans = (Object.entries(o.activities) as [Activity, { intervalS: number; points?: number }][]).map(([activity, plan]) => ({ activity, plan, done: 0 }));
  let stopped = false;
  void o.stop?.then(() => (stopped = true));
  let lastProgress = started;

  /** Runs a claimed task as an agent would: halfway, then done. */
  const execute = async (taskId: string, headers: Record<string, string>, lane: number) => {
    const path = `/api/v1/agent/tasks/${taskId}/progress`;
    const report = (body: unknown) => timed(o.client, tallies.report, { method: 'POST', path, headers, body: JSON.stringify(body), lane });
    if (!(await report({ progress: 50, logs: ['simulated: working'] }))) return;
    if (await report({ status: 'succeeded', logs: ['simulated: done'], result: { exit_code: 0 } })) tallies.report.executed += 1;
  };

  const fire = (activity: Activity, lane: number, plan: { intervalS: number; points?: number }) => {
    const tally = tallies[activity];
    const headers = { 'x-api-key': o.agents[lane]!.key };
    let sent: Promise<unknown>;
    if (activity === 'heartbeat') sent = timed(o.client, tally, { method: 'POST', path: '/api/v1/agent/heartbeat', headers, lane });
    else if (activity === 'claim') {
      sent = timed(o.client, tally, { method: 'POST', path: '/api/v1/agent/tasks/claim', headers, body: '{"max_tasks":1}', lane }).then(async (answer) => {
        if (!answer) return;
        const { data } = JSON.parse(answer.body) as { data: Array<{ id: string }> };
        tally.claimed += data.length;
        if (o.execute) for (const task of data) await execute(task.id, headers, lane);
      });
    } else {
      const points = plan.points ?? 1;
      const report = metricReport(points, Math.max(1000, Math.floor((plan.intervalS * 1000) / points)), Date.now(), lane < (o.busyAgents ?? 0));
      sent = timed(o.client, tally, { method: 'POST', path: '/api/v1/agent/metrics', headers, body: report.body, lane }).then((answer) => {
        if (answer) tally.samples += report.samples;
      });
    }
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
  };

  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsedMs = performance.now() - started;
      if (stopped || elapsedMs >= o.durationS * 1000) {
        clearInterval(timer);
        resolve();
        return;
      }
      for (const p of plans) {
        // How many requests of this activity are due by now, fleet-wide; send the ones not sent yet.
        const due = Math.floor((elapsedMs / (p.plan.intervalS * 1000)) * n);
        for (; p.done < due; p.done++) fire(p.activity, p.done % n, p.plan);
      }
      if (o.onProgress && elapsedMs - (lastProgress - started) > 2000) {
        lastProgress = performance.now();
        o.onProgress(elapsedMs / 1000, tallies);
      }
    }, TICK_MS);
  });
  while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  lag.disable();
  return { ...tallies, simulatorLag: { p99_ms: Math.round(lag.percentile(99) / 1e4) / 100, max_ms: Math.round(lag.max / 1e4) / 100 } };
}
