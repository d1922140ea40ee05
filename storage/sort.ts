// List sorting: a `sort` query value is a whitelisted key, `-` first for
// descending. Only the whitelist's SQL reaches the query, never the input.

export type Sort<K extends string> = K | `-${K}`;

/** Every sort value of the keys, ascending and descending (for a zod enum). */
export const sortsOf = <K extends string>(keys: readonly K[]): Sort<K>[] => keys.flatMap((k) => [k, `-${k}` as const]);

/** The ORDER BY clause for `sort`, ties broken by `tie` in the same direction. Throws on a key outside `sql`. */
export function orderBy<K extends string>(sort: Sort<K>, sql: Record<K, string>, tie: string): string {
  const desc = sort.startsWith('-');
  const key = desc ? sort.slice(1) : sort;
  if (!Object.hasOwn(sql, key)) throw new Error(`unknown sort key: ${key}`);
  const dir = desc ? 'DESC' : 'ASC';
  const col = sql[key as K];
  return col === tie ? `${col} ${dir}` : `${col} ${dir}, ${tie} ${dir}`;
}
