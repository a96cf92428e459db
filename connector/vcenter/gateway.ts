import { request } from 'node:https';
import { Vim25Client, VimFault } from '../vsphere/vim25.ts';
import type { UserSession } from '../vsphere/types.ts';
import { AppError } from '../errors.ts';
import type { ConnectorConfig } from '../config.ts';
import { SessionCache } from './session-cache.ts';
import { createTrustedAgent } from '../vsphere/tls.ts';

/** A vCenter session cloned for one plugin user: vCenter enforces that user's own rights on every call. */
export interface UserVcenter {
  client: Vim25Client;
  session: UserSession;
}

/** Round trips to vCenter for plugin sessions since start (for metrics and the API benchmark). */
export interface SessionStats {
  /** Sessions cloned (clone ticket + CloneSession). */
  clones: number;
  /** Liveness checks made (one clone-ticket request each). */
  livenessChecks: number;
  /** Tokens found ended by a liveness check (their clones were logged out). */
  ended: number;
  /** Cloned sessions held now. */
  cached: number;
}

/**
 * The connector's door to vCenter. Turns the plugin session token the vSphere Client hands the UI into a
 * vim25 session of the same user: clone ticket from vsphere-ui (`/api/ui/vcenter/session/clone-ticket`),
 * then `SessionManager.CloneSession`. A clone outlives the user's own session, so at most every
 * `sessions.livenessMs` per token the gateway asks vsphere-ui for a fresh clone ticket with the token: refused
 * means the user logged out (or the session expired), and the clone is logged out too (docs/sessions.md).
 */
export class VcenterGateway {
  private readonly sessions: SessionCache<UserVcenter>;
  private readonly counts = { clones: 0, livenessChecks: 0, ended: 0 };
  private readonly origin: string;
  private vcGuidPromise: Promise<string> | undefined;
  private readonly agent: ReturnType<typeof createTrustedAgent>;

  constructor(private readonly config: ConnectorConfig['vcenter'], cache: ConnectorConfig['sessions']) {
    this.origin = new URL(config.url).origin;
    this.agent = createTrustedAgent({ ca: config.caPem, thumbprint: config.thumbprint });
    this.sessions = new SessionCache<UserVcenter>({
      max: cache.max,
      idleMs: cache.idleMs,
      create: (token) => this.clone(token),
      dispose: (s) => s.client.logout(),
      liveness: {
        livenessMs: cache.livenessMs,
        check: (token) => this.checkAlive(token),
        ended: (err) => err instanceof AppError && err.statusCode === 401,
      },
    });
  }

  get sdkUrl(): string {
    return `${this.origin}/sdk`;
  }

  /** The vCenter instance UUID, read once from the service content. */
  vcGuid(): Promise<string> {
    this.vcGuidPromise ??= this.connect()
      .then((c) => c.about.instanceUuid)
      .catch((err: unknown) => {
        this.vcGuidPromise = undefined;
        throw err;
      });
    return this.vcGuidPromise;
  }

  async forToken(token: string): Promise<UserVcenter> {
    return this.sessions.get(token);
  }

  stats(): SessionStats {
    return { ...this.counts, cached: this.sessions.size };
  }

  /** Forget (and log out) the token's clone; with `stale`, only if that is still the clone cached. */
  invalidate(token: string, stale?: UserVcenter): void {
    this.sessions.invalidate(token, stale);
  }

  async close(): Promise<void> {
    await this.sessions.close();
    this.agent.destroy();
  }

  private connect(): Promise<Vim25Client> {
    return Vim25Client.connect({ sdkUrl: this.sdkUrl, ca: this.config.caPem, thumbprint: this.config.thumbprint }).catch(
      (err: unknown) => {
        throw new AppError(502, 'VCENTER_UNREACHABLE', `The connector cannot reach vCenter at ${this.origin}: ${errorText(err)}`);
      },
    );
  }

  /** Resolves while vsphere-ui still issues clone tickets for the token (the ticket itself is not used). */
  private async checkAlive(token: string): Promise<void> {
    const vcGuid = await this.vcGuid();
    this.counts.livenessChecks++;
    try {
      await this.acquireTicket(token, vcGuid);
    } catch (err) {
      if (err instanceof AppError && err.statusCode === 401) {
        this.counts.ended++;
        throw new AppError(401, 'NOT_AUTHENTICATED', 'Your vSphere Client session has ended. Log in to the vSphere Client again.');
      }
      throw err;
    }
  }

  private async clone(token: string): Promise<UserVcenter> {
    const vcGuid = await this.vcGuid();
    this.counts.clones++;
    const ticket = await this.acquireTicket(token, vcGuid);
    const client = await this.connect();
    try {
      const session = await client.cloneSession(ticket);
      return { client, session };
    } catch (err) {
      if (err instanceof VimFault) {
        throw new AppError(401, 'NOT_AUTHENTICATED', 'vCenter did not accept the session clone ticket. Log in to the vSphere Client again.');
      }
      throw err;
    }
  }

  private acquireTicket(token: string, vcGuid: string): Promise<string> {
    const body = JSON.stringify({ vc_guid: vcGuid });
    const url = new URL('/api/ui/vcenter/session/clone-ticket', this.origin);
    return new Promise<string>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            'content-length': Buffer.byteLength(body),
            'vmware-api-session-id': token,
          },
          timeout: 30_000,
          agent: this.agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode === 401 || res.statusCode === 403) {
              reject(new AppError(401, 'NOT_AUTHENTICATED', 'Your vSphere Client session is not valid any more. Log in to the vSphere Client again.'));
              return;
            }
            if (res.statusCode !== 200) {
              reject(new AppError(502, 'VCENTER_ERROR', `vCenter refused to issue a session clone ticket (HTTP ${res.statusCode ?? '?'}).`));
              return;
            }
            try {
              const parsed = JSON.parse(text) as { session_clone_ticket?: unknown };
              if (typeof parsed.session_clone_ticket !== 'string') throw new Error('no session_clone_ticket');
              resolve(parsed.session_clone_ticket);
            } catch {
              reject(new AppError(502, 'VCENTER_ERROR', 'vCenter answered the clone-ticket request with an unexpected body.'));
            }
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out after 30 s')));
      req.on('error', (err) =>
        reject(new AppError(502, 'VCENTER_UNREACHABLE', `The connector cannot reach vCenter at ${this.origin}: ${errorText(err)}`)),
      );
      req.end(body);
    });
  }
}

function errorText(err: unknown): string {
  if (err instanceof AppError) return err.message;
  if (err instanceof Error) return (err as NodeJS.ErrnoException).code ?? err.message;
  return String(err);
}
