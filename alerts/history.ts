// Alert history in InfluxDB: every transition becomes a point of the
// `alert_event` measurement (README "Storage"), written from the transition
// log with its own cursor, so an InfluxDB outage delays the history and loses
// none of it.
import type { Db } from '../storage/db.js';
import type { Logger } from 'pino';
import type { InfluxStore } from '../storage/influx.js';
import { alertEventLine } from '../storage/points.js';
import { follow, type Follower } from './outbox.js';
import type { AlertStore } from './store.js';

export function startAlertHistory(deps: { db: Db; alerts: AlertStore; store: InfluxStore; log: Logger }): Follower {
  return follow({
    db: deps.db, alerts: deps.alerts, name: 'influx_history', from: 'start', log: deps.log, retryMs: 5000,
    consume: (events) => deps.store.write(events.map(alertEventLine)),
  });
}
