/**
 * The orchestrator ↔ load generator contract: the generator is a forked child process answering
 * requests `{ id, method, params }` with `{ id, ok, result | error }` over Node's IPC channel.
 */
import { type ChildProcess, fork } from 'node:child_process';
import type { CpuDelta, Pids } from './proc.ts';
import type { SoakParams, SoakResult } from './soak/types.ts';
import type { LatencySummary } from './stats.ts';
import { ROOT, track } from './system.ts';

export interface InitParams {
  urls: [string, string];
  pids: Pids;
  adminToken: string;
  /** LiveCartConnection syncCheckMs; null: the library default. */
  syncCheckMs: number | null;
}

export type Placement = 'cross' | 'same';

export interface SetupCartsParams {
  count: number;
  /** cross: device A on node 1, device B on node 2; same: both devices of cart i on node i mod 2. */
  placement: Placement;
  /** A third line (added by device A) whose price the catalog scenario changes. */
  extraSku?: string;
  convergeMs: number;
}

export interface SetupCartsResult {
  carts: number;
  devices: number;
  ms: number;
  convergence: Convergence;
}

export interface Convergence {
  ok: boolean;
  /** From the call until every device of every cart showed the same, expected, priced state. */
  ms: number;
  carts: number;
  devices: number;
  /** Devices whose local edits were still not acknowledged at the deadline. */
  unsaved: number;
  /** Carts whose devices (or REST) disagreed, or did not show an acknowledged edit, at the deadline. */
  divergedCarts: number;
  /** Lines where some device (or REST) did not show the last acknowledged quantity at the deadline. */
  lostEdits: number;
  /** A few descriptions of what was wrong (empty when ok). */
  problems: string[];
  /** 'rejected' and 'error' events of the client library seen since the last check. */
  clientErrors: string[];
}

export interface StepParams {
  /** Offered load: edits per second in total, Poisson arrivals. */
  rate: number;
  warmupMs: number;
  measureMs: number;
  /** Also time each edit until the devices show facts priced for it (correction latency). */
  trackFacts: boolean;
  /** After the last edit: how long to wait for outstanding observations. */
  drainMs: number;
  convergeMs: number;
}

export interface StepResult {
  rate: number;
  /** Edits fired in the measured window, and per second of it. */
  sent: number;
  achievedRate: number;
  /** Edits of the window observed on the other device, per second of the window. */
  deliveredRate: number;
  /**
   * Local transaction on one device → observed on the other (ms). Edits still unobserved at the
   * drain deadline are included with the time waited (a lower bound).
   */
  latency: LatencySummary;
  /** Measured edits never observed on the other device (before the drain deadline). */
  unobserved: number;
  /** Quantities seen on a device that no pending edit explains (should be 0). */
  unexpected: number;
  /** A device had ≥ 98 unobserved edits in one direction: quantities could repeat (ambiguous match). */
  ambiguous: number;
  /** How late the generator fired edits relative to their Poisson schedule (ms). */
  schedLag: LatencySummary;
  cpu: CpuDelta;
  /** The generator used more than 90 % of one core during the window. */
  generatorBound: boolean;
  facts: FactsResult | null;
  convergence: Convergence;
}

export interface FactsResult {
  /**
   * Edit (local transaction) → the device shows facts priced for that quantity or a later one (ms),
   * per edit and device; pairs still unpriced at the drain deadline count with the time waited.
   */
  latency: LatencySummary;
  /** Of those, how many were answered by a later edit's facts (coalesced revalidation). */
  superseded: number;
  unobserved: number;
}

export interface IdleParams {
  /** Total devices wanted (2 per cart, 3 lines per cart); adds carts to those already open. */
  totalDevices: number;
  placement: Placement;
  concurrency: number;
  convergeMs: number;
}

export interface IdleResult {
  devices: number;
  carts: number;
  setupMs: number;
  convergence: Convergence;
  generatorRss: number;
}

export interface HistoryParams {
  edits: number;
  lines: number;
  burst: number;
}

export interface HistoryResult {
  cartId: string;
  token: string;
  version: number;
  lines: number;
  edits: number;
  ms: number;
}

export interface JoinParams {
  cartId: string;
  token: string;
  node: 0 | 1;
  count: number;
  expectLines: number;
  pauseMs: number;
  /** Joins made first and not counted (the node's code paths warm, e.g. right after a restart). */
  warmup: number;
}

export interface JoinResult {
  /** Constructor of a new LiveCartConnection → open() resolved and whenSynced() (ms), one per join. */
  times: number[];
  failures: string[];
}

export interface TouchParams {
  cartId: string;
  token: string;
  node: 0 | 1;
}

export interface PriceParams {
  sku: string;
  changes: number;
  timeoutMs: number;
  pauseMs: number;
}

export interface PriceResult {
  /** PATCH sent → the device's view shows the new list price (ms), per device and change. */
  latencies: number[];
  /** Per change: until the last device showed it (ms). */
  allDevices: number[];
  missing: number;
  devices: number;
}

export interface RestParams {
  carts: number;
  rate: number;
  warmupMs: number;
  measureMs: number;
  convergeMs: number;
}

export interface RestResult {
  rate: number;
  sent: number;
  achievedRate: number;
  latency: LatencySummary;
  errors: Record<string, number>;
  cpu: CpuDelta;
  generatorBound: boolean;
  /** Both nodes' REST views agree and every line's quantity is the number of acknowledged adds. */
  convergence: Convergence;
}

/** Every request the generator answers. */
export interface GeneratorApi {
  init(p: InitParams): { pid: number };
  setupCarts(p: SetupCartsParams): SetupCartsResult;
  step(p: StepParams): StepResult;
  idleDevices(p: IdleParams): IdleResult;
  buildHistory(p: HistoryParams): HistoryResult;
  touchHistory(p: TouchParams): { version: number };
  joins(p: JoinParams): JoinResult;
  priceChanges(p: PriceParams): PriceResult;
  rest(p: RestParams): RestResult;
  closeAll(p: Record<string, never>): { closed: number };
  /** The soak (bench/soak/load.ts): runs for its whole duration, then checks every live cart. */
  soak(p: SoakParams): SoakResult;
}

export type Method = keyof GeneratorApi;
export type ParamsOf<M extends Method> = Parameters<GeneratorApi[M]>[0];
export type ResultOf<M extends Method> = ReturnType<GeneratorApi[M]>;

export interface Request {
  id: number;
  method: Method;
  params: unknown;
}

export type Response = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** The orchestrator's handle on a running generator process. */
export class GeneratorClient {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    child.on('message', (msg: Response) => {
      const w = this.waiting.get(msg.id);
      if (!w) return;
      this.waiting.delete(msg.id);
      if (msg.ok) w.resolve(msg.result);
      else w.reject(new Error(`generator: ${msg.error}`));
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        for (const w of this.waiting.values()) w.reject(new Error(`generator exited (${signal ?? code})`));
        this.waiting.clear();
        resolve();
      }),
    );
  }

  static start(): GeneratorClient {
    const child = fork(`${ROOT}bench/generator.ts`, [], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx', '--max-old-space-size=4096'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    track(child);
    return new GeneratorClient(child);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  call<M extends Method>(method: M, params: ParamsOf<M>): Promise<ResultOf<M>> {
    const id = this.nextId++;
    return new Promise<ResultOf<M>>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, method, params } satisfies Request);
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    try {
      await Promise.race([this.call('closeAll', {}), new Promise((r) => setTimeout(r, 10_000))]);
    } catch {
      // Exited meanwhile.
    }
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(timer);
  }
}
