// A bare Aedes broker (no auth, no spool, no storage): the baseline the
// service's ingest rate is compared with. Prints its port, runs until killed.
import { Aedes } from 'aedes';
import { createServer } from 'node:net';

const aedes = await Aedes.createBroker({ concurrency: 1000 });
const server = createServer(aedes.handle).listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(JSON.stringify({ port: (server.address() as { port: number }).port }));
});
