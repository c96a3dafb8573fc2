/**
 * The soak's request and result, shared by the orchestrator (bench/soak/scenario.ts) and the load
 * generator (bench/soak/load.ts), which plays the devices.
 */
import type { Convergence } from '../ipc.ts';
import type { LatencySummary } from '../stats.ts';

export interface SoakParams {
  durationMs: number;
  /** Steady edit load, edits per second in total (Poisson arrivals). */
  rate: number;
  /** Live carts kept open (2 devices each to start with; a third may join). */
  carts: number;
  /** One churn action (join, leave, offline, retire + create) every this many ms, in rotation. */
  churnMs: number;
  /**
   * A cart is retired (and replaced) once it has had this many edits, as a real cart's life is a
   * bounded number of changes: a loaded cart's document grows with its history, so carts edited
   * without end would make memory grow with the run's length, whatever the server keeps.
   */
  cartEdits: number;
  /** How long a device stays offline (ms, uniform in [min, max]). */
  offlineMs: [number, number];
  /** The nodes' cart TTL (s): a retired cart must be gone (404) this long after its last write, plus slack. */
  cartTtlSeconds: number;
  convergeMs: number;
}

export interface SoakCounts {
  /** setQuantity calls, of which made on a device while it was offline. */
  edits: number;
  offlineEdits: number;
  joins: number;
  leaves: number;
  offlines: number;
  cartsCreated: number;
  cartsRetired: number;
  /** Retired carts found gone (GET → 404) once their TTL had passed. */
  cartsExpired: number;
  /** Retired carts still readable when checked after their TTL (+ slack). */
  cartsNotExpired: number;
  /** Retired carts whose TTL had not passed yet at the end (not checked). */
  cartsExpiryPending: number;
}

export interface SoakResult {
  counts: SoakCounts;
  achievedRate: number;
  /** How late the generator fired edits against their schedule (ms). */
  schedLag: LatencySummary;
  /** setQuantity → that device's whenSaved() resolved (ms), sampled (one edit in 10). */
  ackLatency: LatencySummary;
  /** At the end: every device saved, every live cart converged on all its devices and REST. */
  convergence: Convergence;
  /** Carts that did not converge when they were retired (their devices were closed anyway). */
  retireProblems: string[];
  /** Failed churn actions (join, leave, create, reconnect). */
  actionErrors: string[];
  liveCarts: number;
  liveDevices: number;
  generatorRss: number;
}
