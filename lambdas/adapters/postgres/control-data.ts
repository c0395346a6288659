import { ValidationError } from '../../core/errors';

/** The fields of `pg_controldata` output a switchover needs. */
export interface ControlData {
  readonly state: string;
  readonly checkpointLsn: string;
  readonly redoLsn: string;
  readonly timeline: number;
}

function field(text: string, label: string): string {
  const line = text.split('\n').find((l) => l.startsWith(`${label}:`));
  if (!line) throw new ValidationError(`pg_controldata output has no '${label}' line`);
  return line.slice(label.length + 1).trim();
}

/**
 * Parses `pg_controldata` (run by the host command after a fast shutdown). The
 * shutdown checkpoint's location is the last WAL the old primary wrote: a
 * switchover target that has replayed past it has every commit.
 */
export function parseControlData(text: string): ControlData {
  return {
    state: field(text, 'Database cluster state'),
    checkpointLsn: field(text, 'Latest checkpoint location'),
    redoLsn: field(text, "Latest checkpoint's REDO location"),
    timeline: Number(field(text, "Latest checkpoint's TimeLineID")),
  };
}
