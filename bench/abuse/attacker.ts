/**
 * One attacker process of the abuse run (forked by bench/abuse.ts): it plays one group of attacks,
 * so that a flood answered with megabytes does not stall the other attackers' clocks. Requests
 * over IPC: prepare (before the window), run (until the deadline); the reply carries the tallies.
 */
import { adminTokenGuesses, anonymousCartFlood, badContentEncoding, hostileTextRest, idempotencyKeyFlood, sharedIdempotencyKey, unknownSkus } from './attacks-rest.ts';
import { type OwnCart, hostileNotesSocket, invisibleLines, overwriteStep2, slowYjsReaders, syncStep1Flood } from './attacks-socket.ts';
import { closeAgents } from './net.ts';
import type { Attack } from './types.ts';

export const GROUPS = ['flood', 'wire', 'rest'] as const;
export type Group = (typeof GROUPS)[number];

export interface AttackerSetup {
  group: Group;
  urls: [string, string];
  /** Findings to play (issue 12's numbers). */
  attacks: number[];
  floodConns: number;
}

export interface AttackResult {
  id: number;
  name: string;
  counts: Record<string, number>;
  notes: string[];
  error: string | null;
}

export type AttackerRequest = { t: 'prepare'; setup: AttackerSetup } | { t: 'run'; deadline: number };
export type AttackerReply =
  | { t: 'prepared'; notes: string[] }
  | { t: 'done'; results: AttackResult[]; tokens: string[]; carts: Record<string, string> }
  | { t: 'failed'; error: string };

const x2: { cart: OwnCart | null } = { cart: null };
const x3: { cart: OwnCart | null } = { cart: null };
const leaked = { tokens: [] as string[] };

function plan(s: AttackerSetup): Attack[] {
  const groups: Record<Group, Attack[]> = {
    flood: [syncStep1Flood({ conns: s.floodConns, cartBytes: 270 * 1024, framesPerConn: 100, waveMs: 4000 })],
    wire: [overwriteStep2({ frameBytes: 480 * 1024, maxFrames: 300, inFlight: 2 }, x2), slowYjsReaders({ conns: 100 }, x2), invisibleLines({ updates: 100, perUpdate: 90 }, x3), hostileNotesSocket()],
    rest: [
      sharedIdempotencyKey({ callers: 20 }, leaked),
      anonymousCartFlood({ count: 5000, concurrency: 16 }),
      idempotencyKeyFlood({ count: 10_000, concurrency: 16 }),
      adminTokenGuesses({ count: 3000, concurrency: 16 }),
      unknownSkus({ count: 150 }),
      badContentEncoding({ count: 200 }),
      hostileTextRest(),
    ],
  };
  // Attack 5 reads what attack 2 writes: one needs the other.
  const wanted = new Set(s.attacks);
  if (wanted.has(5)) wanted.add(2);
  return groups[s.group].filter((a) => wanted.has(a.id));
}

let attacks: Attack[] = [];
let urls: [string, string] = ['', ''];

async function handle(m: AttackerRequest): Promise<AttackerReply> {
  if (m.t === 'prepare') {
    urls = m.setup.urls;
    attacks = plan(m.setup);
    const notes: string[] = [];
    for (const a of attacks) {
      await a.prepare?.({ urls, deadline: Date.now() + 120_000 });
      notes.push(`${a.id}. ${a.name}${a.notes.length > 0 ? `: ${a.notes.join('; ')}` : ''}`);
    }
    return { t: 'prepared', notes };
  }
  const errors = new Map<Attack, string>();
  await Promise.all(attacks.map((a) => a.run({ urls, deadline: m.deadline }).catch((err: unknown) => void errors.set(a, err instanceof Error ? err.message : String(err)))));
  closeAgents();
  const carts: Record<string, string> = {};
  if (x2.cart) carts['attack 2 (overwrites)'] = x2.cart.cartId;
  if (x3.cart) carts['attack 3 (invisible lines)'] = x3.cart.cartId;
  return {
    t: 'done',
    results: attacks.map((a) => ({ id: a.id, name: a.name, counts: a.tally.counts, notes: a.notes, error: errors.get(a) ?? null })),
    tokens: leaked.tokens,
    carts,
  };
}

process.on('message', (m: AttackerRequest) => {
  handle(m).then(
    (r) => process.send?.(r),
    (err: unknown) => process.send?.({ t: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies AttackerReply),
  );
});
process.on('disconnect', () => process.exit(0));
