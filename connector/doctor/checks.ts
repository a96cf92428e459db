// The seed guide's troubleshooting section as checks with fixes: the vmimport service role, ESX host name
// resolution (DNS suffix search list) and ESX host certificates (validated, or allowed by thumbprint).
import { lookup } from 'node:dns/promises';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { CreateRoleCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import type { AwsGateway } from '../aws/gateway.ts';
import { IMPORT_ROLE_POLICY_NAME, importRolePolicies, missingImportActions, missingImportKmsActions, trustsVmie } from '../aws/vmimport-role.ts';
import type { ConnectorConfig } from '../config.ts';
import { arr, child, el, els, moRefXml, str, toMoRef, wrap } from '../vsphere/soap.ts';
import { isTlsTrustFailure, tlsFixHint } from '../vsphere/tls.ts';
import { Vim25Client } from '../vsphere/vim25.ts';

export type Severity = 'ok' | 'warning' | 'error';

export interface Finding {
  /** Stable id: `import-role`, `host-name:<host>`, `host-cert:<host>`. */
  id: string;
  severity: Severity;
  /** One sentence, in the seed's words where it has them. */
  title: string;
  /** What to do about it. */
  fix?: string;
  /** `doctor --fix` can repair it. */
  fixable: boolean;
  details?: Record<string, unknown>;
}

/** Name → addresses; throws (ENOTFOUND) when the name does not resolve. Injectable for tests and the lab. */
export type Resolver = (name: string) => Promise<string[]>;
export const systemResolver: Resolver = async (name) => (await lookup(name, { all: true })).map((a) => a.address);

// ---------- vmimport role ----------

export async function checkImportRole(aws: AwsGateway): Promise<Finding> {
  const role = await aws.importRole();
  const id = 'import-role';
  const fix = `Run "vm2ec2 doctor --fix" to ${role.exists ? 'update' : 'create'} the ${role.roleName} role (the policy is shown first), or attach the ${IMPORT_ROLE_POLICY_NAME} policy yourself.`;
  if (!role.exists) {
    return { id, severity: 'error', fixable: true, title: `Your Import service role is missing: there is no IAM role ${role.roleName}.`, fix, details: { roleName: role.roleName } };
  }
  const trusted = trustsVmie(role.trustPolicy);
  const missing = missingImportActions(role.policies);
  if (!trusted || missing.length > 0) {
    const what = [
      ...(trusted ? [] : ['its trust policy does not let vmie.amazonaws.com assume it']),
      ...(missing.length ? [`its policies do not allow ${missing.join(', ')}`] : []),
    ].join('; ');
    return {
      id,
      severity: 'error',
      fixable: true,
      title: `Additional permissions are required to migrate multidisk virtual machines: the ${role.roleName} role is incomplete (${what}).`,
      fix,
      details: { roleName: role.roleName, trusted, missingActions: missing },
    };
  }
  // Needed only to import with encryption, for KMS keys whose policy leaves their use to IAM: a warning, not an error.
  const missingKms = missingImportKmsActions(role.policies);
  if (missingKms.length > 0) {
    return {
      id,
      severity: 'warning',
      fixable: true,
      title: `The Import service role ${role.roleName} may not use KMS keys through IAM (its policies do not allow ${missingKms.join(', ')}): imports encrypted with a customer managed key whose key policy delegates to IAM will fail.`,
      fix: `${fix} Alternatively, name the role in the key policy of each key used for imports.`,
      details: { roleName: role.roleName, missingKmsActions: missingKms },
    };
  }
  return { id, severity: 'ok', fixable: false, title: `The Import service role ${role.roleName} exists with the trust policy and permissions VM Import needs.` };
}

/** The policies `--fix` applies, for the "View Policy" step. */
export function importRoleFixPolicies() {
  return importRolePolicies();
}

/** Creates or updates the vmimport role: trust policy, then the inline VMImportExportRoleForAWSConnector policy. */
export async function fixImportRole(aws: AwsGateway): Promise<string[]> {
  const iam = aws.iam();
  const { trust, permissions } = importRolePolicies();
  const role = await aws.importRole();
  const done: string[] = [];
  if (!role.exists) {
    await iam.send(new CreateRoleCommand({ RoleName: role.roleName, AssumeRolePolicyDocument: JSON.stringify(trust), Description: 'VM Import/Export service role (vm2ec2 connector)' }));
    done.push(`created the IAM role ${role.roleName}`);
  } else if (!trustsVmie(role.trustPolicy)) {
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: role.roleName, PolicyDocument: JSON.stringify(trust) }));
    done.push(`set the trust policy of ${role.roleName}`);
  }
  if (!role.exists || missingImportActions(role.policies).length > 0 || missingImportKmsActions(role.policies).length > 0) {
    await iam.send(new PutRolePolicyCommand({ RoleName: role.roleName, PolicyName: IMPORT_ROLE_POLICY_NAME, PolicyDocument: JSON.stringify(permissions) }));
    done.push(`attached the ${IMPORT_ROLE_POLICY_NAME} policy to ${role.roleName}`);
  }
  return done;
}

