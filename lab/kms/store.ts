// The lab's KMS keys and aliases, per region, with the seeded keys every lab run has (same ids every run).
import { createHash } from 'node:crypto';
import { AwsServiceError } from '../aws-http.ts';

export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion';
export type KeySpec = 'SYMMETRIC_DEFAULT' | 'RSA_2048' | 'RSA_3072' | 'ECC_NIST_P256';
export type KeyUsage = 'ENCRYPT_DECRYPT' | 'SIGN_VERIFY';

export interface KmsKey {
  id: string;
  arn: string;
  region: string;
  description: string;
  keySpec: KeySpec;
  keyUsage: KeyUsage;
  keyManager: 'AWS' | 'CUSTOMER';
  state: KeyState;
  creationDate: number;
  /** Set while PendingDeletion. */
  deletionDate?: number;
  pendingWindowInDays?: number;
  /** The key policy (KMS keys have exactly one, named "default"). */
  policy: string;
}

export interface KmsAlias {
  name: string;
  arn: string;
  /** AWS-managed aliases are listed before their key exists; they have no target then. */
  targetKeyId?: string;
  creationDate: number;
}

/** An error in KMS's JSON error shape. */
export class KmsError extends AwsServiceError {}

/** The aliases of the seeded lab keys, in every region. */
export const LAB_KMS_ALIASES = {
  /** AWS-managed key for EBS (the default key of encrypted imports). */
  awsEbs: 'alias/aws/ebs',
  /** Enabled symmetric customer key whose policy lets the vmimport role use it. */
  usable: 'alias/vm2ec2-lab',
  /** Enabled symmetric customer key whose policy does not let the vmimport role use it. */
  notForVmimport: 'alias/vm2ec2-lab-app-team',
  /** Disabled customer key. */
  disabled: 'alias/vm2ec2-lab-disabled',
  /** Asymmetric (RSA_2048) customer key: EBS cannot use it. */
  asymmetric: 'alias/vm2ec2-lab-rsa',
  /** Customer key pending deletion. */
  pendingDeletion: 'alias/vm2ec2-lab-retired',
} as const;

/** The key usage a VM Import role needs (VM Import/Export user guide, required service role). */
export const VMIMPORT_KMS_ACTIONS = ['kms:CreateGrant', 'kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:ReEncryptFrom'];

const DAY = 24 * 3600 * 1000;

/** A stable key id (UUID shape) per region and label. */
function seededKeyId(region: string, label: string): string {
  const h = createHash('sha256').update(`kms/${region}/${label}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function policy(statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Id: 'key-default-1', Statement: statements }, null, 2);
}

const USE_ACTIONS = ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant', 'kms:DescribeKey'];

/** What a key created in the console gets, plus a statement for the vmimport role. */
function customerPolicy(accountId: string, vmimport: boolean): string {
  const root = { Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: 'kms:*', Resource: '*' };
  const role = { Sid: 'Allow VM Import/Export to use the key', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:role/vmimport` }, Action: USE_ACTIONS, Resource: '*' };
  return policy(vmimport ? [root, role] : [root]);
}

/** No account-wide delegation: only the app team's role may use it, the account may only read its metadata. */
function appTeamPolicy(accountId: string): string {
  return policy([
    { Sid: 'Allow key metadata to the account', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: ['kms:Describe*', 'kms:Get*', 'kms:List*'], Resource: '*' },
    { Sid: 'Allow the app team to use the key', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:role/app-team` }, Action: USE_ACTIONS, Resource: '*' },
    { Sid: 'Allow key administrators', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:role/KeyAdmins` }, Action: 'kms:*', Resource: '*' },
  ]);
}

