import fs from 'node:fs';
import type { CloudProfile } from './cloud-profile';
import { STATE_FILE } from './paths';
import type { ReplicationMode } from './postgres-node';
import type { SeededIds } from './seed';
import type { LabPorts } from './topology';

/** What `.lab/state.json` holds while a lab runs. */
export interface LabState {
  /** False while the supervisor is still bringing the lab up (PIDs are recorded from the first spawn on). */
  ready: boolean;
  /** Who started the lab (`cli`, `tests`, ...): the jest teardown only takes down a lab a test run started. */
  origin: string;
  supervisorPid: number;
  controlPort: number;
  portBase: number;
  mode: ReplicationMode;
  /** The cloud-behaviour profile the lab models (see lab/world/cloud-profile.ts). */
  cloud: CloudProfile;
  ports: LabPorts;
  /** AWS_* variables that point the SDK at the lab's emulator. */
  aws: Record<string, string>;
  ids: SeededIds;
  /** PIDs of the emulator and each postmaster (absent while not running). */
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
