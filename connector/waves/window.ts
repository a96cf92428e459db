// The start window's end: migrations of a wave still queued at its not-after time are cancelled, and say why.

/** Who cancels them (shown as the task's cancelledBy and the audit entry's actor): the connector, not a person. */
export const WINDOW_SWEEPER = 'vm2ec2 (start window)';

/** The task's error once the sweeper cancelled it. */
export const windowClosedReason = (notAfter: string) => `The wave's start window closed at ${notAfter} before this migration could start.`;
