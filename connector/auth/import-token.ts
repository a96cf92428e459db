import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { AppError } from '../errors.ts';
import type { Store } from '../store/index.ts';
import { IMPORT_TOKEN_ALG, loadOrCreateSigningKey, type SigningKey } from './signing-key.ts';

export const IMPORT_TOKEN_TYPE = 'vm2ec2-import+jwt';
const CONNECTOR_ID_SETTING = 'connector.id';

export interface ImportTokenBinding {
  /** Normalized vCenter user name. */
  user: string;
  environmentId: string;
  vmId: string;
}

export interface ImportTokenClaims extends ImportTokenBinding {
  jti: string;
  expiresAt: Date;
}

export interface ImportTokenOptions {
  dataDir: string;
  ttlSeconds: number;
  store: Store;
  now?: () => Date;
}

const alreadyUsed = () =>
  new AppError(409, 'TOKEN_ALREADY_USED', 'This import authorization was already used: each one starts one migration. Start the migration again from the vSphere Client.');

/**
 * Seed "VM Import Authorization": the portal signs a token that lets exactly one user import exactly one VM into
 * exactly one environment through this connector (audience), within minutes, once (the jti is recorded on use).
 */
export class ImportTokenService {
  private state: Promise<{ key: SigningKey; issuer: string; audience: string }> | undefined;
  private readonly now: () => Date;

  constructor(private readonly opts: ImportTokenOptions) {
    this.now = opts.now ?? (() => new Date());
  }

  /** The audience a token must name: this connector. */
  async audience(): Promise<string> {
    return (await this.load()).audience;
  }

  async issue(binding: ImportTokenBinding): Promise<{ token: string; expiresAt: Date; jti: string }> {
    const { key, issuer, audience } = await this.load();
    const iat = Math.floor(this.now().getTime() / 1000);
    const exp = iat + this.opts.ttlSeconds;
    const jti = randomUUID();
    const token = await new SignJWT({ env: binding.environmentId, vm: binding.vmId })
      .setProtectedHeader({ alg: IMPORT_TOKEN_ALG, kid: key.kid, typ: IMPORT_TOKEN_TYPE })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(binding.user)
      .setJti(jti)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(key.privateKey);
    // Used ids are only needed until their tokens expire.
    await this.opts.store.usedTokens.purgeExpired(this.now());
    return { token, expiresAt: new Date(exp * 1000), jti };
  }

  /**
   * Checks signature, type, issuer, audience and expiry, then that the token was issued for this very
   * request, then records its id so it cannot be presented again. Throws AppError with a TOKEN_* code.
   */
  async redeem(token: string, expected: ImportTokenBinding): Promise<ImportTokenClaims> {
    const claims = await this.check(token, expected);
    await this.consume(claims);
    return claims;
  }

  /** redeem() without using the token up: a wave checks every row's token before it decides to create anything. */
  async check(token: string, expected: ImportTokenBinding): Promise<ImportTokenClaims> {
    const claims = await this.verify(token);
    const mismatched = (['user', 'environmentId', 'vmId'] as const).filter((k) => claims[k] !== expected[k]);
    if (mismatched.length > 0) {
      throw new AppError(
        403,
        'TOKEN_MISMATCH',
        `The import authorization was issued for a different ${mismatched.map((k) => ({ user: 'user', environmentId: 'environment', vmId: 'virtual machine' })[k]).join(' and ')}. Start the migration again from the vSphere Client.`,
        { mismatched },
      );
    }
    return claims;
  }

  /** Records the token's id: 409 TOKEN_ALREADY_USED when it was presented before. */
  async consume(claims: ImportTokenClaims): Promise<void> {
    const first = await this.opts.store.usedTokens.consume(claims.jti, claims.expiresAt);
    if (!first) throw alreadyUsed();
  }

  private async verify(token: string): Promise<ImportTokenClaims> {
    const { key, issuer, audience } = await this.load();
    try {
      const { payload } = await jwtVerify(token, key.publicKey, {
        algorithms: [IMPORT_TOKEN_ALG],
        typ: IMPORT_TOKEN_TYPE,
        issuer,
        audience,
        // No leeway: this connector issues and checks its tokens on one clock, so expiresAt is exact.
        clockTolerance: 0,
        currentDate: this.now(),
        requiredClaims: ['sub', 'jti', 'exp', 'iat'],
      });
      const { sub, jti, exp, env, vm } = payload;
      if (typeof sub !== 'string' || typeof jti !== 'string' || typeof exp !== 'number' || typeof env !== 'string' || typeof vm !== 'string') {
        throw new joseErrors.JWTInvalid('claims of the wrong type');
      }
      return { user: sub, environmentId: env, vmId: vm, jti, expiresAt: new Date(exp * 1000) };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) {
        throw new AppError(
          403,
          'TOKEN_EXPIRED',
          `The import authorization has expired (it is valid for ${Math.round(this.opts.ttlSeconds / 60) || 1} minutes). Start the migration again from the vSphere Client.`,
        );
      }
      if (err instanceof joseErrors.JOSEError) {
        throw new AppError(
          403,
          'TOKEN_INVALID',
          'The import authorization is not valid: this connector did not issue it, or it was altered. Start the migration again from the vSphere Client.',
        );
      }
      throw err;
    }
  }

  private load() {
    this.state ??= (async () => {
      const key = await loadOrCreateSigningKey(this.opts.dataDir).catch((err: unknown) => {
        const reason = (err as { code?: string }).code ?? (err as Error).message;
        throw new AppError(
          503,
          'STORE_UNAVAILABLE',
          `The connector cannot read or create its import-token key in ${this.opts.dataDir}: ${reason}. Check that the data directory is writable by the connector's user.`,
        );
      });
      const id = await this.opts.store.settings.getOrInit(CONNECTOR_ID_SETTING, randomUUID());
      return { key, issuer: `urn:vm2ec2:portal:${id}`, audience: `urn:vm2ec2:connector:${id}` };
    })().catch((err: unknown) => {
      this.state = undefined;
      throw err;
    });
    return this.state;
  }
}
