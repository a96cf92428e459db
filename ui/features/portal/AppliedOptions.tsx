import type { AppliedImportOptions } from '../../../connector/contract/index.ts';
import type { Translate } from '../../i18n/i18n.ts';
import { testIds } from '../../testIds.ts';

/** AWS's own words for the licence, when it reports one we know; anything else is shown as AWS wrote it. */
function licenseText(a: AppliedImportOptions, t: Translate): string | undefined {
  if (a.licenseType === undefined) return undefined;
  const name = a.licenseType === 'AWS' || a.licenseType === 'BYOL' ? t(`migrate.license.${a.licenseType}`) : a.licenseType;
  return a.usageOperation ? t('applied.licenseValue', { license: name, usage: a.usageOperation }) : name;
}

function encryptionText(a: AppliedImportOptions, t: Translate): string | undefined {
  if (a.encrypted === undefined) return undefined;
  if (!a.encrypted) return t('applied.notEncrypted');
  return a.kmsKeyId ? t('applied.encryptedWith', { key: a.kmsKeyId }) : t('applied.encrypted');
}

/** The connector's own bookkeeping tags (task, source VM, environment): not what the user or administrator chose. */
const ownTag = (key: string) => key.startsWith('vm2ec2:') || key.startsWith('aws-management-portal/');

/**
 * Licence type, encryption key, boot mode and tags as AWS reports them (read back after the import and launch),
 * one fact a line, as name/value pairs: the migration's row detail and the instance's Summary use the same words.
 */
export function appliedFacts(a: AppliedImportOptions, t: Translate): { id: string; label: string; value: string }[] {
  const tags = (a.tags ?? []).filter((x) => !ownTag(x.key));
  const facts: { id: string; label: string; value: string | undefined }[] = [
    { id: 'license', label: t('applied.license'), value: licenseText(a, t) },
    { id: 'encryption', label: t('applied.encryption'), value: encryptionText(a, t) },
    { id: 'boot-mode', label: t('applied.bootMode'), value: a.bootMode ? t(`migrate.bootMode.${a.bootMode}`) : undefined },
    { id: 'tags', label: t('applied.tags'), value: tags.length ? tags.map((x) => `${x.key}=${x.value}`).join(', ') : undefined },
  ];
  return facts.filter((f): f is { id: string; label: string; value: string } => f.value !== undefined);
}

/** The facts as a list, for a grid cell or its row detail. */
export function AppliedList({ applied, pending, t }: { applied: AppliedImportOptions | undefined; pending: boolean; t: Translate }) {
  if (!applied) return pending ? <span className="vsp-muted">{t('migrations.applied.pending')}</span> : <>{t('common.none')}</>;
  return (
    <ul className="vsp-checks vsp-applied">
      {appliedFacts(applied, t).map((f) => (
        <li key={f.id} data-test={testIds.portal.applied(f.id)}>
          {f.label}: <span className={f.id === 'encryption' || f.id === 'tags' ? 'vsp-id vsp-break' : undefined}>{f.value}</span>
        </li>
      ))}
    </ul>
  );
}
