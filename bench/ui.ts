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
  medianMs: number;
}
export interface UiResult {
  method: string;
  loads: number;
  pages: UiPage[];
}

const READY = `[data-test="${ui.migrate.form}"], [data-test="empty-ready"]`;

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

/** Gzipped size of every script response of one frame (compressed here: the static servers do not gzip). */
function trackScripts(page: Page, frameOf: () => Frame | undefined) {
  const sizes = new Map<string, number>();
  page.on('response', (res) => {
    if (res.request().resourceType() !== 'script' || res.frame() !== frameOf()) return;
    void res.body().then((b) => sizes.set(res.url(), gzipSync(b, { level: 9 }).length)).catch(() => undefined);
  });
  return sizes;
}

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

export async function benchUi(opts: { loads: number; executablePath: string }, log: (line: string) => void): Promise<UiResult> {
  const pages: UiPage[] = [];
  const browser = await chromium.launch({ executablePath: opts.executablePath });
  try {
    // The modal, through the stand-in exactly as an administrator opens it.
    log('  starting the lab (vcsim, S3, EC2 emulator, connector, vSphere Client stand-in)');
    const lab = await startLab({ stageMs: 1000 });
    try {
      const admin = lab.users.find((u) => u.name.startsWith('administrator@'))!;
      await seedEnvironment(lab, admin);
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      await context.addInitScript(INIT);
      const page = await context.newPage();
      let modalFrame: Frame | undefined;
      const scripts = trackScripts(page, () => modalFrame);
      page.on('frameattached', (f) => (modalFrame = f));
      await page.goto(lab.clientUrl);
      await page.locator(`[data-test="${client.login.username}"]`).fill(admin.name);
      await page.locator(`[data-test="${client.login.password}"]`).fill(admin.password);
      await page.locator(`[data-test="${client.login.submit}"]`).click();
      await page.locator(`[data-test="${client.navigator.tree}"]`).waitFor();
      for (const folder of ['Migration', 'Production']) {
        const expand = page.getByRole('button', { name: `Expand ${folder}`, exact: true });
        if ((await expand.count()) > 0) await expand.click();
      }
      const vm = 'ubuntu-web-01';
      const times: number[] = [];
      let firstLoadJs = new Map<string, number>();
      for (let i = 0; i < opts.loads; i++) {
        await page.locator(`[data-test="${client.navigator.node(vm)}"]`).click({ button: 'right' });
        await page.locator(`[data-test="${client.contextMenu.pluginSubmenu('AWS Management Portal')}"]`).click();
        await page.locator(`[data-test="${client.contextMenu.pluginAction('Migrate VM to EC2')}"]`).click();
        const iframe = await page.locator(`[data-test="${client.modal.iframe}"]`).elementHandle();
        const frame = await iframe!.contentFrame();
        if (!frame) throw new Error('the modal has no iframe');
        modalFrame = frame;
        times.push(await readyAt(frame));
        if (i === 0) {
          await page.waitForTimeout(500); // let the response bodies of the first load be read
          firstLoadJs = new Map(scripts);
        }
        await page.locator(`[data-test="${client.modal.close}"]`).click();
        await page.locator(`[data-test="${client.modal.root}"]`).waitFor({ state: 'detached' });
      }
      pages.push({ name: 'Migrate modal (connector UI in the stand-in modal iframe)', jsFiles: firstLoadJs.size, jsGzipBytes: [...firstLoadJs.values()].reduce((a, b) => a + b, 0), medianMs: median(times) });
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
      let frame: Frame | undefined;
      const scripts = trackScripts(page, () => frame);
      page.on('frameattached', (f) => (frame = f));
      await page.goto(`${origin}/host.html`);
      const times: number[] = [];
      let firstLoadJs = new Map<string, number>();
      for (let i = 0; i < opts.loads; i++) {
        await page.evaluate((src) => {
          document.body.replaceChildren();
          const f = document.createElement('iframe');
          f.src = src;
          document.body.append(f);
        }, `${origin}/index.html`);
        frame = await (await page.locator('iframe').elementHandle())!.contentFrame() ?? undefined;
        if (!frame) throw new Error('no iframe');
        times.push(await readyAt(frame));
        if (i === 0) {
          await page.waitForTimeout(500);
          firstLoadJs = new Map(scripts);
        }
      }
      pages.push({ name: 'Empty Vite React page (same Vite, React and plugin-react)', jsFiles: firstLoadJs.size, jsGzipBytes: [...firstLoadJs.values()].reduce((a, b) => a + b, 0), medianMs: median(times) });
      await context.close();
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      await empty.cleanup();
    }
  } finally {
    await browser.close();
  }
  return {
    method: `Headless Chromium (${opts.executablePath}). "Interactive" = the element \`[data-test="${ui.migrate.form}"]\` (the empty page: its form) exists; time = the iframe document's \`performance.now()\` at that moment, i.e. from the iframe's navigation start. JS = every script the iframe loaded on its first (cold-cache) load, gzipped at level 9 by the bench; the median is over ${opts.loads} loads, the first cold, the rest with a warm HTTP cache (as a user reopening the modal).`,
    loads: opts.loads,
    pages,
  };
}
