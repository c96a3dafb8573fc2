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

  /** Yjs structs the loaded carts' documents hold (their size grows with their history). */
  structs(): number {
    let n = 0;
    for (const cart of this.carts.values()) for (const structs of cart.doc.store.clients.values()) n += structs.length;
    return n;
  }

  peek(cartId: string): HostedCart | undefined {
    return this.carts.get(cartId);
  }

  /**
   * The log of `cartId` grew elsewhere (a worker, another node): bring this node's copy up to date,
   * which relays the change to its devices. A cart still loading catches up once loaded, since its
   * load may have read the log just before the change. A change another node appended (`byNode`)
   * already reached this node's Socket.IO devices through the adapter: it is read at once only for
   * stock /yjs clients; otherwise the copy catches up when it is next used (every use starts with a
   * catch-up or a compare-and-set on the version), which saves a log read per change per node.
   */
  changedElsewhere(cartId: string, version = Number.POSITIVE_INFINITY, byNode = false): Promise<void> {
    const hosted = this.carts.get(cartId);
    if (hosted && (hosted.version >= version || (byNode && hosted.followers === 0))) return Promise.resolve();
    if (hosted) return hosted.catchUp();
    const loading = this.loading.get(cartId);
    return loading ? loading.then((cart) => cart.catchUp()) : Promise.resolve();
  }

  /**
   * The hosted cart, loaded, caught up with the log and retained: it stays loaded until the caller
   * calls release(). Retained before any wait, so an idle unload can never hand out a dead cart.
   */
  async acquire(cartId: string): Promise<HostedCart> {
    const hosted = this.carts.get(cartId);
    if (hosted) {
      this.retain(hosted);
      try {
        await hosted.catchUp();
      } catch (err) {
        this.release(hosted);
        throw err;
      }
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
    const cart = await pending;
    // Only microtasks ran since the load finished, so no unload timer can have fired.
    this.retain(cart);
    return cart;
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
    // A change whose node died before it asked for a revalidation is caught here, on the next load.
    if (cart.version > cart.revalidated) this.opts.requestRevalidation(cartId);
    return cart;
  }

  private retain(cart: HostedCart): void {
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

  /** Resolves when every write queued so far on every hosted cart has finished. */
  async settled(): Promise<void> {
    await Promise.all([...this.carts.values()].map((cart) => cart.settled()));
  }

  /** Drop every hosted cart (shutdown). */
  clear(): void {
    for (const cart of this.carts.values()) cart.destroy();
    this.carts.clear();
  }
}
