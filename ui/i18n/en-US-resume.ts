// English strings of Resume replication on a rolled-back warm migration (issue 16); merged into en-US.ts. The same
// words as the migration form ("Replicate, then cut over") and the replication facts ("Full sync: …").
export const enUSResume = {
  'resume.action': 'Resume replication',
  'resume.rule': 'Starts replicating this VM again from its last replicated point. Needs permission to migrate this VM into this environment.',
  'resume.offer': 'The source VM runs again.',
  'resume.title': 'Resume replication',
  'resume.intro': 'Resume replication of {vm}? This starts a new Replicate, then cut over migration of {vm} with the choices of migration {id}:',
  'resume.step.fromPoint': 'Its first sync sends only the blocks that changed since the last replicated point ({when}), on top of the last EBS snapshots.',
  'resume.step.full': 'Its first sync copies the whole disk (full sync): {reason}',
  'resume.step.then': 'Replication then continues every {minutes} minutes; launch a test instance and cut over as before.',
  'resume.step.instance': 'The EC2 instance {instance} of the rolled-back migration is left as it is.',
  'resume.confirm': 'Resume replication',
  'resume.working': 'Resuming…',
  'resume.started': 'Replication resumed as migration task {id}.',
  'resume.startedFull': 'Replication resumed as migration task {id}, with a full sync: {reason}',
  'resume.done': 'Replication resumed by {by} as migration task {id}.',
  'migrations.warm.stage.resuming': 'Resuming replication: sending the blocks changed since the last replicated point',
  'migrations.warm.resumedFrom': 'Resumed from',
  'migrations.warm.resumedFromValue': 'migration task {id} (last sync {when})',
} as const;
