/**
 * The HTTP provider: prices from a shop's pricing service and stock from its inventory service
 * (protocol/SPEC.md §13), each behind its own retries and circuit breaker. A service that cannot
 * answer makes its part unverified (`prices: null` / `stock: null`) instead of failing the lookup;
 * the fallback provider (the built-in catalog) then still supplies names and categories. A service
 * without a URL is not asked: the fallback is the source of that part.
 */
import type { z } from 'zod';
import type { ProductFacts } from '../../protocol/index.ts';
import { HttpUrl, InventoryAnswer, PricingAnswer, describeIssue } from '../../protocol/schemas/index.ts';
import type { Logger } from '../log.ts';
import { type BreakerState, CircuitBreaker } from './circuit-breaker.ts';
import type { CatalogProvider, LookupOptions } from './types.ts';

export interface HttpProviderOptions {
  /** POST { skus, currency? } → { products: [{ sku, name, category, prices }] }. Unset: prices from the fallback. */
  pricingUrl?: string | null;
  /** POST { skus } → { stock: { [sku]: units } }. Unset: stock from the fallback. */
  inventoryUrl?: string | null;
  /** Source of the parts without a service, and of names/categories while pricing is down. */
  fallback: CatalogProvider | null;
  /** Per attempt, including reading the body. Revalidation waits on it, so keep it short. */
  timeoutMs?: number;
  /** Extra attempts after a network error, a timeout or a 5xx (never after a 4xx). */
  retries?: number;
  /** Backoff before retry n (0-based): a random delay up to backoffMs × 2^n ("full jitter"). */
  backoffMs?: number;
  /** Consecutive failed attempts that open a service's breaker. */
  failureThreshold?: number;
  /** How long an open breaker refuses requests before one probe may go out. */
  cooldownMs?: number;
  /** Sent with every request (e.g. authorization for the shop's services). */
  headers?: Record<string, string>;
  log?: Logger;
}

export const HTTP_PROVIDER_DEFAULTS = { timeoutMs: 800, retries: 2, backoffMs: 50, failureThreshold: 5, cooldownMs: 5000 };

/** Responses above this are treated as broken (a cart has at most a few hundred SKUs). */
const MAX_RESPONSE_CHARS = 8 * 1024 * 1024;

export type Service = 'pricing' | 'inventory';

interface PricedProduct {
  name: string;
  category: string;
  prices: Record<string, number>;
}

/** The service answered 2xx with something that is not the documented shape: a bug, not an outage. */
class InvalidResponse extends Error {}

function invalid(what: string): never {
  throw new InvalidResponse(what);
}

/** The answer by its schema (protocol/schemas/catalog.ts); a wrong shape is InvalidResponse. */
function parseAnswer<S extends z.ZodType>(schema: S, json: unknown): z.output<S> {
  const result = schema.safeParse(json);
  if (!result.success) invalid(describeIssue(result.error.issues[0]!, 'answer'));
  return result.data;
}

function parsePricing(json: unknown, asked: ReadonlySet<string>): Map<string, PricedProduct> {
  const out = new Map<string, PricedProduct>();
  for (const p of parseAnswer(PricingAnswer, json).products) {
    if (asked.has(p.sku)) out.set(p.sku, { name: p.name, category: p.category, prices: p.prices });
  }
  return out;
}

function parseInventory(json: unknown): Map<string, number> {
  const out = new Map<string, number>();
  // Oversold inventories report negative stock; for a cart that is simply none left.
  for (const [sku, units] of Object.entries(parseAnswer(InventoryAnswer, json).stock)) out.set(sku, Math.max(0, units));
  return out;
}

function checkUrl(url: string | null, name: string): string | null {
  if (url === null) return null;
  if (!HttpUrl.safeParse(url).success) throw new Error(`${name} must be an http(s) URL, got ${JSON.stringify(url)}`);
  return url;
}

function checkInt(value: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  return value;
}

export class HttpCatalogProvider implements CatalogProvider {
  private readonly urls: Record<Service, string | null>;
  private readonly breakers: Record<Service, CircuitBreaker>;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly fallback: CatalogProvider | null;
  private readonly headers: Record<string, string>;
  private readonly log: Logger | undefined;

