import type { PluginDto } from '../../api-types.ts';
import { testIds } from '../../test-ids.ts';
import { Icon } from './Icon.tsx';

/** The alert under the header naming each plugin that was not loaded, and why; nothing when all loaded. */
export function PluginErrors({ broken }: { broken: PluginDto[] }) {
  if (!broken.length) return null;
  return (
    <div className="alert alert-danger vsc-plugin-errors" role="alert" data-test={testIds.pluginErrors.alert}>
      <div className="alert-items">
        {broken.map((p) => (
          <div key={p.instanceId} className="alert-item static" data-test={testIds.pluginErrors.item(p.key)}>
            <div className="alert-icon-wrapper">
              <Icon shape="error-standard" className="alert-icon" />
            </div>
            <div className="alert-text">
              Plugin {p.key} {p.version} was not loaded ({p.manifestUrl}):
              <ul className="vsc-error-list">
                {p.errors.map((e) => (
                  <li key={e}>{e}</li>
                ))}
              </ul>
            </div>
          </div>
        ))}
      </div>
    </div>
  );
}
