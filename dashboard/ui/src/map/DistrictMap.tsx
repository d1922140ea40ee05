// The district map: polygons from the bundled schematic SVG, colored by a value per district, clickable.
import svg from './districts.svg?raw';
import { districtName } from '../i18n.js';

interface Shape { district: string; points: string; cx: number; cy: number }
const viewBox = /viewBox="([^"]+)"/.exec(svg)?.[1] ?? '0 0 620 480';
const SHAPES: Shape[] = [...svg.matchAll(/<polygon data-district="([^"]+)" points="([^"]+)"\s*\/>/g)].map((m) => {
  const pts = m[2]!.trim().split(/\s+/).map((p) => p.split(',').map(Number) as [number, number]);
  const cx = pts.reduce((s, p) => s + p[0], 0) / pts.length;
  const cy = pts.reduce((s, p) => s + p[1], 0) / pts.length;
  return { district: m[1]!, points: m[2]!, cx, cy };
});
export const MAP_DISTRICTS = SHAPES.map((s) => s.district);

export interface MapValue { color: string; label: string }

export function DistrictMap(props: { values: Record<string, MapValue | undefined>; selected: string | null; onSelect: (d: string | null) => void }) {
  return (
    <svg class="district-map" viewBox={viewBox} role="img" data-testid="district-map">
      {SHAPES.map((s) => {
        const v = props.values[s.district];
        const sel = props.selected === s.district;
        const small = s.district.endsWith('区');
        return (
          <g key={s.district} class={`district${sel ? ' selected' : ''}`} data-testid={`map-district-${s.district}`} onClick={() => props.onSelect(sel ? null : s.district)}>
            <polygon points={s.points} fill={v?.color ?? '#2a3448'} />
            <text x={s.cx} y={s.cy - (small ? 2 : 6)} class={small ? 'map-name small' : 'map-name'}>{districtName(s.district)}</text>
            {v && <text x={s.cx} y={s.cy + (small ? 11 : 14)} class={small ? 'map-value small' : 'map-value'}>{v.label}</text>}
          </g>
        );
      })}
    </svg>
  );
}
