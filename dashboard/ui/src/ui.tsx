// Small shared pieces: the brand, cards, badges, pager, modal, loading and error boxes.
import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';
import type { ApiError } from './api.js';
import { severityName, t, type Key } from './i18n.js';

/** The logo, title and subtitle: in the header (`brand`) and on the login form (`login-brand`). */
export function Brand(props: { class: 'brand' | 'login-brand' }) {
  return (
    <div class={props.class}>
      <span class="logo">◆</span>
      <div>
        <div class="title">{t('appTitle')}</div>
        <div class="subtitle">{t('appSubtitle')}</div>
      </div>
    </div>
  );
}

export function Card(props: { title?: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren; class?: string; testid?: string }) {
  return (
    <section class={`card ${props.class ?? ''}`} data-testid={props.testid}>
      {(props.title || props.actions) && (
        <header class="card-head">
          <h2>{props.title}</h2>
          <div class="card-actions">{props.actions}</div>
        </header>
      )}
      <div class="card-body">{props.children}</div>
    </section>
  );
}

export const Loading = () => <div class="muted pad">{t('loading')}</div>;
export const Empty = (props: { text?: string }) => <div class="muted pad">{props.text ?? t('empty')}</div>;

export function ErrorBox(props: { error: ApiError | Error | null | undefined; onRetry?: () => void }) {
  if (!props.error) return null;
  const status = (props.error as ApiError).status;
  return (
    <div class={`error-box${status === 403 ? ' forbidden' : ''}`} role="alert" data-testid="error-box">
      <strong>{status === 403 ? t('forbidden') : t('error')}</strong> {props.error.message}
      {props.onRetry && <button class="btn small" onClick={props.onRetry}>{t('retry')}</button>}
    </div>
  );
}

/** Shows data when there is some; a loading line the first time; the error above the data. */
export function Loaded<T>(props: { data: T | undefined; error: ApiError | null; reload?: () => void; children: (d: T) => ComponentChildren }) {
  return (
    <>
      <ErrorBox error={props.error} onRetry={props.reload} />
      {props.data !== undefined ? props.children(props.data) : !props.error && <Loading />}
    </>
  );
}

export const SevBadge = (props: { s: string | null | undefined }) =>
  props.s ? <span class={`badge sev-${props.s}`}>{severityName(props.s)}</span> : <span class="muted">—</span>;

export const StateBadge = (props: { s: string; testid?: string }) => <span class={`badge st-${props.s}`} data-testid={props.testid} data-state={props.s}>{t(`st_${props.s}` as Key)}</span>;

export function OnlineDot(props: { online: boolean | null | undefined }) {
  const cls = props.online === true ? 'on' : props.online === false ? 'off' : 'never';
  const label = props.online === true ? t('eqOnlineYes') : props.online === false ? t('eqOnlineNo') : '—';
  return <span class={`dot ${cls}`} title={label}>{label}</span>;
}

export function Pager(props: { page: number; pageSize: number; total: number; onPage: (p: number) => void; testid?: string }) {
  const pages = Math.max(1, Math.ceil(props.total / props.pageSize));
  return (
    <div class="pager" data-testid={props.testid ?? 'pager'}>
      <button class="btn small" disabled={props.page <= 1} onClick={() => props.onPage(props.page - 1)} data-testid="page-prev">{t('prev')}</button>
      <span>{t('pageOf', { page: props.page, pages, total: props.total })}</span>
      <button class="btn small" disabled={props.page >= pages} onClick={() => props.onPage(props.page + 1)} data-testid="page-next">{t('next')}</button>
    </div>
  );
}

export function Modal(props: { title: ComponentChildren; onClose: () => void; children: ComponentChildren; testid?: string }) {
  useEffect(() => {
    const f = (e: KeyboardEvent) => e.key === 'Escape' && props.onClose();
    addEventListener('keydown', f);
    return () => removeEventListener('keydown', f);
  }, []);
  return (
    <div class="modal-back" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class="modal" role="dialog" data-testid={props.testid ?? 'modal'}>
        <header class="card-head">
          <h2>{props.title}</h2>
          <button class="btn small ghost" onClick={props.onClose} aria-label={t('close')}>✕</button>
        </header>
        <div class="card-body">{props.children}</div>
      </div>
    </div>
  );
}

export function Select(props: { value: string; onChange: (v: string) => void; options: [string, string][]; allLabel?: string; testid?: string; label?: string }) {
  return (
    <label class="field inline">
      {props.label && <span>{props.label}</span>}
      <select value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)} data-testid={props.testid}>
        <option value="">{props.allLabel ?? t('all')}</option>
        {props.options.map(([v, l]) => <option key={v} value={v}>{l}</option>)}
      </select>
    </label>
  );
}
