// The configuration file and its environment overrides: one schema, errors that name the key.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile, redactConfig, resolveConfig, updateConfigFile } from '../../connector/config-file.ts';
import { loggerOptions } from '../../connector/main.ts';
import { generateSelfSigned } from '../../connector/tls.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vm2ec2-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const problemsOf = async (raw: unknown, env: NodeJS.ProcessEnv = {}): Promise<string[]> => {
  try {
    await resolveConfig(raw, { env, baseDir: dir });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('connector configuration file', () => {
  it('reads YAML, resolves certificate files and the data directory relative to the file', async () => {
    const tls = await generateSelfSigned(['connector.example.com']);
    await writeFile(join(dir, 'c.crt'), tls.certPem);
    await writeFile(join(dir, 'c.key'), tls.keyPem);
    await writeFile(join(dir, 'vc.pem'), tls.certPem);
    const file = join(dir, 'connector.yaml');
    await writeFile(
      file,
      'listen: { host: 0.0.0.0, port: 8443 }\ndataDir: state\ntls: { certFile: c.crt, keyFile: c.key }\nvcenter:\n  url: https://vc.example.com\n  caFile: vc.pem\naws: { regions: [eu-west-1, us-east-1] }\nadministrators: [administrator@vsphere.local]\n',
    );
    const config = await loadConfigFile(file, {});
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8443 });
    expect(config.dataDir).toBe(join(dir, 'state'));
    expect(config.tls?.certPem).toBe(tls.certPem);
    expect(config.vcenter.caPem).toBe(tls.certPem);
    expect(config.aws.regions).toEqual(['eu-west-1', 'us-east-1']);
    expect(config.dns.searchSuffixes).toEqual([]);
    expect(config.trust.allowedCertificates).toEqual([]);
  });

  it('reads JSON too', async () => {
    const file = join(dir, 'connector.json');
    await writeFile(file, JSON.stringify({ vcenter: { url: 'https://vc.example.com' } }));
    expect((await loadConfigFile(file, {})).vcenter.url).toBe('https://vc.example.com');
  });

  it('lets VM2EC2_* environment variables override the file', async () => {
    const config = await resolveConfig(
      { vcenter: { url: 'https://vc.example.com' }, listen: { port: 8443 } },
      {
        env: {
          VM2EC2_LISTEN_PORT: '9443',
          VM2EC2_VCENTER_URL: 'https://vc2.example.com',
          VM2EC2_AWS_REGIONS: 'us-west-2, eu-central-1',
          VM2EC2_ADMINISTRATORS: 'a@vsphere.local,b@vsphere.local',
          VM2EC2_DNS_SEARCH_SUFFIXES: 'corp.example.com',
          VM2EC2_LOG_LEVEL: 'debug',
          VM2EC2_AWS_KMS_ENDPOINT: 'http://127.0.0.1:4599',
        },
        baseDir: dir,
      },
    );
    expect(config.listen.port).toBe(9443);
    expect(config.vcenter.url).toBe('https://vc2.example.com');
    expect(config.aws.regions).toEqual(['us-west-2', 'eu-central-1']);
    expect(config.administrators).toEqual(['a@vsphere.local', 'b@vsphere.local']);
    expect(config.dns.searchSuffixes).toEqual(['corp.example.com']);
    expect(config.logging.level).toBe('debug');
    expect(config.aws.kmsEndpoint).toBe('http://127.0.0.1:4599');
  });

  it('refuses an invalid configuration and names every wrong key', async () => {
    expect(await problemsOf({ vcenter: { url: 'http://vc.example.com' } })).toEqual(['vcenter.url: vcenter.url must be an https:// URL of the vCenter Server']);
    expect(await problemsOf({})).toEqual(['vcenter: is required']);
    expect(await problemsOf({ vcenter: { url: 'https://vc' }, listn: {} })).toEqual(['listn: unknown key (check its spelling)']);
    const aws = await problemsOf({ vcenter: { url: 'https://vc' }, aws: { regions: ['mars'], secretKey: 'x' } });
    expect(aws).toHaveLength(2);
    expect(aws).toEqual(expect.arrayContaining(['aws.secretKey: unknown key (check its spelling)', expect.stringMatching(/^aws\.regions\.0: /)]));
    expect(await problemsOf({ vcenter: { url: 'https://vc' } }, { VM2EC2_LISTEN_PORT: 'eighty' })).toEqual(['VM2EC2_LISTEN_PORT: must be a whole number (got "eighty")']);
    expect(await problemsOf({ vcenter: { url: 'https://vc' }, tls: { certFile: 'missing.crt', keyFile: 'missing.key' } })).toEqual([
      expect.stringMatching(/^tls\.certFile: cannot read .*missing\.crt/),
    ]);
    expect(await problemsOf({ vcenter: { url: 'https://vc' }, trust: { allowedCertificates: [{ host: 'esx-01', thumbprint: 'AB:CD' }] } })).toEqual([
      expect.stringMatching(/^trust\.allowedCertificates\.0\.thumbprint: must be a SHA-256 thumbprint/),
    ]);
    expect(await problemsOf({ vcenter: { url: 'https://vc' }, dns: { searchSuffixes: ['bad suffix'] } })).toEqual([
      'dns.searchSuffixes.0: must be a DNS domain such as corp.example.com',
    ]);
  });

  it('says where a file is not valid YAML', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'vcenter:\n  url: "https://vc\n');
    await expect(loadConfigFile(file, {})).rejects.toThrow(/broken\.yaml is not valid YAML/);
  });

  it('changes one key in place, keeping comments, and refuses a change that would not validate', async () => {
    const file = join(dir, 'edit.yaml');
    await writeFile(file, '# keep me\nvcenter:\n  url: https://vc.example.com # the vCenter\n');
    await updateConfigFile(file, ['dns', 'searchSuffixes'], ['lab.local']);
    const text = await readFile(file, 'utf8');
    expect(text).toContain('# keep me');
    expect(text).toContain('# the vCenter');
    expect((await loadConfigFile(file, {})).dns.searchSuffixes).toEqual(['lab.local']);
    await expect(updateConfigFile(file, ['listen', 'port'], 'x')).rejects.toThrow(/listen\.port/);
    expect(await readFile(file, 'utf8')).toBe(text);
  });

  it('removes secrets and certificate bodies from a configuration shown to support', async () => {
    const config = await resolveConfig(
      {
        vcenter: { url: 'https://vc', caPem: '-----BEGIN CERTIFICATE-----x' },
        aws: { credentials: { accessKeyId: 'AKIAX', secretAccessKey: 'shh-secret' } },
        engine: { s3Credentials: { accessKeyId: 'AKIAX', secretAccessKey: 'shh-s3' }, vcenterAccount: { userName: 'svc@vsphere.local', password: 'shh-pw' } },
      },
      { env: {} },
    );
    const shown = JSON.stringify(redactConfig(config));
    expect(shown).toContain('svc@vsphere.local');
    expect(shown).not.toContain('shh-s3');
    expect(shown).not.toContain('shh-pw');
    expect(shown).not.toContain('shh-secret');
    expect(shown).not.toContain('AKIAX');
    expect(shown).not.toContain('BEGIN CERTIFICATE');
  });
});

describe('connector logger', () => {
  it('redacts session tokens, cookies, passwords and AWS secrets wherever they are logged', () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        out += chunk.toString();
        cb();
      },
    });
    const log = pino(loggerOptions('trace'), sink);
    log.info({ req: { headers: { 'vmware-api-session-id': 'tok-AAA', authorization: 'Bearer tok-BBB', cookie: 'vmware_soap_session=tok-CCC' } } }, 'request');
    log.info({ credentials: { secretAccessKey: 'tok-DDD' }, login: { password: 'tok-EEE' }, auth: { token: 'tok-FFF' } }, 'objects');
    log.info({ config: { aws: { credentials: { accessKeyId: 'tok-GGG', secretAccessKey: 'tok-HHH' } } } }, 'config');
    expect(out).toContain('[redacted]');
    for (const s of ['AAA', 'BBB', 'CCC', 'DDD', 'EEE', 'FFF', 'GGG', 'HHH']) expect(out).not.toContain(`tok-${s}`);
  });
});
