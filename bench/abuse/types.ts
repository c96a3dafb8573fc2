/**
 * The shape every attack of the abuse run has: bounded preparation before the window, then a run
 * that returns by itself at the deadline (or earlier, when its count is reached).
 */
import type { Tally } from './net.ts';

export interface AttackEnv {
  urls: [string, string];
  /** Date.now() at which every attack stops. */
  deadline: number;
}

export interface Attack {
  /** The finding of issue 12 it plays. */
  id: number;
  name: string;
  /** What the attack got: "201", "429 E_RATE_LIMITED", "ack ok", "close 4408"… */
  tally: Tally;
  /** Free-form facts (sizes, counts). */
  notes: string[];
  prepare?(env: AttackEnv): Promise<void>;
  run(env: AttackEnv): Promise<void>;
}
