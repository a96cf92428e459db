import { ensureVcsimBuilt } from '../lab/vcsim/build.ts';
import { ensureClientAssets } from '../lab/vsphere-client/build.ts';

/**
 * Build what the lab needs once, before any test file starts a lab: test files run in parallel and would
 * otherwise race to build the same vcsim binary and bundles (a cold Go build takes a minute on 2 cores).
 */
export default async function setup(): Promise<void> {
  await ensureVcsimBuilt();
  await ensureClientAssets();
}
