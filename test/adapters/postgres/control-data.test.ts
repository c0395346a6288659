import { parseControlData } from '../../../lambdas/adapters/postgres/control-data';
import { ValidationError } from '../../../lambdas/core/errors';

const SAMPLE = `pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7440000000000000000
Database cluster state:               shut down
pg_control last modified:             Mon 23 Nov 2026 04:10:00 AM UTC
Latest checkpoint location:           0/5000060
Latest checkpoint's REDO location:    0/5000060
Latest checkpoint's REDO WAL file:    000000010000000000000005
Latest checkpoint's TimeLineID:       1
Latest checkpoint's PrevTimeLineID:   1
`;

describe('parseControlData', () => {
  it('reads the shutdown checkpoint a switchover waits for', () => {
    expect(parseControlData(SAMPLE)).toEqual({
      state: 'shut down',
      checkpointLsn: '0/5000060',
      redoLsn: '0/5000060',
      timeline: 1,
    });
  });

  it('names the missing line', () => {
    expect(() => parseControlData('Database cluster state: in production\n')).toThrow(ValidationError);
    expect(() => parseControlData('Database cluster state: in production\n')).toThrow(/Latest checkpoint location/);
  });
});
