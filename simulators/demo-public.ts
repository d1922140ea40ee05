// The public elevator code (一梯一码) in the demo city: nothing to seed (every
// registered elevator has its page); says where to look — one elevator's
// public page and, for a signed-in administrator or inspector, the QR labels
// of its building.
import type { Logger } from 'pino';
import type { Service } from '../service/service.js';

export async function seedDemoPublic(service: Service, log: Logger): Promise<void> {
  const first = [...service.registry.elevators.items.values()].sort((a, b) => a.code.localeCompare(b.code))[0];
  if (!first) return;
  const base = service.httpUrl;
  const code = encodeURIComponent(first.code);
  log.info({
    publicPage: `${base}/e/${code}`,
    label: `${base}/api/v1/public-labels/elevators/${code}`,
    buildingLabels: `${base}/api/v1/public-labels/buildings?address=${encodeURIComponent(first.address)}`,
  }, `public elevator page (一梯一码, no sign-in): ${base}/e/${code}; its QR labels (signed in): ${base}/api/v1/public-labels/buildings?address=${encodeURIComponent(first.address)}`);
}
