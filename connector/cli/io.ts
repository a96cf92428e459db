// Reading the vCenter password (prompt or file, never argv) and reaching a TLS server to see its certificate.
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Refuses a password given on the command line (it would land in shell history and `ps`). */
export function refusePasswordArgs(argv: readonly string[]): void {
  if (argv.some((a) => a === '-p' || a === '--password' || a.startsWith('--password=') || a.startsWith('--pwd'))) {
    throw new CliError('Passwords are not accepted on the command line. Type it when asked, pipe it on standard input, or use --password-file <file> (mode 0600).');
  }
}

async function readLine(input: NodeJS.ReadableStream): Promise<string> {
  let data = '';
  for await (const chunk of input) {
    data += chunk.toString();
    const nl = data.indexOf('\n');
    if (nl >= 0) return data.slice(0, nl).replace(/\r$/, '');
  }
  return data.replace(/\r?\n$/, '');
}

/** Prompts on a terminal without echo; reads one line from standard input when it is not a terminal. */
async function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return readLine(stdin);
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let value = '';
    const onData = (ch: string): void => {
      for (const c of ch) {
        if (c === '\r' || c === '\n') {
          done();
          resolve(value);
          return;
        }
        if (c === '\u0003') {
          done();
          reject(new CliError('Cancelled.', 130));
          return;
        }
        if (c === '\u007f' || c === '\b') value = value.slice(0, -1);
        else value += c;
      }
    };
    const done = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

export async function readPassword(opts: { passwordFile?: string | undefined; user: string }): Promise<string> {
  if (opts.passwordFile) {
    const text = await readFile(opts.passwordFile, 'utf8').catch((err: Error) => {
      throw new CliError(`Cannot read the password file ${opts.passwordFile}: ${err.message}`);
    });
    const pw = text.replace(/\r?\n$/, '');
    if (!pw) throw new CliError(`The password file ${opts.passwordFile} is empty.`);
    return pw;
  }
  const pw = await promptHidden(`Password for ${opts.user}: `);
  if (!pw) throw new CliError(`No password given for ${opts.user}.`);
  return pw;
}

/** The certificate a TLS server presents (not validated: the caller compares its thumbprint). Rejects with the socket error (its code kept). */
export function fetchPeerCertificate(url: string, timeoutMs = 10_000): Promise<{ pem: string; thumbprintSha256: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: u.hostname,
      port: Number(u.port || 443),
      ...(/^[\d.]+$|:/.test(u.hostname) ? {} : { servername: u.hostname }),
      // Only reads the certificate; nothing is sent, and the caller checks the thumbprint.
      rejectUnauthorized: false,
    });
    socket.setTimeout(timeoutMs, () => socket.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      const raw = socket.getPeerCertificate().raw;
      socket.end();
      if (!raw) return reject(new CliError(`The plug-in server ${u.host} presented no certificate.`));
      const x = new X509Certificate(raw);
      resolve({ pem: x.toString(), thumbprintSha256: x.fingerprint256 });
    });
  });
}

/** Fetches the plug-in manifest with the registered certificate pinned; returns a problem description or undefined. */
export async function probeManifest(manifestUrl: string, certPem: string, timeoutMs = 10_000): Promise<string | undefined> {
  const { createTrustedAgent } = await import('../vsphere/tls.ts');
  const { classifyConnectFailure, describeFailure } = await import('./connect-errors.ts');
  const { request } = await import('node:https');
  const agent = createTrustedAgent({ thumbprint: new X509Certificate(certPem).fingerprint256 }, { keepAlive: false });
  try {
    return await new Promise<string | undefined>((resolve) => {
      const req = request(manifestUrl, { agent, timeout: timeoutMs, headers: { accept: 'application/json' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          if (res.statusCode !== 200) return resolve(`it answered HTTP ${res.statusCode ?? '?'}`);
          try {
            const m = JSON.parse(body) as { manifestVersion?: unknown };
            resolve(typeof m.manifestVersion === 'string' ? undefined : 'it is not a plug-in manifest (no manifestVersion)');
          } catch {
            resolve('it is not JSON');
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
      req.on('error', (err) => resolve(describeFailure(classifyConnectFailure(err), err, new URL(manifestUrl))));
      req.end();
    });
  } finally {
    agent.destroy();
  }
}
