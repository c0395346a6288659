import fs from 'node:fs';
import { STATE_FILE } from './paths';
import type { ReplicationMode } from './postgres-node';
import type { SeededIds } from './seed';
import type { LabPorts } from './topology';

/** What `.lab/state.json` holds while a lab runs. */
export interface LabState {
  supervisorPid: number;
  controlPort: number;
  portBase: number;
  mode: ReplicationMode;
  ports: LabPorts;
  /** AWS_* variables that point the SDK at the lab's emulator. */
  aws: Record<string, string>;
  ids: SeededIds;
  pids: Record<string, number | undefined>;
  startedAt: string;
}

/** Reads the running lab's state, or undefined when no lab has written one. */
export function readLabState(): LabState | undefined {
  try {
    return JSON.parse(fs.readFileSync(STATE_FILE, 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}
