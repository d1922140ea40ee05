// What a dashboard on any cluster node needs of the others: each node accepts
// only its own partitions' equipment, and changes only the cases it is asked
// to, so the changes the live screens show travel as bus notices. An
// elevator's service-mode change and a gas site's first reading carry the
// record (rare, a few hundred bytes); a case change is sent to this node's
// clients as a case frame. Alert transitions need none of this: every node
// follows the shared transition log (alerts/transition-feed.ts).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import type { Bus } from '../common/bus.js';
import type { Reading, Status } from '../domain/messages.js';
import type { InterviewCases } from '../supervision/cases.js';
import type { LiveSink } from './live-feeds.js';
import type { EquipmentState } from './views/equipment-state.js';

// Sent by nodes of the same cluster from records they validated: checked for shape only.
const equipmentNotice = z.object({
  origin: z.string(),
  kind: z.enum(['elevator', 'gas_site']),
  code: z.string(),
  status: z.object({ ts: z.number(), serviceMode: z.string() }).passthrough().optional(),
  reading: z.object({ ts: z.number(), detector: z.string() }).passthrough().optional(),
});
const caseNotice = z.object({ origin: z.string(), case: z.object({ id: z.number() }).passthrough() });

export function shareLiveState(deps: { bus: Bus; state: EquipmentState; cases: InterviewCases; live: LiveSink; log: Logger }): () => void {
  const { bus, state, log } = deps;
  const origin = randomUUID();
  let applying = false;
  const offState = state.onChange((c) => {
    if (applying) return; // heard from another node: it told the others itself
    const reading = c.kind === 'gas_site' ? state.readings.get(c.code)?.values().next().value : undefined;
    bus.publish('equipment', { origin, ...c, status: c.kind === 'elevator' ? state.status.get(c.code) : undefined, reading });
  });
  const offEquipment = bus.on('equipment', (raw) => {
    const n = equipmentNotice.safeParse(raw);
    if (!n.success) return log.warn({ issues: n.error.issues.slice(0, 3) }, 'cluster: ignoring a malformed equipment notice');
    if (n.data.origin === origin) return;
    applying = true;
    try {
      state.applyRemote({ kind: n.data.kind, code: n.data.code, status: n.data.status as Status | undefined, reading: n.data.reading as Reading | undefined });
    } finally {
      applying = false;
    }
  });
  const offCases = deps.cases.onChange((c) => bus.publish('case', { origin, case: c }));
  const offCaseNotices = bus.on('case', (raw) => {
    const n = caseNotice.safeParse(raw);
    if (!n.success) return log.warn({ issues: n.error.issues.slice(0, 3) }, 'cluster: ignoring a malformed case notice');
    if (n.data.origin !== origin && deps.live.clients) deps.live.broadcast({ type: 'case', at: Date.now(), case: n.data.case }, null);
  });
  return () => {
    offState();
    offEquipment();
    offCases();
    offCaseNotices();
  };
}
