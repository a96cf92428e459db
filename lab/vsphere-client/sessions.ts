// Browser sessions of the stand-in. The user's vim25 session lives here, server-side; the browser only holds
// an opaque httpOnly cookie, and plugin iframes get a separate plugin session token (like vsphere-ui).
import { randomBytes, randomUUID } from 'node:crypto';
import type { Vim25Client } from '../../connector/vsphere/vim25.ts';

export const SESSION_COOKIE = 'VSPHERE-UI-JSESSIONID';

export interface UiSession {
  readonly id: string;
  readonly pluginToken: string;
  readonly userName: string;
  readonly fullName?: string;
  readonly vim: Vim25Client;
  lastSeen: number;
}

export class SessionStore {
  private readonly byId = new Map<string, UiSession>();
  private readonly byToken = new Map<string, UiSession>();

  constructor(private readonly idleMs = 2 * 60 * 60 * 1000) {}

  create(vim: Vim25Client, userName: string, fullName?: string): UiSession {
    const session: UiSession = {
      id: randomBytes(32).toString('base64url'),
      pluginToken: randomUUID(),
      userName,
      ...(fullName ? { fullName } : {}),
      vim,
      lastSeen: Date.now(),
    };
    this.byId.set(session.id, session);
    this.byToken.set(session.pluginToken, session);
    return session;
  }

  /** The session of a cookie value, or undefined if unknown or idle too long (then it is dropped). */
  fromCookie(id: string | undefined): UiSession | undefined {
    return id ? this.touch(this.byId.get(id)) : undefined;
  }

  /** The session a plugin session token belongs to (`vmware-api-session-id`). */
  fromPluginToken(token: string | undefined): UiSession | undefined {
    return token ? this.touch(this.byToken.get(token)) : undefined;
  }

  /** Forget the session and log its vim25 session out (best effort). */
  async destroy(session: UiSession): Promise<void> {
    this.byId.delete(session.id);
    this.byToken.delete(session.pluginToken);
    await session.vim.logout().catch(() => {});
  }

  /** Logs every session out; gives up after `timeoutMs` (a vanished vCenter must not block shutdown). */
  async closeAll(timeoutMs = 5_000): Promise<void> {
    const all = [...this.byId.values()];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(all.map((s) => this.destroy(s))),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    for (const s of all) s.vim.close();
  }

  private touch(session: UiSession | undefined): UiSession | undefined {
    if (!session) return undefined;
    if (Date.now() - session.lastSeen > this.idleMs) {
      void this.destroy(session);
      return undefined;
    }
    session.lastSeen = Date.now();
    return session;
  }
}

/** Reads one cookie from a Cookie header (a single fixed cookie: not worth a cookie-parsing dependency). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export function sessionCookie(value: string, maxAgeSeconds?: number): string {
  // Path=/ui: the shell's own API is the only place the cookie is needed; it never reaches /plugins or /sdk.
  return `${SESSION_COOKIE}=${value}; Path=/ui; HttpOnly; Secure; SameSite=Strict${maxAgeSeconds !== undefined ? `; Max-Age=${maxAgeSeconds}` : ''}`;
}