/** The shape of the policy AWS gives its managed EBS key. */
function awsEbsPolicy(accountId: string, region: string): string {
  return policy([
    {
      Sid: 'Allow access through EBS for all principals in the account that are authorized to use EBS',
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: USE_ACTIONS,
      Resource: '*',
      Condition: { StringEquals: { 'kms:CallerAccount': accountId, 'kms:ViaService': `ec2.${region}.amazonaws.com` } },
    },
    { Sid: 'Allow direct access to key metadata to the account', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${accountId}:root` }, Action: ['kms:Describe*', 'kms:Get*', 'kms:List*', 'kms:RevokeGrant'], Resource: '*' },
  ]);
}

interface RegionKeys {
  keys: Map<string, KmsKey>;
  aliases: Map<string, KmsAlias>;
}

export class KmsStore {
  private readonly regions = new Map<string, RegionKeys>();

  constructor(
    readonly accountId: string,
    regionNames: readonly string[],
    now: number,
  ) {
    for (const r of regionNames) this.regions.set(r, this.seed(r, now));
  }

  private seed(region: string, now: number): RegionKeys {
    const keys = new Map<string, KmsKey>();
    const aliases = new Map<string, KmsAlias>();
    const created = now - 30 * DAY;
    const add = (label: string, alias: string, init: Partial<KmsKey> & Pick<KmsKey, 'description'>) => {
      const id = seededKeyId(region, label);
      keys.set(id, {
        id,
        arn: `arn:aws:kms:${region}:${this.accountId}:key/${id}`,
        region,
        keySpec: 'SYMMETRIC_DEFAULT',
        keyUsage: 'ENCRYPT_DECRYPT',
        keyManager: 'CUSTOMER',
        state: 'Enabled',
        creationDate: created,
        policy: customerPolicy(this.accountId, true),
        ...init,
      });
      aliases.set(alias, { name: alias, arn: this.aliasArn(region, alias), targetKeyId: id, creationDate: created });
    };
    add('aws/ebs', LAB_KMS_ALIASES.awsEbs, {
      description: 'Default key that protects my EBS volumes when no other key is defined',
      keyManager: 'AWS',
      policy: awsEbsPolicy(this.accountId, region),
    });
    add('vm2ec2-lab', LAB_KMS_ALIASES.usable, { description: 'vm2ec2 lab: migrated volumes (usable by vmimport)' });
    add('app-team', LAB_KMS_ALIASES.notForVmimport, { description: 'vm2ec2 lab: app team key (its policy does not allow vmimport)', policy: appTeamPolicy(this.accountId) });
    add('disabled', LAB_KMS_ALIASES.disabled, { description: 'vm2ec2 lab: disabled key', state: 'Disabled' });
    add('rsa', LAB_KMS_ALIASES.asymmetric, { description: 'vm2ec2 lab: asymmetric RSA key', keySpec: 'RSA_2048' });
    add('retired', LAB_KMS_ALIASES.pendingDeletion, {
      description: 'vm2ec2 lab: key pending deletion',
      state: 'PendingDeletion',
      deletionDate: now + 7 * DAY,
      pendingWindowInDays: 7,
    });
    // AWS lists its managed aliases before their key is first used: no TargetKeyId then.
    aliases.set('alias/aws/s3', { name: 'alias/aws/s3', arn: this.aliasArn(region, 'alias/aws/s3'), creationDate: created });
    return { keys, aliases };
  }

  aliasArn(region: string, alias: string): string {
    return `arn:aws:kms:${region}:${this.accountId}:${alias}`;
  }

  private regionKeys(region: string): RegionKeys {
    const r = this.regions.get(region);
    if (!r) throw new KmsError('UnrecognizedClientException', `The lab KMS emulator does not serve region '${region}'.`);
    return r;
  }

  has(region: string): boolean {
    return this.regions.has(region);
  }

  keys(region: string): KmsKey[] {
    return [...this.regionKeys(region).keys.values()];
  }

  aliases(region: string): KmsAlias[] {
    return [...this.regionKeys(region).aliases.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /**
   * A key by key id, key ARN, alias name or alias ARN, as KMS resolves KeyId parameters. `allowAlias: false` for
   * operations that take only a key id or key ARN (GetKeyPolicy).
   */
  resolve(region: string, ref: string, allowAlias = true): KmsKey {
    const { keys, aliases } = this.regionKeys(region);
    const arn = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(key\/.+|alias\/.+)$/.exec(ref);
    if (ref.startsWith('arn:') && !arn) throw new KmsError('InvalidArnException', `${ref} is not a valid KMS key ARN or alias ARN.`);
    const resource = arn ? (arn[3] ?? '') : ref;
    const elsewhere = arn !== null && (arn[1] !== region || arn[2] !== this.accountId);
    if (resource.startsWith('alias/')) {
      const aliasArn = arn ? ref : this.aliasArn(region, resource);
      if (!allowAlias) throw new KmsError('NotFoundException', `Invalid keyId '${ref}': this operation takes a key ID or key ARN, not an alias.`);
      const alias = elsewhere ? undefined : aliases.get(resource);
      const key = alias?.targetKeyId === undefined ? undefined : keys.get(alias.targetKeyId);
      if (!key) throw new KmsError('NotFoundException', `Alias ${aliasArn} is not found.`);
      return key;
    }
    const id = resource.replace(/^key\//, '');
    if (!/^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/.test(id)) {
      throw new KmsError('NotFoundException', `Invalid keyId '${ref}'`);
    }
    const key = elsewhere ? undefined : keys.get(id);
    if (!key) throw new KmsError('NotFoundException', `Key '${arn ? ref : `arn:aws:kms:${region}:${this.accountId}:key/${id}`}' does not exist`);
    return key;
  }

  /** Lab/test helper: put a key into a state without going through the API. */
  setKeyState(region: string, ref: string, state: KeyState, now: number): KmsKey {
    const key = this.resolve(region, ref);
    key.state = state;
    if (state === 'PendingDeletion') {
      key.pendingWindowInDays ??= 30;
      key.deletionDate = now + key.pendingWindowInDays * DAY;
    } else {
      key.deletionDate = undefined;
      key.pendingWindowInDays = undefined;
    }
    return key;
  }

  /** Keys whose deletion date passed are gone, with their aliases (as KMS deletes them). */
  expire(now: number): void {
    for (const { keys, aliases } of this.regions.values()) {
      for (const key of keys.values()) {
        if (key.state !== 'PendingDeletion' || key.deletionDate === undefined || key.deletionDate > now) continue;
        keys.delete(key.id);
        for (const a of aliases.values()) if (a.targetKeyId === key.id) aliases.delete(a.name);
      }
    }
  }
}
