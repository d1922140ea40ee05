import { useState } from 'preact/hooks';
import { getLang, setLang, t } from '../i18n.js';
import { login } from '../session.js';
import { Brand } from '../ui.js';

export function LoginPage() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username, password); // the app then goes on to the page asked for (see App)
    } catch (err) {
      setError((err as Error).message || t('loginFailed'));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="login-wrap">
      <form class="login card" onSubmit={submit} data-testid="login-form">
        <Brand class="login-brand" />
        <h2>{t('loginTitle')}</h2>
        <label class="field">
          <span>{t('username')}</span>
          <input name="username" autoComplete="username" value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} required data-testid="login-username" />
        </label>
        <label class="field">
          <span>{t('password')}</span>
          <input name="password" type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} required data-testid="login-password" />
        </label>
        {error && <div class="error-box" role="alert" data-testid="login-error">{error}</div>}
        <button class="btn primary" type="submit" disabled={busy} data-testid="login-submit">{busy ? t('loggingIn') : t('loginButton')}</button>
        <button type="button" class="btn small ghost lang-corner" data-testid="lang-switch" onClick={() => setLang(getLang() === 'zh' ? 'en' : 'zh')}>{t('langSwitch')}</button>
      </form>
    </div>
  );
}
