import type { DropDuty, DropWorld } from './drop-loop.ts';

/** Opens sales once their time has come; retries every tick until the world says they are open. */
export class SalesOpener implements DropDuty {
  readonly name = 'sales opener';
  private opened = false;

  constructor(
    private readonly options: {
      world: Pick<DropWorld, 'openSales'>;
      /** Simulated epoch ms at which admission begins. */
      salesOpenSimMs: number;
      /** Called once, when the world says sales are open. */
      onOpened?: () => void;
    },
  ) {}

  get isOpen(): boolean {
    return this.opened;
  }

  async tick(nowSimMs: number): Promise<void> {
    if (this.opened || nowSimMs < this.options.salesOpenSimMs) return;
    // A fault may have the data tier down right now: try again on the next tick.
    this.opened = await this.options.world.openSales();
    if (this.opened) this.options.onOpened?.();
  }
}
