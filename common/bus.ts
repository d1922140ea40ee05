// The cluster's notice board: small, best-effort messages between the nodes
// of a cluster (core NATS publish/subscribe, storage/nats-bus.ts), e.g. "the
// registry's gateway G1 changed" or "new alert transitions are committed".
// A notice only says where to look: the state itself is in the shared
// database, so a notice lost while a node was cut off costs nothing once the
// node catches up on onReconnect. In one process there is no bus.

export interface Bus {
  /** Sends a JSON-serialisable notice to every node (this one included). Never throws: a notice is best-effort. */
  publish(topic: string, notice: unknown): void;
  /** Hears every notice on `topic` from any node (this one included); returns `off`. */
  on(topic: string, fn: (notice: unknown) => void): () => void;
  /** Hears that the connection came back after an interruption (notices may have been missed); returns `off`. */
  onReconnect(fn: () => void): () => void;
}
