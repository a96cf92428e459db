import type { AxiosInstance } from 'axios';
import type { infer as Infer } from 'zod';
import type {
  ReturnSourceRef,
  AuditPage,
  RollbackRequest,
  AuditQuery,
  BandwidthSettingInput,
  BandwidthSettingView,
  FleetConnectorList,
  BootMode,
  ConnectorStatus,
  Environment,
  EnvironmentInput,
  EnvironmentList,
  EnvironmentPermissions,
  EnvironmentPermissionsInput,
  ExportList,
  ExportRequest,
  ExportTask,
  ImportedInstance,
  InstanceBackup,
  InstanceExportSettings,
  InstanceExportSettingsView,
  InstanceList,
  ImportAuthorization,
  ImportAuthorizationRequest,
  InstanceTypeList,
  KmsKeyList,
  Me,
  MigrationAccepted,
  MigrationList,
  MigrationListQuery,
  MigrationRequest,
  MigrationTask,
  NotificationDelivery,
  NotificationDeliveryLog,
  NotificationTargetCreated,
  NotificationTargetInput,
  NotificationTargetList,
  PreflightQuery,
  PreflightResult,
  RegionList,
  ReturnChoices,
  ReturnList,
  ReturnPreflight,
  ReturnRequestInput,
  ReturnTask,
  SecurityGroupList,
  SubnetList,
  VmDetail,
  VmMigrateAccess,
  VpcList,
  WarmTestRequest,
  Wave,
  WaveCreateInput,
  WaveList,
  WaveListQuery,
} from '../../connector/contract/index.ts';

const enc = encodeURIComponent;

