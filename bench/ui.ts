// Benchmark 3: the migrate modal's first render in headless Chromium, through the lab's vSphere Client stand-in,
// against an empty Vite React page built in the same run.
import { createServer } from 'node:http';
import { request } from 'node:https';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium, type Frame, type Page } from '@playwright/test';
import { startLab, type LabHandle } from '../lab/index.ts';
import { httpsJson } from '../test/support/api-lab.ts';
import { Environment, SecurityGroupList, SubnetList, VpcList } from '../connector/contract/index.ts';
import { testIds as client } from '../lab/vsphere-client/test-ids.ts';
import { testIds as ui } from '../ui/testIds.ts';

export interface UiPage {
  name: string;
  jsFiles: number;
  jsGzipBytes: number;
  /** Stylesheets of the first load, gzipped like the scripts. */
  cssGzipBytes?: number;
  medianMs: number;
  /** Medians, same clock as medianMs: where the time before "interactive" went (pages that call the connector). */
  phases?: Phases;
}
/** From the iframe's navigation start: its last script or stylesheet arrived; its first connector call left, its last one (before interactive) answered. */
export interface Phases {
  codeLoadedMs: number;
  firstApiCallMs: number;
  lastApiAnswerMs: number;
}
export interface UiResult {
  method: string;
  loads: number;
  pages: UiPage[];
}

/** A page is interactive when its first useful element exists: the migrate form, the portal's first region, the empty page's form. */
const READY = `[data-test="${ui.migrate.form}"], [data-test^="${ui.portal.region('')}"], [data-test="empty-ready"]`;

// Runs in every frame: the document's own clock (0 = its navigation start) when the ready element first exists.
const INIT = `(() => {
  const check = () => { if (document.querySelector(${JSON.stringify(READY)})) { window.__readyAt = performance.now(); obs.disconnect(); } };
  const obs = new MutationObserver(check);
  obs.observe(document, { childList: true, subtree: true });
})();`;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2 : 0;
};

/** Gzipped size of every script and stylesheet response of one frame (compressed here: the static servers do not gzip). */
function trackCode(page: Page, frameOf: () => Frame | undefined) {
  const sizes = { js: new Map<string, number>(), css: new Map<string, number>() };
  page.on('response', (res) => {
    const type = res.request().resourceType();
    if ((type !== 'script' && type !== 'stylesheet') || res.frame() !== frameOf()) return;
    void res.body().then((b) => (type === 'script' ? sizes.js : sizes.css).set(res.url(), gzipSync(b, { level: 9 }).length)).catch(() => undefined);
  });
  return sizes;
}
const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

/** Where one load's time went, from the frame's resource timing (connector calls are the `/api/v1/` requests). */
async function phasesOf(frame: Frame, ready: number): Promise<Phases> {
  return frame.evaluate((readyMs) => {
    const entries = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
    // The UI's HTTP client is axios, whose browser adapter is XMLHttpRequest.
    const api = entries.filter((e) => e.name.includes('/api/v1/') && ['fetch', 'xmlhttprequest'].includes(e.initiatorType) && e.startTime <= readyMs);
    const code = entries.filter((e) => /\.(js|css)(\?|$)/.test(new URL(e.name).pathname) && e.startTime <= readyMs);
    return {
      codeLoadedMs: Math.max(0, ...code.map((e) => e.responseEnd)),
      firstApiCallMs: api.length ? Math.min(...api.map((e) => e.startTime)) : 0,
      lastApiAnswerMs: Math.max(0, ...api.map((e) => e.responseEnd).filter((t) => t <= readyMs)),
    };
  }, ready);
}
const medianPhases = (ps: Phases[]): Phases => ({
  codeLoadedMs: median(ps.map((p) => p.codeLoadedMs)),
  firstApiCallMs: median(ps.map((p) => p.firstApiCallMs)),
  lastApiAnswerMs: median(ps.map((p) => p.lastApiAnswerMs)),
});

async function readyAt(frame: Frame): Promise<number> {
  await frame.waitForSelector(READY, { state: 'attached', timeout: 60_000 }).catch(async (err: unknown) => {
    const shown = await frame.locator('body').innerText().catch(() => '');
    throw new Error(`the page never became interactive (${READY}); it shows: ${shown.slice(0, 300).replace(/\s+/g, ' ')}`, { cause: err });
  });
  await frame.waitForFunction(() => typeof (window as unknown as { __readyAt?: number }).__readyAt === 'number');
  return frame.evaluate(() => (window as unknown as { __readyAt: number }).__readyAt);
}

