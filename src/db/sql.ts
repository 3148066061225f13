/**
 * A SQL statement written with named parameters (`:name`), so that storage code passes an
 * object and never counts positions. The text sent to the database has `$1…` in the order
 * the names first appear; a name used twice is one parameter. `R` is the type of its rows.
 */
export interface Statement<R, P> {
  /** What metrics and traces call it, e.g. `credential.write`: few, fixed names. */
  readonly name: string
  readonly text: string
  readonly names: readonly (keyof P & string)[]
  /** Never set: carries the row type. */
  readonly row?: R
}

// `:name`, but not the second colon of a `::type` cast.
const NAMED_PARAMETER = /(?<!:):([A-Za-z_][A-Za-z0-9_]*)/g

export function sql<R = unknown, P extends object = Record<string, never>>(name: string, text: string): Statement<R, P> {
  const names: string[] = []
  const numbered = text.replace(NAMED_PARAMETER, (_match, name: string) => {
    if (!names.includes(name)) names.push(name)
    return `$${names.indexOf(name) + 1}`
  })
  return { name, text: numbered, names: names as (keyof P & string)[] }
}

/** The parameter values in the order the statement's text numbers them. */
export function valuesOf<P extends object>(statement: Statement<unknown, P>, params: P): unknown[] {
  return statement.names.map((name) => params[name] ?? null)
}
