import { GetRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IMPORT_ROLE_POLICY_NAME } from '../../connector/aws/vmimport-role.ts';
import { API_PREFIX } from '../../connector/contract/index.ts';
import { labAwsCredentials, startLab, type LabHandle } from '../../lab/index.ts';
import { httpsJson } from '../support/api-lab.ts';

// The lab as `npm start` runs it (minus the UI build): every piece up, the vmimport role prepared.
let lab: LabHandle;
beforeAll(async () => {
  lab = await startLab({ stageMs: 50, buildUi: false, importRoleReady: true });
});
afterAll(async () => lab?.stop());

describe('npm start lab', () => {
  it('prepares the vmimport role as an AWS administrator would', async () => {
    const iam = new IAMClient({ endpoint: lab.ec2Url, region: 'us-east-1', credentials: labAwsCredentials() });
    try {
      const policy = await iam.send(new GetRolePolicyCommand({ RoleName: 'vmimport', PolicyName: IMPORT_ROLE_POLICY_NAME }));
      expect(decodeURIComponent(policy.PolicyDocument ?? '')).toContain('s3:GetObject');
    } finally {
      iam.destroy();
    }
  });

  it('lets a lab user reach the connector through the stand-in, with the vCenter identity the stand-in issued', async () => {
    const token = await lab.pluginSessionToken('operator@vsphere.local');
    const me = await httpsJson<{ userName: string; isAdministrator: boolean }>(`${lab.connector.origin}${API_PREFIX}/me`, {
      ca: lab.connector.certPem,
      headers: { 'vmware-api-session-id': token },
    });
    expect(me.status).toBe(200);
    expect(me.body).toEqual({ userName: 'operator@vsphere.local', isAdministrator: false });
  });
});
