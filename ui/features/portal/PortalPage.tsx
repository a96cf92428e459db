import { useQuery, queryOptions } from '@tanstack/react-query';
import { useApi } from '../../api/ApiContext.tsx';
import type { Api } from '../../api/client.ts';
import { useT } from '../../i18n/i18n.ts';
import { ApiErrorAlert } from '../../kit/ApiErrorAlert.tsx';
import { Spinner } from '../../kit/Spinner.tsx';
import { testIds } from '../../testIds.ts';

export const meQuery = (api: Api) => queryOptions({ queryKey: ['me'] as const, queryFn: () => api.me(), staleTime: 60_000 });

/** The global view "AWS Management Portal". */
export function PortalPage() {
  const api = useApi();
  const t = useT();
  const me = useQuery(meQuery(api));
  return (
    <div className="vsp-page" data-test={testIds.portal.page}>
      <h2>{t('portal.title')}</h2>
      {me.isPending && <Spinner label={t('app.loading')} />}
      {me.isError && <ApiErrorAlert error={me.error} />}
      {me.data && <p data-test={testIds.portal.user}>{t('portal.signedInAs', { user: me.data.userName })}</p>}
    </div>
  );
}