// ---------- ESX hosts ----------

/** Names of every ESX host in the vCenter inventory (HostSystem.name, what vCenter connects to). */
export async function listEsxHosts(client: Vim25Client): Promise<string[]> {
  const sc = client.serviceContent;
  if (!sc.viewManager || !sc.rootFolder || !sc.propertyCollector) throw new Error('This vCenter does not provide a ViewManager');
  const view = toMoRef(await client.invoke('CreateContainerView', sc.viewManager, moRefXml('container', sc.rootFolder) + els('type', ['HostSystem']) + el('recursive', true)));
  if (!view) throw new Error('vCenter did not return a ContainerView');
  try {
    const spec = wrap(
      'specSet',
      wrap('propSet', el('type', 'HostSystem') + el('all', false) + el('pathSet', 'name')) +
        wrap(
          'objectSet',
          moRefXml('obj', view) + el('skip', true) + wrap('selectSet', el('name', 'view') + el('type', 'ContainerView') + el('path', 'view') + el('skip', false), 'TraversalSpec'),
        ),
    );
    const names: string[] = [];
    let r = await client.invoke('RetrievePropertiesEx', sc.propertyCollector, spec + wrap('options', ''));
    for (;;) {
      for (const o of arr(child(r, 'objects'))) {
        for (const p of arr(child(o, 'propSet'))) if (str(p, 'name') === 'name') names.push(str(p, 'val') ?? '');
      }
      const token = str(r, 'token');
      if (!token) break;
      r = await client.invoke('ContinueRetrievePropertiesEx', sc.propertyCollector, el('token', token));
    }
    return names.filter((n) => n !== '').sort();
  } finally {
    await client.invoke('DestroyView', view).catch(() => undefined);
  }
}

const isShortName = (name: string): boolean => !isIP(name) && !name.includes('.');
const domainOf = (name: string): string | undefined => (isIP(name) || !name.includes('.') ? undefined : name.slice(name.indexOf('.') + 1));

async function resolves(resolver: Resolver, name: string): Promise<boolean> {
  try {
    return (await resolver(name)).length > 0;
  } catch {
    return false;
  }
}

/** Resolves a host name as the connector does: the name itself, then (short names) each configured suffix. */
export async function resolveHost(name: string, suffixes: readonly string[], resolver: Resolver = systemResolver): Promise<{ name: string; addresses: string[] } | undefined> {
  const candidates = isShortName(name) ? [name, ...suffixes.map((s) => `${name}.${s}`)] : [name];
  for (const candidate of candidates) {
    try {
      const addresses = await resolver(candidate);
      if (addresses.length > 0) return { name: candidate, addresses };
    } catch {
      // try the next suffix
    }
  }
  return undefined;
}

/**
 * "Connector is unable to reach ESX host [hostname]": every host must resolve. For a short name that does not,
 * tries the domains of the other hosts and of vCenter, and tells which suffix would make it resolve.
 */
