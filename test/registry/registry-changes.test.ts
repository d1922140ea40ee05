// The registry's change notification is a subscription: every subscriber
// hears every change, `off` stops just that one, and a subscriber that throws
// is logged without stopping the others or the write.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sqliteDb } from '../../storage/db.js';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../../registry/registry.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function openRegistry() {
  const dir = mkdtempSync(join(tmpdir(), 'se-registry-'));
  dirs.push(dir);
  const logged: { obj: object; msg: string }[] = [];
  const registry = new Registry(sqliteDb(join(dir, 'state.db')), { error: (obj, msg) => logged.push({ obj, msg }) });
  registry.units.put({ id: 'U1', name: '维保一' });
  return { registry, logged };
}

const elevator = (code: string) => ({ code, address: '中山路 1 号', district: '鼓楼区', userUnit: '物业', maintenanceUnit: 'U1' });

describe('registry change subscription', () => {
  it('calls every subscriber, and off stops only its own', () => {
    const { registry } = openRegistry();
    const a: [string, string | undefined][] = [];
    const b: [string, string | undefined][] = [];
    const offA = registry.elevators.onChange((code, e) => a.push([code, e?.maintenanceUnit]));
    registry.elevators.onChange((code, e) => b.push([code, e?.maintenanceUnit]));

    registry.elevators.put(elevator('E1'));
    expect(a).toEqual([['E1', 'U1']]);
    expect(b).toEqual([['E1', 'U1']]);

    offA();
    registry.elevators.remove('E1');
    expect(a).toEqual([['E1', 'U1']]);
    expect(b).toEqual([['E1', 'U1'], ['E1', undefined]]);
  });

  it('logs a throwing subscriber and still runs the others and stores the change', () => {
    const { registry, logged } = openRegistry();
    const heard: string[] = [];
    registry.elevators.onChange(() => {
      throw new Error('listener broke');
    });
    registry.elevators.onChange((code) => heard.push(code));

    expect(() => registry.elevators.put(elevator('E2'))).not.toThrow();
    expect(heard).toEqual(['E2']);
    expect(registry.elevators.get('E2')?.maintenanceUnit).toBe('U1');
    expect(logged).toHaveLength(1);
    expect(logged[0]!.msg).toBe('registry elevators change listener failed');
    expect((logged[0]!.obj as { err: Error }).err.message).toBe('listener broke');
  });

  it('keeps gateway principals current alongside other subscribers', () => {
    const { registry } = openRegistry();
    registry.elevators.put(elevator('E3'));
    const heard: string[] = [];
    registry.gateways.onChange((id) => heard.push(id));
    registry.gateways.put({ id: 'G1', elevators: ['E3'], gasSites: [] });
    expect(heard).toEqual(['G1']);
    expect(registry.principal('G1')).toMatchObject({ kind: 'gateway', id: 'G1' });
  });
});
