/**
 * Presence helpers over a y-protocols Awareness: the list of other devices, and forgetting them
 * when the session with the server ends (their states would otherwise linger until they time out).
 */
import { type Awareness, removeAwarenessStates } from 'y-protocols/awareness';
import type { PresenceState } from '../protocol/index.ts';
import { SERVER_ORIGIN } from './origin.ts';

function isPresenceState(state: unknown): state is PresenceState {
  if (typeof state !== 'object' || state === null) return false;
  const s = state as Record<string, unknown>;
  return typeof s.device === 'string' && typeof s.subject === 'string' && typeof s.role === 'string';
}

/** Presence of every other device on the cart (the server stamps subject and role). */
export function otherDevices(awareness: Awareness): PresenceState[] {
  const list: PresenceState[] = [];
  for (const [clientId, state] of awareness.getStates()) {
    if (clientId === awareness.clientID || !isPresenceState(state)) continue;
    list.push({ ...state, viewing: typeof state.viewing === 'string' ? state.viewing : null });
  }
  return list;
}

/** Forget the other devices' presence (the session ended; the server sends it again on join). */
export function forgetOthers(awareness: Awareness): void {
  const others = [...awareness.getStates().keys()].filter((id) => id !== awareness.clientID);
  if (others.length > 0) removeAwarenessStates(awareness, others, SERVER_ORIGIN);
}
