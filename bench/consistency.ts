/**
 * Every credential must agree with its audit trail: one `create` event, and as many
 * `update`/`rotate_secret` events as its version has been bumped (version starts at 1 and each
 * write bumps it in the same transaction as its event). A write without its event, or an event
 * without its write, shows up here.
 */
export const CONSISTENCY_SQL = `
  SELECT c.id, c.version, c.name,
    (SELECT count(*) FROM audit_event a WHERE a.credential_id = c.id AND a.action IN ('update', 'rotate_secret'))::int AS writes,
    (SELECT count(*) FROM audit_event a WHERE a.credential_id = c.id AND a.action = 'create')::int AS creates
  FROM credential c ORDER BY c.id`

export interface CredentialTrail {
  id: number
  version: number
  name: string
  writes: number
  creates: number
}

/** The credentials whose row and audit trail disagree, each with why. */
export function inconsistencies(rows: CredentialTrail[]): string[] {
  return rows.flatMap((row) => {
    const problems: string[] = []
    if (row.creates !== 1) problems.push(`credential ${row.id}: ${row.creates} create events`)
    if (row.version !== 1 + row.writes) {
      problems.push(`credential ${row.id}: version ${row.version} but ${row.writes} write events`)
    }
    return problems
  })
}