  constructor(options: HttpProviderOptions) {
    const o = { ...HTTP_PROVIDER_DEFAULTS, ...options };
    this.urls = { pricing: checkUrl(o.pricingUrl ?? null, 'pricingUrl'), inventory: checkUrl(o.inventoryUrl ?? null, 'inventoryUrl') };
    this.fallback = o.fallback;
    if (this.fallback === null && (this.urls.pricing === null || this.urls.inventory === null)) {
      throw new Error('a fallback provider is required unless both pricingUrl and inventoryUrl are set');
    }
    this.timeoutMs = checkInt(o.timeoutMs, 'timeoutMs', 1, 60_000);
    this.retries = checkInt(o.retries, 'retries', 0, 10);
    this.backoffMs = checkInt(o.backoffMs, 'backoffMs', 0, 60_000);
    const breaker = {
      failureThreshold: checkInt(o.failureThreshold, 'failureThreshold', 1, 1000),
      cooldownMs: checkInt(o.cooldownMs, 'cooldownMs', 1, 3_600_000),
    };
    this.headers = { 'content-type': 'application/json', accept: 'application/json', ...o.headers };
    this.log = o.log;
    const onChange = (service: Service) => (state: BreakerState) => this.log?.warn(`${service} service circuit ${state}`, { url: this.urls[service] });
    this.breakers = { pricing: new CircuitBreaker(breaker, onChange('pricing')), inventory: new CircuitBreaker(breaker, onChange('inventory')) };
  }

  /** The breaker of a service ('closed' for a service without a URL: it is never asked). */
  state(service: Service = 'pricing'): BreakerState {
    return this.breakers[service].state();
  }

  async lookup(skus: readonly string[], options: LookupOptions = {}): Promise<Map<string, ProductFacts | null>> {
    const unique = [...new Set(skus)];
    const result = new Map<string, ProductFacts | null>();
    if (unique.length === 0) return result;
    const asked = new Set(unique);
    const pricingBody = options.currency === undefined ? { skus: unique } : { skus: unique, currency: options.currency };
    const [priced, stocked] = await Promise.all([
      this.urls.pricing === null ? undefined : this.call('pricing', pricingBody, (json) => parsePricing(json, asked)),
      this.urls.inventory === null ? undefined : this.call('inventory', { skus: unique }, parseInventory),
    ]);

    // The fallback is the source of a part without a service (its failure fails the lookup), and
    // only a best-effort source of names while pricing is down.
    let local: Map<string, ProductFacts | null> | null = null;
    if (this.fallback !== null && (priced === undefined || stocked === undefined)) local = await this.fallback.lookup(unique);
    else if (this.fallback !== null && priced === null) {
      local = await this.fallback.lookup(unique).catch((err: unknown) => {
        this.log?.warn('fallback catalog lookup failed while pricing is down', { err });
        return null;
      });
    }

    for (const sku of unique) {
      const known = local?.get(sku) ?? null;
      let facts: ProductFacts | null;
      if (priced === undefined) facts = known === null ? null : { ...known };
      else if (priced === null) facts = { name: known?.name ?? sku, category: known?.category ?? '', prices: null, stock: null };
      else {
        const p = priced.get(sku);
        facts = p === undefined ? null : { ...p, stock: null };
      }
      if (facts !== null) {
        // A SKU the inventory service does not list has none to sell.
        if (stocked === undefined) facts.stock = known?.stock ?? null;
        else facts.stock = stocked === null ? null : (stocked.get(sku) ?? 0);
      }
      result.set(sku, facts);
    }
    return result;
  }

  /** One request with retries and the breaker; null when the service could not answer. */
  private async call<T>(service: Service, body: unknown, parse: (json: unknown) => T): Promise<T | null> {
    const url = this.urls[service] as string;
    const breaker = this.breakers[service];
    for (let attempt = 0; attempt <= this.retries; attempt++) {
      if (attempt > 0) {
        if (breaker.state() === 'open') return null;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * this.backoffMs * 2 ** (attempt - 1)));
      }
      if (!breaker.tryAcquire()) return null;
      try {
        const res = await fetch(url, { method: 'POST', headers: this.headers, body: JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
        const text = await res.text();
        if (res.status >= 500) {
          breaker.failure();
          this.log?.debug(`${service} service answered ${res.status}`, { url, attempt });
          continue;
        }
        // The service is up (a 4xx or a malformed answer is a bug or a misconfiguration, not an
        // outage): it does not count against the breaker, and retrying will not help.
        breaker.success();
        if (!res.ok) {
          this.log?.warn(`${service} service answered ${res.status}`, { url, body: text.slice(0, 200) });
          return null;
        }
        if (text.length > MAX_RESPONSE_CHARS) invalid('response too large');
        return parse(JSON.parse(text));
      } catch (err) {
        if (err instanceof InvalidResponse || err instanceof SyntaxError) {
          this.log?.warn(`${service} service sent an invalid response`, { url, err });
          return null;
        }
        // Network error or timeout.
        breaker.failure();
        this.log?.debug(`${service} service request failed`, { url, attempt, err });
      }
    }
    return null;
  }
}
