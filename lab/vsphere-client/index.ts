// The lab's vSphere Client stand-in: one HTTPS origin that behaves like a vCenter's front door for a remote
// plugin: the shell page (/ui/), /api/ui/htmlClientSdk.js, the /plugins/... reverse proxy, the clone-ticket
// endpoint and /sdk (proxied to the lab vcsim).
import { createReadStream } from 'node:fs';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import { Vim25Client, VimFault } from '../../connector/vsphere/vim25.ts';
import { createTrustedAgent } from '../../connector/vsphere/tls.ts';
import { generateSelfSigned } from '../../connector/tls.ts';
import type { InventoryDto, SessionDto, VcenterDto, VmDetailsDto } from './api-types.ts';
import { ensureClientAssets } from './build.ts';
import { PluginHost, type RegisteredPlugin } from './plugins.ts';
import { readCookie, SESSION_COOKIE, sessionCookie, SessionStore, type UiSession } from './sessions.ts';
import { registerLabTools } from './lab-tools.ts';
import { registerTasksEvents } from './tasks-events.ts';
import { describeUpstreamError, proxyTo } from './upstream.ts';

export type { RegisteredPlugin } from './plugins.ts';

export interface VsphereClientOptions {
  /** The lab vCenter (vcsim) behind this front door. */
  vcenter: { sdkUrl: string; certPem: string; instanceUuid: string };
  /** Registered remote plugins (what ExtensionManager would list). */
  plugins: RegisteredPlugin[];
  /** Server certificate; a self-signed one for 127.0.0.1 is generated when absent. */
  tls?: { certPem: string; keyPem: string };
  /** Listen port on 127.0.0.1; 0 / absent = any free port. */
  port?: number;
  log?: (msg: string) => void;
  /**
   * Lab only: writes `length` bytes at `offset` of a VM's disk in the lab vCenter, content derived from `seed`
   * (lab/vcsim's writeDisk). When given, VM summaries offer a "Change disk blocks" card; a real vSphere Client has none.
   */
  labDiskWriter?: (vmId: string, deviceKey: number, write: { offset: number; length: number; seed: number }) => Promise<unknown>;
  /** Lab only: the guest OS of a VM shuts itself down, as from inside the VM (the lab's VMs run no VMware Tools). */
  labGuestShutdown?: (vmId: string) => Promise<void>;
  /** Lab only: powers a VM on again after the lab's guest shutdown (the journeys leave the lab as they found it). */
  labPowerOn?: (vmId: string) => Promise<void>;
}

export interface VsphereClientHandle {
  /** The shell: `https://127.0.0.1:<port>/ui/` */
  url: string;
  /** `https://127.0.0.1:<port>`: what the connector uses as its vCenter URL. */
  origin: string;
  /** PEM of this server's certificate (trust it to talk to `origin`). */
  certPem: string;
  stop(): Promise<void>;
}

const LOCALE = 'en-US';
/** The lab card changes whole EBS-sized blocks, so a replication cycle sends exactly what was written. */

function apiError(reply: FastifyReply, status: number, error: string, message: string): FastifyReply {
  return reply.code(status).type('application/json').send({ error, message });
}

/** Maps a vim25 failure to an HTTP answer a vSphere administrator can act on. */
function vimFailure(reply: FastifyReply, err: unknown, vcenter: string): FastifyReply {
  if (err instanceof VimFault) {
    if (err.faultType === 'NotAuthenticated') return apiError(reply, 401, 'NotAuthenticated', 'Your vCenter session has expired. Log in again.');
    if (err.faultType === 'ManagedObjectNotFound') return apiError(reply, 404, 'NotFound', 'The object no longer exists in the vCenter inventory. Refresh the vSphere Client.');
    if (err.faultType === 'NoPermission') return apiError(reply, 403, 'NoPermission', `vCenter denied the request: ${err.faultString}`);
    return apiError(reply, 502, err.faultType, `vCenter answered with a ${err.faultType} fault: ${err.faultString}`);
  }
  return apiError(reply, 502, 'VcenterUnreachable', `The vSphere Client cannot reach vCenter at ${vcenter}: ${describeUpstreamError(err, vcenter, 'Check the vCenter certificate.')}`);
}

