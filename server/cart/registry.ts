/**
 * The carts this node hosts. A cart is loaded on first use (concurrent users share one load), kept
 * while any device or connection uses it, and unloaded `idleUnloadMs` after the last one left.
 */
import { HostedCart, type HostedCartOptions } from './hosted-cart.ts';

export interface CartRegistryOptions extends HostedCartOptions {
  idleUnloadMs: number;
}

export class CartRegistry {
  private readonly carts = new Map<string, HostedCart>();
  private readonly loading = new Map<string, Promise<HostedCart>>();
  private readonly loadHooks = new Set<(cart: HostedCart) => void>();

  constructor(private readonly opts: CartRegistryOptions) {}

  /** Called once for every cart this node loads (transports attach their relays here). */
  onLoad(hook: (cart: HostedCart) => void): void {
    this.loadHooks.add(hook);
  }

  get size(): number {
    return this.carts.size;
  }

  peek(cartId: string): HostedCart | undefined {
    return this.carts.get(cartId);
  }

  /** The hosted cart, loaded and caught up with the log. */
  async get(cartId: string): Promise<HostedCart> {
    const hosted = this.carts.get(cartId);
    if (hosted) {
      await hosted.catchUp();
      return hosted;
    }
    let pending = this.loading.get(cartId);
    if (!pending) {
      pending = this.load(cartId);
      this.loading.set(cartId, pending);
      pending.then(
        () => this.loading.delete(cartId),
        () => this.loading.delete(cartId),
      );
    }
    return pending;
  }

  private async load(cartId: string): Promise<HostedCart> {
    const cart = new HostedCart(cartId, this.opts);
    try {
      await cart.catchUp();
    } catch (err) {
      cart.destroy();
      throw err;
    }
    this.carts.set(cartId, cart);
    for (const hook of this.loadHooks) hook(cart);
    // Loaded for a one-off use (REST): unload after the idle delay unless someone retains it.
    this.scheduleUnload(cart);
    return cart;
  }

  /** Mark the cart in use (a device joined). Pair with release(). */
  retain(cart: HostedCart): void {
    cart.users += 1;
    if (cart.unloadTimer) {
      clearTimeout(cart.unloadTimer);
      cart.unloadTimer = null;
    }
  }

  release(cart: HostedCart): void {
    cart.users = Math.max(0, cart.users - 1);
    if (cart.users === 0) this.scheduleUnload(cart);
  }

  private scheduleUnload(cart: HostedCart): void {
    if (cart.users > 0 || cart.destroyed) return;
    if (cart.unloadTimer) clearTimeout(cart.unloadTimer);
    cart.unloadTimer = setTimeout(() => {
      cart.unloadTimer = null;
      if (cart.users > 0 || this.carts.get(cart.cartId) !== cart) return;
      this.carts.delete(cart.cartId);
      cart.destroy();
    }, this.opts.idleUnloadMs);
    cart.unloadTimer.unref();
  }

  /** Ids of the carts hosted now. */
  ids(): string[] {
    return [...this.carts.keys()];
  }

  /** Drop every hosted cart (shutdown). */
  clear(): void {
    for (const cart of this.carts.values()) cart.destroy();
    this.carts.clear();
  }
}
