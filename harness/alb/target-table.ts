/**
 * A worker's copy of the target group: each target's connections (pooled upstream ones and the
 * client sockets it serves), which targets take new traffic, and the round-robin turn.
 */
import type { Socket } from 'node:net';
import type { CookieLinesCache } from './cookie.ts';
import type { RoutableTarget } from './protocol.ts';
import { chooseTarget, departedTargets, routableTargets, type TargetChoice } from './routing.ts';
import type { Upstream } from './upstream-pool.ts';

export interface TargetRuntime extends CookieLinesCache {
  target: RoutableTarget;
  idle: Upstream[];
  /** Client-side sockets of requests in flight and WebSockets, to close at the end of draining. */
  open: Set<Socket>;
  count: number;
  /** Left the target table: its upstream connections are not pooled any more. */
  gone: boolean;
}

export class TargetTable {
  private readonly byId = new Map<string, TargetRuntime>();
  private routable: TargetRuntime[] = [];
  private turn = 0;

  /** Takes the control process's table: new targets join, departed ones are closed. */
  apply(targets: RoutableTarget[]): void {
    for (const id of departedTargets(this.byId.keys(), targets)) {
      this.close(id);
      this.byId.get(id)!.gone = true;
      this.byId.delete(id);
    }
    for (const t of targets) {
      const existing = this.byId.get(t.id);
      if (existing) existing.target = t;
      else this.byId.set(t.id, newRuntime(t));
    }
    this.routable = routableTargets([...this.byId.values()], (r) => r.target.state);
  }

  /**
   * The sticky target if it takes new traffic, else the routable one of the client's `turn` or,
   * when it sent none, the next one (and a new cookie either way).
   */
  route(stickyId: string | undefined, turn?: number): TargetChoice<TargetRuntime> | undefined {
    const sticky = stickyId === undefined ? undefined : this.byId.get(stickyId);
    const choice = chooseTarget(this.routable, sticky, turn ?? this.turn);
    if (choice?.setCookie && turn === undefined) this.turn++;
    return choice;
  }

  /** Closes every connection of a target: client sockets it serves and idle upstream ones. */
  close(id: string): void {
    const rt = this.byId.get(id);
    if (!rt) return;
    for (const socket of rt.open) socket.destroy();
    rt.open.clear();
    for (const u of rt.idle) u.socket.destroy();
    rt.idle.length = 0;
  }

  closeAll(): void {
    for (const id of this.byId.keys()) this.close(id);
  }

  runtimes(): IterableIterator<TargetRuntime> {
    return this.byId.values();
  }

  /** Open client connections (requests in flight and WebSockets) per target id. */
  connectionsPerTarget(): Record<string, number> {
    const perTarget: Record<string, number> = {};
    for (const [id, rt] of this.byId) perTarget[id] = rt.count;
    return perTarget;
  }
}

function newRuntime(target: RoutableTarget): TargetRuntime {
  return {
    id: target.id,
    target,
    idle: [],
    open: new Set(),
    count: 0,
    gone: false,
    cookieLines: '',
    cookieSecond: Number.NaN,
  };
}