export async function startVsphereClient(opts: VsphereClientOptions): Promise<VsphereClientHandle> {
  const log = opts.log ?? (() => {});
  const assets = await ensureClientAssets(log);
  const tls = opts.tls ?? (await generateSelfSigned(['127.0.0.1', 'localhost']));
  const sdkUrl = new URL(opts.vcenter.sdkUrl);
  const vcOrigin = sdkUrl.origin;

  let probe: Vim25Client;
  try {
    probe = await Vim25Client.connect({ sdkUrl: sdkUrl.href, ca: opts.vcenter.certPem });
  } catch (err) {
    throw new Error(`The vSphere Client stand-in cannot reach the lab vCenter at ${sdkUrl.href}: ${(err as Error).message}. Start vcsim first (lab/vcsim).`);
  }
  const about = probe.about;
  probe.close();
  if (about.instanceUuid && about.instanceUuid !== opts.vcenter.instanceUuid) {
    throw new Error(`vcenter.instanceUuid ${opts.vcenter.instanceUuid} does not match the vCenter at ${sdkUrl.href} (${about.instanceUuid}).`);
  }
  const vcenter: VcenterDto = { name: sdkUrl.hostname, instanceUuid: opts.vcenter.instanceUuid, version: about.version, fullName: about.fullName };
  const clientVersion = about.version;
  const nodeId = randomUUID();

  const plugins = new PluginHost(opts.plugins, { client: clientVersion, vcenter: about.version });
  await plugins.loadAll();
  for (const p of plugins.instances) if (p.errors.length) log(`Plugin ${p.registration.key} was not loaded: ${p.errors.join(' | ')}`);

  const sessions = new SessionStore();
  const vcAgent = createTrustedAgent({ ca: opts.vcenter.certPem });

  const app = Fastify({ https: { cert: tls.certPem, key: tls.keyPem }, logger: false, forceCloseConnections: true, bodyLimit: 16 * 1024 * 1024 });

  const sessionOf = (request: FastifyRequest): UiSession | undefined => sessions.fromCookie(readCookie(request.headers.cookie, SESSION_COOKIE));
  const requireSession = (request: FastifyRequest, reply: FastifyReply): UiSession | undefined => {
    const s = sessionOf(request);
    if (!s) void apiError(reply, 401, 'NotAuthenticated', 'Log in to the vSphere Client.');
    return s;
  };
  const sessionDto = (s: UiSession): SessionDto => ({
    userName: s.userName,
    ...(s.fullName ? { fullName: s.fullName } : {}),
    pluginSessionToken: s.pluginToken,
    nodeId,
    vcenter,
    clientVersion,
    ...(opts.labDiskWriter ? { labTools: true } : {}),
  });
  /** A vim25 failure; a dead vCenter session also ends the browser session. */
  const failed = async (reply: FastifyReply, s: UiSession, err: unknown): Promise<FastifyReply> => {
    if (err instanceof VimFault && err.faultType === 'NotAuthenticated') await sessions.destroy(s);
    return vimFailure(reply, err, vcOrigin);
  };

  app.addHook('onSend', async (request, reply) => {
    if (request.url.startsWith('/ui')) {
      reply.header('x-frame-options', 'DENY');
      reply.header('x-content-type-options', 'nosniff');
    }
  });

  // ---- the shell ----
  app.get('/', async (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui', async (_req, reply) => reply.redirect('/ui/'));
  await app.register(fastifyStatic, {
    root: assets.shellDir,
    prefix: '/ui/',
    index: ['index.html'],
    wildcard: false,
    cacheControl: false,
    // Asset names carry a content hash; the page itself must always be revalidated.
    setHeaders: (reply, path) => {
      reply.header('cache-control', path.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
    },
  });

  app.get('/api/ui/htmlClientSdk.js', async (_req, reply) =>
    reply.type('application/javascript; charset=utf-8').header('cache-control', 'no-cache').send(createReadStream(assets.sdkFile)),
  );

  // ---- the shell's API ----
  app.post<{ Body: { username?: unknown; password?: unknown } }>('/ui/api/login', async (request, reply) => {
    const { username, password } = request.body ?? {};
    if (typeof username !== 'string' || typeof password !== 'string' || !username || !password) {
      return apiError(reply, 400, 'BadRequest', 'Enter a user name and a password.');
    }
    let vim: Vim25Client;
    try {
      vim = await Vim25Client.connect({ sdkUrl: sdkUrl.href, ca: opts.vcenter.certPem });
    } catch (err) {
      return vimFailure(reply, err, vcOrigin);
    }
    try {
      const user = await vim.login(username, password);
      const s = sessions.create(vim, user.userName || username, user.fullName);
      return reply.header('set-cookie', sessionCookie(s.id)).send(sessionDto(s));
    } catch (err) {
      vim.close();
      if (err instanceof VimFault && err.faultType === 'InvalidLogin') {
        return apiError(reply, 401, 'InvalidLogin', 'Cannot complete login due to an incorrect user name or password.');
      }
      return vimFailure(reply, err, vcOrigin);
    }
  });

  app.post('/ui/api/logout', async (request, reply) => {
    const s = sessionOf(request);
    if (s) await sessions.destroy(s);
    return reply.code(204).header('set-cookie', sessionCookie('', 0)).send();
  });

  // 200 either way: the login page asks this first, and an expected "not logged in" is not an error.
  app.get('/ui/api/session', async (request) => {
    const s = sessionOf(request);
    return { session: s ? sessionDto(s) : null };
  });

  app.get('/ui/api/inventory', async (request, reply) => {
    const s = requireSession(request, reply);
    if (!s) return reply;
    try {
      const roots = await s.vim.vmFolderTree();
      const dto: InventoryDto = { vcenter, datacenters: roots.map((f) => ({ name: f.name, vmFolder: f })) };
      return dto;
    } catch (err) {
      return failed(reply, s, err);
    }
  });

  app.get<{ Params: { id: string } }>('/ui/api/vms/:id', async (request, reply) => {
    const s = requireSession(request, reply);
    if (!s) return reply;
    try {
      const vm = await s.vim.getVirtualMachine(request.params.id);
      const dto: VmDetailsDto = {
        id: vm.id,
        name: vm.name,
        guestId: vm.guestId,
        guestFullName: vm.guestFullName,
        powerState: vm.powerState,
        numCpu: vm.numCpu,
        memoryMB: vm.memoryMB,
        ...(vm.hostName ? { hostName: vm.hostName } : {}),
        ...(vm.instanceUuid ? { instanceUuid: vm.instanceUuid } : {}),
        snapshotCount: vm.snapshotCount,
        disks: vm.disks.map((d) => ({ label: d.label, capacityBytes: d.capacityBytes })),
        nics: vm.nics.map((n) => ({ label: n.label, ...(n.network ? { network: n.network } : {}), ...(n.macAddress ? { macAddress: n.macAddress } : {}) })),
      };
      return dto;
    } catch (err) {
      return failed(reply, s, err);
    }
  });

  // Lab only: the Summary card's tools (absent outside the lab).
  registerLabTools(app, { requireSession, failed, apiError, diskWriter: opts.labDiskWriter, guestShutdown: opts.labGuestShutdown, powerOn: opts.labPowerOn });

  // Recent Tasks and Monitor → Events.
  registerTasksEvents(app, { requireSession, failed, extensionKeys: () => (opts.plugins ?? []).map((p) => p.key) });

  app.get<{ Querystring: { reload?: string } }>('/ui/api/plugins', async (request, reply) => {
    if (!requireSession(request, reply)) return reply;
    if (request.query.reload) await plugins.loadAll();
    return { plugins: plugins.describe() };
  });

  app.post<{ Params: { id: string }; Body: { objectType?: unknown; container?: unknown; objectIds?: unknown } }>(
    '/ui/api/plugins/:id/dynamic-items',
    async (request, reply) => {
      const s = requireSession(request, reply);
      if (!s) return reply;
      const p = plugins.find(request.params.id);
      if (!p) return apiError(reply, 404, 'NotFound', `No plugin ${request.params.id} is registered.`);
      const { objectType, container, objectIds } = request.body ?? {};
      if (
        typeof objectType !== 'string' ||
        (container !== 'menu' && container !== 'monitor' && container !== 'configure' && container !== 'summary') ||
        !Array.isArray(objectIds) ||
        !objectIds.every((o): o is string => typeof o === 'string')
      ) {
        return apiError(reply, 400, 'BadRequest', 'Expected { objectType, container: "menu"|"monitor"|"configure"|"summary", objectIds: string[] }.');
      }
      return p.dynamicItems(objectType, container, objectIds, s.pluginToken, LOCALE);
    },
  );

  // ---- vsphere-ui's clone-ticket endpoint (what plugin servers call with the plugin session token) ----
  app.post<{ Body: Record<string, unknown> | undefined }>('/api/ui/vcenter/session/clone-ticket', async (request, reply) => {
    const token = request.headers['vmware-api-session-id'];
    const s = sessions.fromPluginToken(typeof token === 'string' ? token : undefined);
    if (!s) {
      return apiError(reply, 401, 'Unauthenticated', 'The vmware-api-session-id header is not a valid plugin session token (unknown or expired). Get a fresh one from htmlClientSdk.app.getSessionInfo().');
    }
    const body = request.body ?? {};
    const vcGuid = body.vc_guid ?? body['vc-guid'];
    if (typeof vcGuid !== 'string') return apiError(reply, 400, 'BadRequest', 'Send a JSON body { "vc_guid": "<vCenter instance UUID>" }.');
    if (vcGuid !== opts.vcenter.instanceUuid) {
      return apiError(reply, 404, 'NotFound', `vc_guid ${vcGuid} is not a vCenter this vSphere Client knows (it knows ${opts.vcenter.instanceUuid}).`);
    }
    try {
      return { session_clone_ticket: await s.vim.acquireCloneTicket() };
    } catch (err) {
      if (err instanceof VimFault && err.faultType === 'NotAuthenticated') {
        await sessions.destroy(s);
        return apiError(reply, 401, 'Unauthenticated', 'The user\'s vCenter session has ended. Log in to the vSphere Client again.');
      }
      return vimFailure(reply, err, vcOrigin);
    }
  });

  // ---- reverse proxies: raw bodies, streamed both ways ----
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, _payload, done) => done(null));

    scope.all<{ Params: { id: string; hostPort: string; '*': string } }>('/plugins/:id/:hostPort/*', async (request, reply) => {
      const p = plugins.find(request.params.id);
      const rest = /^\/plugins\/[^/]+\/[^/]+(\/.*)$/.exec(request.url)?.[1] ?? '/';
      const target = p?.proxyTarget(request.params.hostPort, rest);
      if (!p || !target) return apiError(reply, 404, 'NotFound', `No registered plugin server answers at /plugins/${request.params.id}/${request.params.hostPort}.`);
      return proxyTo(request, reply, target, {
        agent: p.agent,
        dropCookies: [SESSION_COOKIE],
        rewriteLocation: (l) => p.rewriteLocation(l),
        trustHint: 'Check the serverCertificate / serverThumbprint the plugin is registered with.',
      });
    });

    const sdk = async (request: FastifyRequest, reply: FastifyReply) =>
      proxyTo(request, reply, new URL(request.url, vcOrigin), { agent: vcAgent, dropCookies: [SESSION_COOKIE], trustHint: 'Check the vCenter certificate given to the stand-in.' });
    scope.all('/sdk', sdk);
    scope.all('/sdk/*', sdk);
    // Datastore file access (warm migration reads disk byte ranges), with the vim25 session cookie, as vCenter serves it.
    scope.all('/folder/*', sdk);
    // NFC import uploads to lease URLs whose host is `*` (the address the client reached vCenter by), as vCenter serves them.
    scope.all('/nfc/*', sdk);
  });

  try {
    await app.listen({ host: '127.0.0.1', port: opts.port ?? 0 });
  } catch (err) {
    await app.close();
    plugins.close();
    vcAgent.destroy();
    throw new Error(`The vSphere Client stand-in cannot listen on 127.0.0.1:${opts.port ?? 0}: ${(err as Error).message}`);
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const origin = `https://127.0.0.1:${port}`;

  let stopped: Promise<void> | undefined;
  return {
    url: `${origin}/ui/`,
    origin,
    certPem: tls.certPem,
    stop: () =>
      (stopped ??= (async () => {
        await app.close();
        await sessions.closeAll();
        plugins.close();
        vcAgent.destroy();
      })()),
  };
}
