// Prometheus metrics of the whole service (served at /metrics). Low-level and
// shared: every layer counts into it, and none imports upward to do so.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'se_' });
  const m = {
    registry,
    messagesIn: new Counter({ name: 'se_messages_in_total', help: 'Messages accepted, by transport and channel', labelNames: ['transport', 'channel'], registers: [registry] }),
    objectsStored: new Counter({ name: 'se_objects_stored_total', help: 'Objects written to InfluxDB, by channel', labelNames: ['channel'], registers: [registry] }),
    duplicates: new Counter({ name: 'se_duplicates_total', help: 'Objects dropped as duplicates of an earlier id, by channel', labelNames: ['channel'], registers: [registry] }),
    refusals: new Counter({ name: 'se_refusals_total', help: 'Connections, publishes and subscriptions refused, by reason', labelNames: ['reason'], registers: [registry] }),
    deadLetters: new Counter({ name: 'se_dead_letters_total', help: 'Objects rejected into dead letters, by reason', labelNames: ['reason'], registers: [registry] }),
    timedRuns: new Counter({ name: 'se_timed_rule_runs_total', help: 'Passes of the timed rules (silence, rescue arrival, unacknowledged alerts) run on this node; in a cluster only the leader runs them', registers: [registry] }),
    clusterLeader: new Gauge({ name: 'se_cluster_leader', help: 'Cluster mode: 1 while this node leads (runs the timed and scheduled rules)', registers: [registry] }),
    clusterPartitions: new Gauge({ name: 'se_cluster_partitions_owned', help: 'Cluster mode: partitions of the ingest stream this node processes', registers: [registry] }),
    clusterLag: new Gauge({ name: 'se_cluster_partition_lag_messages', help: 'Cluster mode: messages of a partition taken and not stored yet, plus 1 while a newer batch waits unread', labelNames: ['partition'], registers: [registry] }),
    clusterFenced: new Gauge({ name: 'se_cluster_fenced_total', help: 'Cluster mode: commits refused because this node no longer held the partition (each stopped its pipeline)', registers: [registry] }),
    spoolDepth: new Gauge({ name: 'se_spool_depth_messages', help: 'Messages accepted but not yet stored in InfluxDB', registers: [registry] }),
    spoolBytes: new Gauge({ name: 'se_spool_depth_bytes', help: 'Bytes accepted but not yet stored in InfluxDB', registers: [registry] }),
    queueBytes: new Gauge({ name: 'se_ingest_queue_bytes', help: 'Bytes of decoded points waiting in memory for InfluxDB (at most INGEST_QUEUE_BYTES; the rest waits in the spool)', registers: [registry] }),
    writeLatency: new Histogram({
      name: 'se_influx_write_seconds', help: 'InfluxDB write (flush) latency', registers: [registry],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    writeErrors: new Counter({ name: 'se_influx_write_errors_total', help: 'Failed InfluxDB writes, by kind', labelNames: ['kind'], registers: [registry] }),
    storeLag: new Histogram({
      name: 'se_ingest_store_lag_seconds', help: 'Event time to stored in InfluxDB, for live data (event time within the last 10 min)', registers: [registry],
      buckets: [0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30, 60, 300],
    }),
    ackLatency: new Histogram({
      name: 'se_mqtt_ack_seconds', help: 'QoS 1/2 publish authorized → durable in the log and acknowledged (the service\'s part of PUBACK latency; the client also sees the network and its own waiting)', registers: [registry],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1, 5],
    }),
    clients: new Gauge({ name: 'se_mqtt_clients_connected', help: 'MQTT clients connected', registers: [registry] }),
    alertTransitions: new Counter({ name: 'se_alert_transitions_total', help: 'Alert transitions, by type and transition', labelNames: ['type', 'transition'], registers: [registry] }),
    webhookRefusals: new Counter({ name: 'se_webhook_refusals_total', help: 'Webhook sends refused because the target is not a public address (by kind: loopback, private, linkLocal, …); see NOTIFY_ALLOW_HOSTS', labelNames: ['reason'], registers: [registry] }),
    notifications: new Counter({ name: 'se_notifications_total', help: 'Notification outcomes, by format and status (sent, retry, failed, suppressed)', labelNames: ['format', 'status'], registers: [registry] }),
    liveClients: new Gauge({ name: 'se_live_clients', help: 'WebSocket live-feed clients connected', registers: [registry] }),
    postgresEvents: new Counter({ name: 'se_postgres_events_total', help: 'Project-local PostgreSQL supervision (POSTGRES_LOCAL): started, exited (unexpectedly), restarted, stale_stopped, start_failed', labelNames: ['event'], registers: [registry] }),
    influxdEvents: new Counter({ name: 'se_influxd_events_total', help: 'Project-local influxd supervision: started, exited (unexpectedly), restarted, stale_stopped (an orphan of a killed run), start_failed', labelNames: ['event'], registers: [registry] }),
    registrySync: new Counter({ name: 'se_registry_sync_total', help: 'Cluster registry sync: notices sent, received, items changed by them, bad_notice, reload_all (after a bus reconnect or failure), reload_failed', labelNames: ['event'], registers: [registry] }),
    influxUp: new Gauge({ name: 'se_influx_up', help: '1 when the last InfluxDB write or ping succeeded', registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
