import { useState, type FormEvent } from 'react';
import type { SessionDto } from '../../api-types.ts';
import { testIds } from '../../test-ids.ts';
import { api, ApiError } from './api.ts';

/** The vCenter single sign-on page. */
export function Login({ onLoggedIn }: { onLoggedIn: (s: SessionDto) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onLoggedIn(await api.login(username, password));
    } catch (err) {
      setError(err instanceof ApiError ? err.message : 'The vSphere Client could not be reached.');
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login-wrapper vsc-login">
      <form className="login" onSubmit={(e) => void submit(e)} data-test={testIds.login.form} aria-label="Log in to vSphere">
        <section className="title">
          <h3 className="welcome">Welcome to</h3>
          VMware® vSphere
          <h5 className="hint">Lab vCenter: sign in with a vCenter Single Sign-On account</h5>
        </section>
        <div className="login-group">
          <div className="clr-form-control">
            <label className="clr-control-label" htmlFor="vsc-username">
              User name
            </label>
            <div className="clr-control-container">
              <div className="clr-input-wrapper">
                <input
                  id="vsc-username"
                  className="clr-input username"
                  type="text"
                  autoComplete="username"
                  placeholder="example@domain.local"
                  value={username}
                  onChange={(e) => setUsername(e.target.value)}
                  data-test={testIds.login.username}
                  required
                />
              </div>
            </div>
          </div>
          <div className="clr-form-control">
            <label className="clr-control-label" htmlFor="vsc-password">
              Password
            </label>
            <div className="clr-control-container">
              <div className="clr-input-wrapper">
                <input
                  id="vsc-password"
                  className="clr-input password"
                  type="password"
                  autoComplete="current-password"
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                  data-test={testIds.login.password}
                  required
                />
              </div>
            </div>
          </div>
          <div className={`error${error ? ' active' : ''}`} role="alert" data-test={testIds.login.error}>
            {error}
          </div>
          <button type="submit" className="btn btn-primary" disabled={busy} data-test={testIds.login.submit}>
            {busy ? 'LOGGING IN…' : 'LOG IN'}
          </button>
        </div>
      </form>
    </div>
  );
}
