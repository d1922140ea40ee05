// How the service's process runs: `npm start` and the demo (package.json; a test keeps the flags equal to
// these), the cluster nodes and the benches. README "Ingest CPU and memory" has the measurements behind each.

/**
 * Node flags:
 *  - a 12 MB young generation: about the CPU of 32 MB, 40 MB less RSS at peak;
 *  - the old generation grows by half its live size between full collections (RSS under load);
 *  - no allocation-site pretenuring: V8 otherwise starts allocating some of a message's short-lived objects
 *    (decoded records, packets) straight into the old generation after a burst in which they survived, and
 *    sticks to it: twice the full collections and a quarter more CPU per message for the rest of the run.
 */
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=12', '--heap-growing-percent=50', '--no-allocation-site-pretenuring'];

/**
 * The environment the service adds to its own, as package.json's scripts do (`${MALLOC_ARENA_MAX:-2}`): two glibc
 * malloc arenas instead of one per libuv and V8 thread, 10-20 MB less RSS for no CPU. An operator's value wins.
 */
export const serviceProcessEnv = (env: NodeJS.ProcessEnv): { MALLOC_ARENA_MAX: string } => ({ MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX ?? '2' });
