import { startPgCluster, type PgCluster } from './pg-cluster.js';

/**
 * A private PostgreSQL 15 cluster with `wal_level=logical` for the change data capture tests (the machine's cluster
 * runs `wal_level=replica`). synchronous_commit stays on: a commit's WAL is flushed before the commit returns, so a
 * run started after the writers stopped sees every change up to the flushed WAL position.
 */
export async function startLogicalCluster(): Promise<PgCluster> {
  return startPgCluster({
    hba: ['host all all 127.0.0.1/32 trust', 'host replication all 127.0.0.1/32 trust'],
    settings: { wal_level: 'logical', max_replication_slots: 10, max_wal_senders: 10, synchronous_commit: 'on', max_connections: 40 },
  });
}