/** Typed calls to the connector; request and response types come from its contract. */
export function createApi(http: AxiosInstance) {
  return {
    me: async (): Promise<Me> => (await http.get<Me>('/me')).data,
    vm: async (vmId: string): Promise<VmDetail> => (await http.get<VmDetail>(`/vms/${enc(vmId)}`)).data,
    migrateAccess: async (vmId: string): Promise<VmMigrateAccess> => (await http.get<VmMigrateAccess>(`/vms/${enc(vmId)}/migrate-access`)).data,
    preflight: async (vmId: string, q: PreflightQuery): Promise<PreflightResult> =>
      (await http.get<PreflightResult>(`/vms/${enc(vmId)}/preflight`, { params: q })).data,

    regions: async (): Promise<RegionList> => (await http.get<RegionList>('/regions')).data,
    regionVpcs: async (region: string): Promise<VpcList> => (await http.get<VpcList>(`/regions/${enc(region)}/vpcs`)).data,
    regionSubnets: async (region: string, vpcId: string): Promise<SubnetList> =>
      (await http.get<SubnetList>(`/regions/${enc(region)}/subnets`, { params: { vpcId } })).data,
    regionSecurityGroups: async (region: string, vpcId: string): Promise<SecurityGroupList> =>
      (await http.get<SecurityGroupList>(`/regions/${enc(region)}/security-groups`, { params: { vpcId } })).data,

    environments: async (): Promise<EnvironmentList> => (await http.get<EnvironmentList>('/environments')).data,
    createEnvironment: async (body: EnvironmentInput): Promise<Environment> => (await http.post<Environment>('/environments', body)).data,
    updateEnvironment: async (id: string, body: EnvironmentInput): Promise<Environment> =>
      (await http.put<Environment>(`/environments/${enc(id)}`, body)).data,
    permissions: async (id: string): Promise<EnvironmentPermissions> =>
      (await http.get<EnvironmentPermissions>(`/environments/${enc(id)}/permissions`)).data,
    setPermissions: async (id: string, body: EnvironmentPermissionsInput): Promise<EnvironmentPermissions> =>
      (await http.put<EnvironmentPermissions>(`/environments/${enc(id)}/permissions`, body)).data,
    subnets: async (envId: string): Promise<SubnetList> => (await http.get<SubnetList>(`/environments/${enc(envId)}/subnets`)).data,
    securityGroups: async (envId: string): Promise<SecurityGroupList> =>
      (await http.get<SecurityGroupList>(`/environments/${enc(envId)}/security-groups`)).data,
    /** bootMode uefi: only the types that can boot a UEFI guest. */
    instanceTypes: async (envId: string, bootMode?: BootMode): Promise<InstanceTypeList> =>
      (await http.get<InstanceTypeList>(`/environments/${enc(envId)}/instance-types`, { params: { bootMode } })).data,
    kmsKeys: async (envId: string): Promise<KmsKeyList> => (await http.get<KmsKeyList>(`/environments/${enc(envId)}/kms-keys`)).data,

    authorizeImport: async (body: ImportAuthorizationRequest): Promise<ImportAuthorization> =>
      (await http.post<ImportAuthorization>('/import-authorizations', body)).data,
    startMigration: async (body: MigrationRequest): Promise<MigrationAccepted> => (await http.post<MigrationAccepted>('/migrations', body)).data,
    migrations: async (q: Partial<MigrationListQuery>): Promise<MigrationList> => (await http.get<MigrationList>('/migrations', { params: q })).data,
    // Path assumed from the engine's plan (issue 4); its route had not landed when this was written.
    cancelMigration: async (id: string): Promise<MigrationTask> => (await http.post<MigrationTask>(`/migrations/${enc(id)}/cancel`)).data,
    // Warm migrations: a test instance from the latest replicated point, then the cutover (Stop replication is cancel).
    launchTestInstance: async (id: string, body: WarmTestRequest): Promise<MigrationTask> =>
      (await http.post<MigrationTask>(`/migrations/${enc(id)}/test-instance`, body)).data,
    finishTestInstance: async (id: string): Promise<MigrationTask> => (await http.post<MigrationTask>(`/migrations/${enc(id)}/test-instance/finish`)).data,
    cutOver: async (id: string): Promise<MigrationTask> => (await http.post<MigrationTask>(`/migrations/${enc(id)}/cutover`)).data,
    // Roll back a completed migration (issue 16): instance stopped or terminated, source VM powered on.
    rollBack: async (id: string, body: RollbackRequest): Promise<MigrationTask> => (await http.post<MigrationTask>(`/migrations/${enc(id)}/rollback`, body)).data,
    // Resume replication of a rolled-back warm migration: the new warm migration (202).
    resumeReplication: async (id: string): Promise<MigrationTask> => (await http.post<MigrationTask>(`/migrations/${enc(id)}/resume-replication`)).data,

    // Waves (issue 14): many VMs as one planned unit.
    createWave: async (body: WaveCreateInput): Promise<Wave> => (await http.post<Wave>('/waves', body)).data,
    waves: async (q: Partial<WaveListQuery>): Promise<WaveList> => (await http.get<WaveList>('/waves', { params: q })).data,
    cancelWave: async (id: string): Promise<Wave> => (await http.post<Wave>(`/waves/${enc(id)}/cancel`)).data,

    instances: async (environmentId: string): Promise<Infer<typeof InstanceList>> =>
      (await http.get<Infer<typeof InstanceList>>('/instances', { params: { environmentId } })).data,
    instanceAction: async (id: string, action: 'start' | 'stop', environmentId: string): Promise<ImportedInstance> =>
      (await http.post<ImportedInstance>(`/instances/${enc(id)}/${action}`, undefined, { params: { environmentId } })).data,
    backupInstance: async (id: string, environmentId: string): Promise<Infer<typeof InstanceBackup>> =>
      (await http.post<Infer<typeof InstanceBackup>>(`/instances/${enc(id)}/backup`, undefined, { params: { environmentId } })).data,
    exports: async (days = 7): Promise<Infer<typeof ExportList>> => (await http.get<Infer<typeof ExportList>>('/exports', { params: { days } })).data,
    startExport: async (body: Infer<typeof ExportRequest>): Promise<ExportTask> => (await http.post<ExportTask>('/exports', body)).data,
    cancelExport: async (id: string): Promise<ExportTask> => (await http.post<ExportTask>(`/exports/${enc(id)}/cancel`)).data,
    // Bring back to vCenter (issue 16): a completed export's OVA imported as a new VM.
    returnChoices: async (source: ReturnSourceRef): Promise<ReturnChoices> => (await http.get<ReturnChoices>('/returns/choices', { params: source })).data,
    returnPreflight: async (body: ReturnRequestInput): Promise<ReturnPreflight> => (await http.post<ReturnPreflight>('/returns/preflight', body)).data,
    startReturn: async (body: ReturnRequestInput): Promise<ReturnTask> => (await http.post<ReturnTask>('/returns', body)).data,
    returns: async (): Promise<ReturnList> => (await http.get<ReturnList>('/returns', { params: { limit: 200 } })).data,
    cancelReturn: async (id: string): Promise<ReturnTask> => (await http.post<ReturnTask>(`/returns/${enc(id)}/cancel`)).data,
    exportSettings: async (): Promise<Infer<typeof InstanceExportSettingsView>> =>
      (await http.get<Infer<typeof InstanceExportSettingsView>>('/settings/instance-export')).data,
    setExportSettings: async (body: Infer<typeof InstanceExportSettings>): Promise<Infer<typeof InstanceExportSettingsView>> =>
      (await http.put<Infer<typeof InstanceExportSettingsView>>('/settings/instance-export', body)).data,
    connectorStatus: async (): Promise<ConnectorStatus> => (await http.get<ConnectorStatus>('/connector/status')).data,
    fleetConnectors: async (): Promise<FleetConnectorList> => (await http.get<FleetConnectorList>('/fleet/connectors')).data,
    connectorBandwidth: async (id: string): Promise<BandwidthSettingView> => (await http.get<BandwidthSettingView>(`/fleet/connectors/${enc(id)}/bandwidth`)).data,
    setConnectorBandwidth: async (id: string, body: BandwidthSettingInput): Promise<BandwidthSettingView> =>
      (await http.put<BandwidthSettingView>(`/fleet/connectors/${enc(id)}/bandwidth`, body)).data,
    audit: async (q: Partial<AuditQuery>): Promise<AuditPage> => (await http.get<AuditPage>('/audit', { params: q })).data,
    notificationTargets: async (): Promise<NotificationTargetList> => (await http.get<NotificationTargetList>('/notifications/targets')).data,
    createNotificationTarget: async (body: NotificationTargetInput): Promise<Infer<typeof NotificationTargetCreated>> =>
      (await http.post<Infer<typeof NotificationTargetCreated>>('/notifications/targets', body)).data,
    deleteNotificationTarget: async (id: string): Promise<void> => void (await http.delete(`/notifications/targets/${enc(id)}`)),
    testNotificationTarget: async (id: string): Promise<NotificationDelivery> => (await http.post<NotificationDelivery>(`/notifications/targets/${enc(id)}/test`)).data,
    notificationDeliveries: async (id: string): Promise<Infer<typeof NotificationDeliveryLog>> =>
      (await http.get<Infer<typeof NotificationDeliveryLog>>(`/notifications/targets/${enc(id)}/deliveries`)).data,
  };
}
export type Api = ReturnType<typeof createApi>;

