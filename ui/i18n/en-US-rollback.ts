// English strings of Roll back on a completed migration's row (issue 16); merged into en-US.ts. vSphere words for the
// VM (Power On), EC2's for the instance (Stop, Terminate).
export const enUSRollback = {
  'rollback.action': 'Roll back',
  'rollback.actionsOf': 'Actions of migration task {id}',
  'rollback.rule': 'Stops the EC2 instance and powers on the source VM. Needs permission to migrate this VM into this environment and, in vCenter, to power it on.',
  'rollback.until': 'Possible until {until}.',
  'rollback.title': 'Roll back migration',
  'rollback.intro': 'Roll back migration {id} of {vm}? This will:',
  'rollback.step.stop': 'Stop the EC2 instance {instance} in {region}. It can be started again from Imported Instances.',
  'rollback.step.terminate': 'Terminate the EC2 instance {instance} in {region}. A terminated instance is deleted and cannot be started again.',
  'rollback.step.powerOn': 'Power on the virtual machine {vm} in vCenter.',
  'rollback.step.record': 'Record the rollback on this migration and in the audit log, and post an event on the VM. A migration can be rolled back once.',
  'rollback.terminate': 'Terminate the instance instead of stopping it',
  'rollback.confirm': 'Roll back',
  'rollback.working': 'Rolling back…',
  'rollback.done': 'Rolled back by {by}: instance {action}, VM powered on.',
  'rollback.inProgress': 'Rolling back (requested by {by}).',
  'rollback.failed': 'Rollback failed: {error}',
  'rollback.action.stop': 'stopped',
  'rollback.action.terminate': 'terminated',
} as const;
