// The Node flags the service runs with: `npm start` and the demo (package.json; a test keeps them equal to
// these), the cluster nodes and the benches. README "Ingest CPU and memory" has the measurements behind each.
//  - a 12 MB young generation: about the CPU of 32 MB, 40 MB less RSS at peak;
//  - the old generation grows by half its live size between full collections (RSS under load);
//  - no allocation-site pretenuring: V8 otherwise starts allocating some of a message's short-lived objects
//    (decoded records, packets) straight into the old generation after a burst in which they survived, and
//    sticks to it: twice the full collections and a quarter more CPU per message for the rest of the run.
export const SERVICE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=12', '--heap-growing-percent=50', '--no-allocation-site-pretenuring'];
