// A chart component over ECharts, which is loaded on first use (echarts-setup.ts).
import { useEffect, useRef } from 'preact/hooks';
import type { ECharts, EChartsCoreOption } from 'echarts/core';

export const CHART_TEXT = '#c9d4e3';
export const CHART_AXIS = '#3a4a63';

/** `points`: how many data points the chart draws (data-points, for tests and people reading the DOM). */
export function Chart(props: { option: EChartsCoreOption; height?: number; testid?: string; points?: number }) {
  const el = useRef<HTMLDivElement>(null);
  const inst = useRef<ECharts | null>(null);
  const option = useRef(props.option);
  option.current = props.option;
  const apply = (c: ECharts) => c.setOption({ backgroundColor: 'transparent', useUTC: true, textStyle: { color: CHART_TEXT }, ...option.current }, true);
  /** The time axis as drawn (epoch ms), for tests and people reading the DOM: data-x-from / data-x-to. */
  const recordAxis = (c: ECharts) => {
    const axis = (c as unknown as { getModel(): { getComponent(t: string, i: number): { axis?: { scale: { type?: string; getExtent(): [number, number] } } } | undefined } }).getModel()?.getComponent('xAxis', 0)?.axis;
    if (!el.current || axis?.scale.type !== 'time') return;
    const [from, to] = axis.scale.getExtent();
    el.current.dataset.xFrom = String(from - CST_OFFSET_MS);
    el.current.dataset.xTo = String(to - CST_OFFSET_MS);
  };
  useEffect(() => {
    let disposed = false;
    let ro: ResizeObserver | null = null;
    void import('./echarts-setup.js').then(({ echarts }) => {
      if (disposed || !el.current) return;
      const c = echarts.init(el.current, undefined, { renderer: 'canvas' });
      inst.current = c;
      c.on('finished', () => recordAxis(c));
      apply(c);
      ro = new ResizeObserver(() => c.resize());
      ro.observe(el.current);
    });
    return () => {
      disposed = true;
      ro?.disconnect();
      inst.current?.dispose();
      inst.current = null;
    };
  }, []);
  useEffect(() => {
    if (inst.current) apply(inst.current);
  }, [props.option]);
  return <div ref={el} class="chart" style={{ height: `${props.height ?? 240}px` }} data-testid={props.testid} data-points={props.points} />;
}

/**
 * Charts show China Standard Time whatever the browser's zone: they run in
 * UTC mode and every time value goes through cst() (UTC+8 has no DST).
 */
const CST_OFFSET_MS = 8 * 3600_000;
export const cst = (t: number): number => t + CST_OFFSET_MS;

/** Axis styling for the dark theme. */
export const timeAxis = { type: 'time', axisLine: { lineStyle: { color: CHART_AXIS } }, axisLabel: { color: CHART_TEXT, hideOverlap: true }, splitLine: { show: false } } as const;
export const valueAxis = (name?: string) => ({ type: 'value', name, nameTextStyle: { color: CHART_TEXT }, axisLine: { lineStyle: { color: CHART_AXIS } }, axisLabel: { color: CHART_TEXT }, splitLine: { lineStyle: { color: '#223047' } } }) as const;
/** A time axis spanning exactly [from, to] (epoch ms): a chart shows the chosen window, not just where data is. */
export const windowAxis = (from: number, to: number) => ({ ...timeAxis, min: cst(from), max: cst(to) });
