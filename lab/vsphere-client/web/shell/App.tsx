import { useCallback, useEffect, useState } from 'react';
import type { SessionDto } from '../../api-types.ts';
import type { ThemeName } from '../protocol.ts';
import { api } from './api.ts';
import { Login } from './Login.tsx';
import { Shell } from './Shell.tsx';

const THEME_KEY = 'vsphere-client-stand-in.theme';

function initialTheme(): ThemeName {
  return window.localStorage.getItem(THEME_KEY) === 'dark' ? 'dark' : 'light';
}

export function App() {
  const [session, setSession] = useState<SessionDto | null | undefined>(undefined);
  const [theme, setTheme] = useState<ThemeName>(initialTheme);

  useEffect(() => {
    api.session().then(setSession, () => setSession(null));
  }, []);

  useEffect(() => {
    document.body.setAttribute('cds-theme', theme);
    window.localStorage.setItem(THEME_KEY, theme);
  }, [theme]);

  const toggleTheme = useCallback(() => setTheme((t) => (t === 'dark' ? 'light' : 'dark')), []);
  const loggedOut = useCallback(() => setSession(null), []);

  if (session === undefined) {
    return (
      <div className="vsc-boot" role="status">
        <span className="spinner">Loading…</span>
      </div>
    );
  }
  if (session === null) return <Login onLoggedIn={setSession} />;
  return <Shell session={session} theme={theme} onToggleTheme={toggleTheme} onLoggedOut={loggedOut} />;
}
