// Bounded cardinality: at most `maxServers` servers and `maxRoutesPerServer` routes per server are
// named; later ones are folded into the name OTHER (their records still counted there). Shared by
// the summary and the Prometheus metrics so both fold the same way.

export const OTHER = 'other';

export interface CardinalityLimits {
  maxServers: number;
  maxRoutesPerServer: number;
}

export class CardinalityCaps {
  private readonly routes = new Map<string, Set<string>>();
  /** Records folded into OTHER because their server or route came after the cap. */
  foldedServerRecords = 0;
  foldedRouteRecords = 0;

  constructor(private readonly limits: CardinalityLimits) {}

  /** The server's name, or OTHER once maxServers others are named (first seen, first named). */
  server(name: string): string {
    if (this.routes.has(name)) return name;
    if (this.routes.size >= this.limits.maxServers) {
      this.foldedServerRecords++;
      if (!this.routes.has(OTHER)) this.routes.set(OTHER, new Set());
      return OTHER;
    }
    this.routes.set(name, new Set());
    return name;
  }

  /** The route's name on `server` (already capped), or OTHER past the server's route cap. */
  route(server: string, route: string): string {
    let set = this.routes.get(server);
    if (!set) this.routes.set(server, (set = new Set()));
    if (set.has(route)) return route;
    if (set.size >= this.limits.maxRoutesPerServer) {
      this.foldedRouteRecords++;
      return OTHER;
    }
    set.add(route);
    return route;
  }
}
