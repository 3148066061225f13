/** The client identifier and secret of bulk-seeded credential `n`, as the seed's SQL writes them. */
export const seededClientIdentifier = (n: number) => `BENCH.${n}`
export const seededSecret = (n: number) => `bench-secret-${n}`

/** One statement on one session: a `pg.Client`'s query, or PGlite's. */
export type Run = (text: string, params?: unknown[]) => Promise<unknown>

export interface BulkSeed {
  credentials: number
  /** Update events of the one busy credential (id `credentials + 1`), beyond its create event. */
  busyEvents: number
}

/**
 * Seeds `credentials` credentials in bulk, a few set-based statements in one transaction, not
 * one request each: ids 1…n, one in fifty single sign-on, three scopes and two redirect URIs
 * each, and an audit trail in proportion (a create event and `version - 1` update events,
 * three events on average, spread over the last two years). Then one busy credential with
 * `busyEvents` updates. Every credential agrees with its trail (bench/consistency.ts).
 * Returns the busy credential's id. Needs a superuser (it skips foreign-key triggers).
 */
export async function bulkSeed(run: Run, { credentials, busyEvents }: BulkSeed): Promise<number> {
  const busy = credentials + 1
  try {
    await run('BEGIN')
    // Rows made consistent by construction: skip the per-row foreign-key triggers (superuser only).
    await run(`SET LOCAL session_replication_role = replica`)
    await run(
      `INSERT INTO credential (id, client_identifier, secret_hash, name, grant_type, service_id, version, created_at, updated_at)
       SELECT n, 'BENCH.' || n, encode(sha256(convert_to('bench-secret-' || n, 'UTF8')), 'hex'), 'seed ' || n,
         CASE WHEN n % 50 = 0 THEN 'single_sign_on' ELSE 'authorization_code' END::"GrantType",
         CASE WHEN n % 50 = 0 THEN n % 1000 + 1 END,
         CASE WHEN n = $2 THEN $3 + 1 ELSE 1 + n % 5 END,
         now() - make_interval(days => 731), now()
       FROM generate_series(1, $1 + 1) AS n`,
      [credentials, busy, busyEvents],
    )
    await run(`SELECT setval(pg_get_serial_sequence('credential', 'id'), $1)`, [busy])
    await run(
      `INSERT INTO credential_scope (credential_id, scope_name, position)
       SELECT n, s.name, s.position FROM generate_series(1, $1 + 1) AS n,
         (VALUES ('openid', 0), ('email', 1), ('profile', 2)) AS s(name, position)`,
      [credentials],
    )
    await run(
      `INSERT INTO credential_redirect_uri (credential_id, uri, position)
       SELECT n, CASE WHEN p = 0 THEN 'https://app' || n || '.example.com/callback'
                      ELSE 'http://127.0.0.1:' || (8000 + n % 1000) || '/callback' END, p
       FROM generate_series(1, $1 + 1) AS n, generate_series(0, 1) AS p`,
      [credentials],
    )
    // Event k of credential n, and the busy credential's events spread over the same two
    // years, inserted in time order as real traffic writes them.
    await run(
      `INSERT INTO audit_event (credential_id, actor, action, changed_fields, source, created_at)
       SELECT credential_id, 'bench', action, changed_fields, 'legacy', created_at FROM (
         SELECT n AS credential_id, CASE WHEN k = 0 THEN 'create' ELSE 'update' END AS action,
           CASE WHEN k = 0 THEN '{name,grantType,scope,redirectUri}'::text[] ELSE '{name}'::text[] END AS changed_fields,
           now() - make_interval(days => 730 - (k * 146 + n % 146)) AS created_at
         FROM generate_series(0, 4) AS k CROSS JOIN LATERAL generate_series(1, $1) AS n
         WHERE k <= n % 5
         UNION ALL
         SELECT $2, CASE WHEN k = 0 THEN 'create' ELSE 'update' END, '{name}',
           now() - make_interval(secs => 63072000.0 * ($3 - k) / ($3 + 1))
         FROM generate_series(0, $3) AS k) AS events
       ORDER BY created_at`,
      [credentials, busy, busyEvents],
    )
    await run('COMMIT')
    // Fresh statistics and visibility map, as autovacuum would leave them after a while.
    await run('VACUUM ANALYZE credential, credential_scope, credential_redirect_uri, audit_event')
    // The seed's dirty pages written out now, not by the checkpointer during the measured runs.
    await run('CHECKPOINT')
    return busy
  } catch (error) {
    await run('ROLLBACK').catch(() => {})
    throw error
  }
}
