// The signed-in user (GET/POST/DELETE /api/v1/session).
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';

export interface User { username: string; displayName: string; role: 'admin' | 'inspector' | 'viewer'; districts: string[] | null }

let user: User | null = null;
let checked = false;
const listeners = new Set<() => void>();
const emit = () => { for (const f of listeners) f(); };

export const currentUser = () => user;
export const canWrite = () => !!user && user.role !== 'viewer';
/** Who acts, for APIs that take `by` in the body. */
export const actor = () => user?.displayName || user?.username || 'ui';

export async function loadSession(): Promise<User | null> {
  try {
    // the probe answers 200 {user: null} to nobody: no 401 logged by the browser on the sign-in page
    const r = await api<{ user: User | null }>('/api/v1/session/probe', { quiet401: true });
    user = r.user;
  } catch (e) {
    user = null;
    // A service without accounts (or a browser given the admin token in a header) still works.
    if ((e as { status?: number }).status === 404) {
      try {
        await api('/api/v1/alerts?pageSize=1', { quiet401: true });
        user = { username: 'admin-token', displayName: 'admin-token', role: 'admin', districts: null };
      } catch {
        user = null;
      }
    }
  }
  checked = true;
  emit();
  return user;
}
export async function login(username: string, password: string): Promise<User> {
  const r = await api<{ user: User }>('/api/v1/session', { method: 'POST', body: { username, password }, quiet401: true });
  user = r.user;
  checked = true;
  emit();
  return user;
}
export async function logout(): Promise<void> {
  try {
    await api('/api/v1/session', { method: 'DELETE', quiet401: true });
  } finally {
    user = null;
    emit();
  }
}
export function clearUser(): void {
  user = null;
  emit();
}

export function useSession(): { user: User | null; checked: boolean } {
  const [, set] = useState(0);
  useEffect(() => {
    const f = () => set((n) => n + 1);
    listeners.add(f);
    return () => void listeners.delete(f);
  }, []);
  return { user, checked };
}