async function buildEmptyPage(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  // The project sits inside the repository so `react` resolves from node_modules; the output goes to a temp dir.
  const src = join(import.meta.dirname, '.empty-react-page');
  const out = await mkdtemp(join(tmpdir(), 'vm2ec2-empty-page-'));
  await mkdir(src, { recursive: true });
  await writeFile(join(src, 'index.html'), '<!doctype html><html><head><meta charset="utf-8"><title>empty</title></head><body><div id="root"></div><script type="module" src="./main.tsx"></script></body></html>');
  await writeFile(
    join(src, 'main.tsx'),
    "import { createRoot } from 'react-dom/client';\ncreateRoot(document.getElementById('root')!).render(<form data-test=\"empty-ready\"><input /></form>);\n",
  );
  const { build } = await import('vite');
  const react = (await import('@vitejs/plugin-react')).default;
  await build({ root: src, base: './', configFile: false, logLevel: 'warn', plugins: [react()], build: { outDir: out, emptyOutDir: true, target: 'es2022' } });
  await rm(src, { recursive: true, force: true });
  return { dir: out, cleanup: () => rm(out, { recursive: true, force: true }) };
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };

/** An environment the administrator may migrate into, so the modal shows its form (a fresh lab has none). */
async function seedEnvironment(lab: LabHandle, user: { name: string; password: string }): Promise<void> {
  // LabHandle does not expose the stand-in's self-signed certificate; this one call goes to 127.0.0.1 without verification.
  const token = await new Promise<string>((resolve, reject) => {
    const body = JSON.stringify({ username: user.name, password: user.password });
    const req = request(`${new URL(lab.clientUrl).origin}/ui/api/login`, { method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => {
        const t = (JSON.parse(text || '{}') as { pluginSessionToken?: string }).pluginSessionToken;
        if (t) resolve(t);
        else reject(new Error(`stand-in login failed: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
  const call = <T>(method: string, path: string, body?: unknown) =>
    httpsJson<T>(`${lab.connector.origin}/vm2ec2/api/v1${path}`, { ca: lab.connector.certPem, method, headers: { 'vmware-api-session-id': token }, ...(body !== undefined ? { body } : {}) });
  const vpcId = VpcList.parse((await call('GET', '/regions/us-east-1/vpcs')).body).vpcs[0]!.id;
  const subnetId = SubnetList.parse((await call('GET', `/regions/us-east-1/subnets?vpcId=${vpcId}`)).body).subnets[0]!.id;
  const groupId = SecurityGroupList.parse((await call('GET', `/regions/us-east-1/security-groups?vpcId=${vpcId}`)).body).securityGroups[0]!.id;
  const env = Environment.parse(
    (await call('POST', '/environments', { name: 'Bench', description: 'UI benchmark', region: 'us-east-1', vpcId, subnetIds: [subnetId], securityGroupIds: [groupId], instanceTypes: ['m5.large'] })).body,
  );
  await call('PUT', `/environments/${env.id}/permissions`, { permissions: [{ userName: user.name, role: 'Owner' }] });
}

/** Opens a plugin view `loads` times (first cold, then a warm HTTP cache) and measures each load of its iframe. */
async function measureView(page: Page, loads: number, open: () => Promise<Frame>, frameRef: { current: Frame | undefined }, sizes: ReturnType<typeof trackCode>) {
  const times: number[] = [];
  const phases: Phases[] = [];
  let first = { js: new Map<string, number>(), css: new Map<string, number>() };
  for (let i = 0; i < loads; i++) {
    const frame = await open();
    frameRef.current = frame;
    const at = await readyAt(frame);
    times.push(at);
    phases.push(await phasesOf(frame, at));
    if (i === 0) {
      await page.waitForTimeout(500); // let the response bodies of the first load be read
      first = { js: new Map(sizes.js), css: new Map(sizes.css) };
    }
  }
  return { jsFiles: first.js.size, jsGzipBytes: total(first.js), cssGzipBytes: total(first.css), medianMs: median(times), phases: medianPhases(phases) };
}

export async function benchUi(opts: { loads: number; executablePath: string }, log: (line: string) => void): Promise<UiResult> {
  const pages: UiPage[] = [];
  const browser = await chromium.launch({ executablePath: opts.executablePath });
  try {
    // The modal and the portal, through the stand-in exactly as an administrator opens them.
    log('  starting the lab (vcsim, S3, EC2 emulator, connector, vSphere Client stand-in)');
    const lab = await startLab({ stageMs: 1000 });
    let portal: UiPage | undefined;
    try {
      const admin = lab.users.find((u) => u.name.startsWith('administrator@'))!;
      await seedEnvironment(lab, admin);
      const login = async () => {
        const context = await browser.newContext({ ignoreHTTPSErrors: true });
        await context.addInitScript(INIT);
        const page = await context.newPage();
        await page.goto(lab.clientUrl);
        await page.locator(`[data-test="${client.login.username}"]`).fill(admin.name);
        await page.locator(`[data-test="${client.login.password}"]`).fill(admin.password);
        await page.locator(`[data-test="${client.login.submit}"]`).click();
        await page.locator(`[data-test="${client.navigator.tree}"]`).waitFor();
        return { context, page };
      };
      const frameOf = async (testId: string) => {
        const frame = await (await page.locator(`[data-test="${testId}"]`).elementHandle())?.contentFrame();
        if (!frame) throw new Error(`the stand-in shows no ${testId}`);
        return frame;
      };

      // Each view in its own browser context: the portal's first load is as cold as the modal's.
      let { context, page } = await login();
      const modalFrame: { current: Frame | undefined } = { current: undefined };
      page.on('frameattached', (f) => (modalFrame.current = f));
      const modalCode = trackCode(page, () => modalFrame.current);
      for (const folder of ['Migration', 'Production']) {
        const expand = page.getByRole('button', { name: `Expand ${folder}`, exact: true });
        if ((await expand.count()) > 0) await expand.click();
      }
      const vm = 'ubuntu-web-01';
      let modalOpen = false;
      const modal = await measureView(page, opts.loads, async () => {
        if (modalOpen) {
          await page.locator(`[data-test="${client.modal.close}"]`).click();
          await page.locator(`[data-test="${client.modal.root}"]`).waitFor({ state: 'detached' });
        }
        await page.locator(`[data-test="${client.navigator.node(vm)}"]`).click({ button: 'right' });
        await page.locator(`[data-test="${client.contextMenu.pluginSubmenu('AWS Management Portal')}"]`).click();
        await page.locator(`[data-test="${client.contextMenu.pluginAction('Migrate VM to EC2')}"]`).click();
        modalOpen = true;
        return frameOf(client.modal.iframe);
      }, modalFrame, modalCode);
      pages.push({ name: 'Migrate modal (connector UI in the stand-in modal iframe)', ...modal });
      await context.close();

      ({ context, page } = await login());
      const portalFrame: { current: Frame | undefined } = { current: undefined };
      page.on('frameattached', (f) => (portalFrame.current = f));
      const portalCode = trackCode(page, () => portalFrame.current);
      const before = { current: undefined as Frame | undefined };
      portal = {
        name: 'Portal (Menu → AWS Management Portal, global view iframe, until its first region shows)',
        ...(await measureView(page, opts.loads, async () => {
          // Opening the view again replaces its iframe: wait for the new one.
          await page.locator(`[data-test="${client.header.menu}"]`).click();
          await page.locator(`[data-test="${client.header.menuItem('AWS Management Portal')}"]`).click();
          let frame = await frameOf(client.globalView.iframe);
          for (let tries = 0; frame === before.current && tries < 100; tries++) {
            await page.waitForTimeout(20);
            frame = await frameOf(client.globalView.iframe);
          }
          before.current = frame;
          return frame;
        }, portalFrame, portalCode)),
      };
      await context.close();
    } finally {
      await lab.stop();
    }

    // The empty page, in an iframe of a host page, on a plain local server.
    log('  building and loading an empty Vite React page');
    const empty = await buildEmptyPage();
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (path === '/host.html') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><html><body></body></html>');
        return;
      }
      readFile(join(empty.dir, path === '/' ? 'index.html' : path))
        .then((b) => res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'text/html' }).end(b))
        .catch(() => res.writeHead(404).end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const context = await browser.newContext();
      await context.addInitScript(INIT);
      const page = await context.newPage();
      const frame: { current: Frame | undefined } = { current: undefined };
      page.on('frameattached', (f) => (frame.current = f));
      const code = trackCode(page, () => frame.current);
      await page.goto(`${origin}/host.html`);
      const measured = await measureView(page, opts.loads, async () => {
        await page.evaluate((src) => {
          document.body.replaceChildren();
          const f = document.createElement('iframe');
          f.src = src;
          document.body.append(f);
        }, `${origin}/index.html`);
        const f = await (await page.locator('iframe').elementHandle())?.contentFrame();
        if (!f) throw new Error('no iframe');
        return f;
      }, frame, code);
      pages.push({ name: 'Empty Vite React page (same Vite, React and plugin-react)', ...measured });
      await context.close();
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      await empty.cleanup();
    }
    if (portal) pages.push(portal);
  } finally {
    await browser.close();
  }
  return {
    method: `Headless Chromium (${opts.executablePath}). "Interactive" = the page's first useful element exists: the modal's form \`[data-test="${ui.migrate.form}"]\`, the portal's first region in its tree, the empty page's form; time = the iframe document's \`performance.now()\` at that moment, i.e. from the iframe's navigation start. JS and CSS = every script and stylesheet the iframe loaded on its first (cold-cache) load, gzipped at level 9 by the bench; the median is over ${opts.loads} loads, the first cold, the rest with a warm HTTP cache (as a user reopening the view). Each view is opened in a fresh browser context. Phases (medians, same clock): the last script or stylesheet arrived, the first connector call left, the last connector call before interactive answered.`,
    loads: opts.loads,
    pages,
  };
}
