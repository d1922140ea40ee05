// Figures for people: rates are decided exactly and rounded only where shown.

/**
 * A figure rounded for people, with as many more decimals (up to 6) as it
 * takes not to read as its threshold: 69.96 % is "69.96%", not "70.0%" below 70.0 %.
 */
export function shownBeside(value: number, threshold: number, decimals: number): string {
  let d = decimals;
  while (d < 6 && value !== threshold && value.toFixed(d) === threshold.toFixed(d)) d++;
  return value.toFixed(d);
}
