// List sorting: a `sort` query value is a whitelisted key, `-` first for
// descending. Only the whitelist's SQL reaches the query, never the input.

export type Sort<K extends string> = K | `-${K}`;

/** Every sort value of the keys, ascending and descending (for a zod enum). */
const sortsOf = <K extends string>(keys: readonly K[]): Sort<K>[] => keys.flatMap((k) => [k, `-${k}` as const]);

/** The ORDER BY clause for `sort`, ties broken by `tie` in the same direction. Throws on a key outside `sql`. */
function orderBy<K extends string>(sort: Sort<K>, sql: Record<K, string>, tie: string): string {
  const desc = sort.startsWith('-');
  const key = desc ? sort.slice(1) : sort;
  if (!Object.hasOwn(sql, key)) throw new Error(`unknown sort key: ${key}`);
  const dir = desc ? 'DESC' : 'ASC';
  const col = sql[key as K];
  return col === tie ? `${col} ${dir}` : `${col} ${dir}, ${tie} ${dir}`;
}

/**
 * A list's sorting, declared once from its key → SQL map: `values` for the
 * route's zod enum, `order(sort)` for the query's ORDER BY.
 */
export function sorting<K extends string>(sql: Record<K, string>, tie: string) {
  return {
    values: sortsOf(Object.keys(sql) as K[]),
    order: (sort: Sort<K>) => orderBy(sort, sql, tie),
  };
}
/** The sort values of a list declared with sorting(). */
export type SortOf<S> = S extends { order: (sort: infer T) => string } ? T : never;
