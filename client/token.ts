/**
 * Reading who the device acts as from its token, before the server has said so in a join result.
 * The token is decoded, never verified: the server verifies it; the client only needs the subject
 * and role to stamp lines it adds while offline (the server rejects a line naming someone else).
 */
import { type Actor, ROLES, type Role } from '../protocol/index.ts';

function base64UrlDecode(part: string): string {
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return new TextDecoder().decode(bytes);
}

/** The actor (`sub`, `role` claims) of a JWT, or null when the token cannot be read. */
export function actorFromToken(token: string): Actor | null {
  const payload = token.split('.')[1];
  if (payload === undefined) return null;
  try {
    const claims: unknown = JSON.parse(base64UrlDecode(payload));
    if (typeof claims !== 'object' || claims === null) return null;
    const { sub, role } = claims as Record<string, unknown>;
    if (typeof sub !== 'string' || sub.length === 0) return null;
    if (typeof role !== 'string' || !ROLES.includes(role as Role)) return null;
    return { id: sub, role: role as Role };
  } catch {
    return null;
  }
}

/** When a JWT expires (its `exp` claim, in ms since the epoch), or null when it cannot be read. */
export function expiryOfToken(token: string): number | null {
  const payload = token.split('.')[1];
  if (payload === undefined) return null;
  try {
    const { exp } = JSON.parse(base64UrlDecode(payload)) as { exp?: unknown };
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : null;
  } catch {
    return null;
  }
}

/** The cart ids a JWT grants (its `carts` claim; `*` for every cart), or [] when it cannot be read. */
export function cartsFromToken(token: string): string[] {
  const payload = token.split('.')[1];
  if (payload === undefined) return [];
  try {
    const { carts } = JSON.parse(base64UrlDecode(payload)) as { carts?: unknown };
    return Array.isArray(carts) ? carts.filter((c): c is string => typeof c === 'string') : [];
  } catch {
    return [];
  }
}