export async function checkHostNames(
  hosts: readonly string[],
  opts: { searchSuffixes: readonly string[]; resolver?: Resolver; extraDomains?: readonly string[] },
): Promise<Finding[]> {
  const resolver = opts.resolver ?? systemResolver;
  const domains = [...new Set([...hosts.map(domainOf), ...(opts.extraDomains ?? [])].filter((d): d is string => d !== undefined))];
  const out: Finding[] = [];
  for (const host of hosts) {
    const id = `host-name:${host}`;
    const found = await resolveHost(host, opts.searchSuffixes, resolver);
    if (found) {
      out.push({ id, severity: 'ok', fixable: false, title: `ESX host ${host} resolves${found.name !== host ? ` as ${found.name}` : ''} (${found.addresses.join(', ')}).` });
      continue;
    }
    let suggestion: string | undefined;
    if (isShortName(host)) {
      for (const d of domains) {
        if (!opts.searchSuffixes.includes(d) && (await resolves(resolver, `${host}.${d}`))) {
          suggestion = d;
          break;
        }
      }
    }
    out.push({
      id,
      severity: 'error',
      fixable: suggestion !== undefined,
      title: `Connector is unable to reach ESX host ${host}: the name does not resolve${isShortName(host) ? ' (it is not a fully-qualified domain name)' : ''}.`,
      fix: suggestion
        ? `${host}.${suggestion} resolves: add "${suggestion}" to the DNS suffix search list (dns.searchSuffixes in the connector configuration; "vm2ec2 doctor --fix" does it).`
        : `Make ${host} resolvable from the connector machine (DNS or /etc/hosts), or add its domain to dns.searchSuffixes in the connector configuration.`,
      details: suggestion ? { host, suggestedSuffix: suggestion } : { host },
    });
  }
  return out;
}

// ---------- certificates ----------

export interface PeerCertificateResult {
  thumbprintSha256?: string;
  /** Why the certificate is not trusted; undefined when it is. */
  problem?: string;
}

/** Connects to host:port and validates its certificate against the system CAs plus `ca`, host name included. */
export function inspectCertificate(host: string, address: string, port: number, ca: string | undefined, timeoutMs = 10_000): Promise<PeerCertificateResult> {
  return new Promise((resolve) => {
    const socket = tls.connect({
      host: address,
      port,
      ...(isIP(host) ? {} : { servername: host }),
      ...(ca ? { ca: [...tls.rootCertificates, ca] } : {}),
      // Validation is done below (chain + host name) so that an untrusted certificate can be reported with its thumbprint.
      rejectUnauthorized: false,
    });
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    socket.once('error', (err) => resolve({ problem: `cannot connect to ${host}:${port}: ${err.message}` }));
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate();
      socket.end();
      if (!peer?.raw) return resolve({ problem: 'the host presented no certificate' });
      const thumbprintSha256 = new X509Certificate(peer.raw).fingerprint256;
      if (!socket.authorized) return resolve({ thumbprintSha256, problem: `the certificate is not signed by a trusted CA (${String(socket.authorizationError)})` });
      const identity = tls.checkServerIdentity(host, peer);
      if (identity) return resolve({ thumbprintSha256, problem: `the certificate is not issued for ${host} (${identity.message})` });
      resolve({ thumbprintSha256 });
    });
  });
}

/** "Connector can't validate the certificates of the host": validation stays on; one host may be allowed by thumbprint. */
export async function checkHostCertificates(
  hosts: readonly string[],
  opts: {
    config: Pick<ConnectorConfig, 'vcenter' | 'dns' | 'trust'>;
    resolver?: Resolver;
    /** ESX hosts answer on 443; the lab's stand-in hosts share one port. */
    port?: number;
  },
): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const host of hosts) {
    const id = `host-cert:${host}`;
    const resolved = await resolveHost(host, opts.config.dns.searchSuffixes, opts.resolver);
    if (!resolved) continue; // reported by the host-name check
    const result = await inspectCertificate(resolved.name, resolved.addresses[0]!, opts.port ?? 443, opts.config.vcenter.caPem);
    const allowed = opts.config.trust.allowedCertificates.find((a) => a.host.toLowerCase() === host.toLowerCase());
    if (!result.problem) {
      out.push({ id, severity: 'ok', fixable: false, title: `The certificate of ESX host ${host} is valid.` });
    } else if (allowed && result.thumbprintSha256 && allowed.thumbprint.toUpperCase() === result.thumbprintSha256) {
      out.push({
        id,
        severity: 'warning',
        fixable: false,
        title: `The certificate of ESX host ${host} is not validated (${result.problem}); it is accepted because its thumbprint is on the allow list.`,
        fix: `Install a CA-signed certificate on ${host} and remove it from trust.allowedCertificates.`,
        details: { host, thumbprintSha256: result.thumbprintSha256, allowedBy: allowed.addedBy },
      });
    } else {
      const mismatch = allowed ? ` The allow list has ${allowed.thumbprint} for this host, which does not match: the certificate changed.` : '';
      out.push({
        id,
        severity: 'error',
        fixable: false,
        title: `Connector can't validate the certificate of ESX host ${host}: ${result.problem}.${mismatch}`,
        fix: result.thumbprintSha256
          ? `Install a certificate signed by a CA the connector trusts (vcenter.caFile), or, after checking the thumbprint on the host console, allow it: vm2ec2 trust-host --config <file> --host ${host} --thumbprint ${result.thumbprintSha256}`
          : `Check that ${host} answers on port ${opts.port ?? 443} from the connector machine.`,
        details: { host, ...(result.thumbprintSha256 ? { thumbprintSha256: result.thumbprintSha256 } : {}) },
      });
    }
  }
  return out;
}

