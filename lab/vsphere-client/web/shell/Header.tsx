import { useCallback, useRef, useState, type ReactNode } from 'react';
import type { PluginDto } from '../../api-types.ts';
import { testIds } from '../../test-ids.ts';
import type { ThemeName } from '../protocol.ts';
import { Icon } from './Icon.tsx';
import { useDismiss } from './useDismiss.ts';

export interface HeaderProps {
  userName: string;
  theme: ThemeName;
  /** Plugins whose global view appears in the Menu. */
  globalViews: { plugin: PluginDto; label: string }[];
  onHome(): void;
  onGlobalView(plugin: PluginDto): void;
  onToggleTheme(): void;
  onRefresh(): void;
  onLogout(): void;
}

// The vSphere Client's Menu; entries the lab does not emulate are shown disabled.
const STANDARD_MENU: (string | null)[] = [
  'Home',
  'Shortcuts',
  'Inventory',
  'Content Libraries',
  'Workload Management',
  'Global Inventory Lists',
  null,
  'Policies and Profiles',
  'Auto Deploy',
  'Hybrid Cloud Services',
  'Developer Center',
  null,
  'Administration',
  'Tasks',
  'Events',
  'Tags & Custom Attributes',
  'Lifecycle Manager',
];

function Dropdown({
  label,
  testId,
  className,
  toggleClass,
  icon,
  children,
}: {
  label: string;
  testId: string;
  className?: string;
  toggleClass: string;
  icon?: string;
  children: (close: () => void) => ReactNode;
}) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const close = useCallback(() => setOpen(false), []);
  useDismiss(ref, open, close);
  return (
    <div ref={ref} className={`dropdown${open ? ' open' : ''}${className ? ` ${className}` : ''}`}>
      <button
        type="button"
        className={`dropdown-toggle ${toggleClass}`}
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
        data-test={testId}
      >
        {icon ? <Icon shape={icon} /> : null}
        <span className="nav-text vsc-nav-text">{label}</span>
        <Icon shape="angle" direction="down" size="sm" />
      </button>
      {open ? (
        <div className="dropdown-menu" role="menu" aria-label={label}>
          {children(close)}
        </div>
      ) : null}
    </div>
  );
}

export function Header(props: HeaderProps) {
  const nextTheme = props.theme === 'dark' ? 'light' : 'dark';
  return (
    <header className="header vsc-header">
      <div className="branding">
        <a className="nav-link" href="#/" onClick={props.onHome} aria-label="vSphere Client home" data-test={testIds.header.home}>
          <Icon shape="vm-bug" />
          <span className="title">vSphere Client</span>
        </a>
      </div>
      <div className="header-nav vsc-header-menu">
        <Dropdown label="Menu" testId={testIds.header.menu} toggleClass="nav-link" icon="bars">
          {(close) => (
            <>
              {STANDARD_MENU.map((entry, i) =>
                entry === null ? (
                  <div key={`d${i}`} className="dropdown-divider" role="separator" />
                ) : (
                  <button
                    key={entry}
                    type="button"
                    role="menuitem"
                    className="dropdown-item"
                    disabled={entry !== 'Home' && entry !== 'Inventory'}
                    data-test={testIds.header.menuItem(entry)}
                    onClick={() => {
                      close();
                      props.onHome();
                    }}
                  >
                    {entry}
                  </button>
                ),
              )}
              {props.globalViews.length ? <div className="dropdown-divider" role="separator" /> : null}
              {props.globalViews.map(({ plugin, label }) => (
                <button
                  key={plugin.instanceId}
                  type="button"
                  role="menuitem"
                  className="dropdown-item"
                  data-test={testIds.header.menuItem(label)}
                  onClick={() => {
                    close();
                    props.onGlobalView(plugin);
                  }}
                >
                  <Icon shape="plugin" /> {label}
                </button>
              ))}
            </>
          )}
        </Dropdown>
      </div>
      <form className="search vsc-search" role="search" onSubmit={(e) => e.preventDefault()}>
        <label htmlFor="vsc-search-input">
          <input id="vsc-search-input" type="text" placeholder="Search in all environments" aria-label="Search in all environments" data-test={testIds.header.search} />
        </label>
      </form>
      <div className="header-actions">
        <button type="button" className="nav-link nav-icon" aria-label="Refresh" title="Refresh" onClick={props.onRefresh} data-test={testIds.header.refresh}>
          <Icon shape="refresh" />
        </button>
        <button
          type="button"
          className="nav-link nav-icon"
          aria-label={`Switch to ${nextTheme} theme`}
          title={`Switch to ${nextTheme} theme`}
          aria-pressed={props.theme === 'dark'}
          onClick={props.onToggleTheme}
          data-test={testIds.header.themeToggle}
        >
          <Icon shape={props.theme === 'dark' ? 'sun' : 'moon'} />
        </button>
        <Dropdown label={props.userName} testId={testIds.header.userMenu} className="bottom-right" toggleClass="vsc-user-toggle" icon="user">
          {(close) => (
            <>
              {['Change Password', 'Preferences'].map((label) => (
                <button key={label} type="button" role="menuitem" className="dropdown-item" disabled data-test={testIds.header.userMenuItem(label)}>
                  {label}
                </button>
              ))}
              <div className="dropdown-divider" role="separator" />
              <button
                type="button"
                role="menuitem"
                className="dropdown-item"
                data-test={testIds.header.logout}
                onClick={() => {
                  close();
                  props.onLogout();
                }}
              >
                Log Out
              </button>
            </>
          )}
        </Dropdown>
      </div>
    </header>
  );
}
