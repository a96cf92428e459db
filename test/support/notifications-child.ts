// A delivery worker in its own process, so a test can SIGKILL it mid-send: the notification service on a store file,
// configured by NOTIFY_FILE and NOTIFY_OPTIONS (JSON of the connector's `notifications` configuration).
import { ConnectorConfig } from '../../connector/config.ts';
import { NotificationService } from '../../connector/notifications/service.ts';
import { NotificationStore } from '../../connector/notifications/store.ts';
import { exportTasksOn, migrationTasksOn } from '../../connector/store/task-repositories.ts';

const config = ConnectorConfig.parse({ vcenter: { url: 'https://vcenter.invalid' }, notifications: JSON.parse(process.env.NOTIFY_OPTIONS ?? '{}') as unknown });
const file = process.env.NOTIFY_FILE!;
const swept = { migrations: migrationTasksOn({ kind: 'sqlite', file: file }), exports: exportTasksOn({ kind: 'sqlite', file: file }) };
const service = new NotificationService(new NotificationStore(file), swept, config.notifications, (m) => process.stderr.write(`${m}\n`));
await service.start();
process.stdout.write('ready\n');
setInterval(() => undefined, 60_000);