// ---------- vCenter ----------

/** vCenter answers on /sdk and its certificate validates with the configured CA or thumbprint. */
export async function checkVcenter(config: Pick<ConnectorConfig, 'vcenter'>): Promise<Finding> {
  const sdkUrl = new URL('/sdk', config.vcenter.url).href;
  try {
    const client = await Vim25Client.connect({ sdkUrl, timeoutMs: 15_000, ...(config.vcenter.caPem ? { ca: config.vcenter.caPem } : {}), ...(config.vcenter.thumbprint ? { thumbprint: config.vcenter.thumbprint } : {}) });
    client.close();
    return { id: 'vcenter', severity: 'ok', fixable: false, title: `vCenter ${sdkUrl} answers (${client.about.fullName}) and its certificate is trusted.` };
  } catch (err) {
    const tlsProblem = isTlsTrustFailure(err);
    return {
      id: 'vcenter',
      severity: 'error',
      fixable: false,
      title: `Connector cannot ${tlsProblem ? 'validate the certificate of' : 'reach'} vCenter ${sdkUrl}: ${(err as Error).message}`,
      fix: tlsProblem ? tlsFixHint(err, Boolean(config.vcenter.caPem), Boolean(config.vcenter.thumbprint)) + ' (vcenter.caFile or vcenter.thumbprint)' : 'Check vcenter.url and that the connector machine reaches vCenter on 443.',
    };
  }
}

// ---------- all of it ----------

export interface DoctorOptions {
  config: ConnectorConfig;
  aws: AwsGateway;
  /** A logged-in vCenter client (to list the ESX hosts); without it the host checks are skipped. */
  vcenter?: Vim25Client;
  resolver?: Resolver;
  esxPort?: number;
}

export async function runDoctor(opts: DoctorOptions): Promise<Finding[]> {
  const findings: Finding[] = [await checkVcenter(opts.config)];
  try {
    findings.push(await checkImportRole(opts.aws));
  } catch (err) {
    findings.push({ id: 'import-role', severity: 'error', fixable: false, title: `Cannot check the Import service role: ${(err as Error).message}`, fix: 'Check the connector\'s AWS credentials and that it may call iam:GetRole.' });
  }
  if (opts.vcenter) {
    const hosts = await listEsxHosts(opts.vcenter);
    const vcDomain = domainOf(new URL(opts.config.vcenter.url).hostname);
    findings.push(...(await checkHostNames(hosts, { searchSuffixes: opts.config.dns.searchSuffixes, resolver: opts.resolver, extraDomains: vcDomain ? [vcDomain] : [] })));
    findings.push(...(await checkHostCertificates(hosts, { config: opts.config, resolver: opts.resolver, port: opts.esxPort })));
  }
  return findings;
}

export function formatFindings(findings: readonly Finding[]): string {
  const mark = { ok: 'OK  ', warning: 'WARN', error: 'FAIL' } as const;
  return findings.map((f) => `[${mark[f.severity]}] ${f.title}${f.severity !== 'ok' && f.fix ? `\n       ${f.fix}` : ''}`).join('\n') + '\n';
}
