/**
 * Lab-only wrapper around a task function's real handler. The lab deployer adds
 * this file to every task bundle's zip and points the function's Handler at it;
 * the state-machine definition is untouched. It does two things AWS does and
 * the emulator does not:
 *
 * - the cost of the state transition and the Lambda invoke before the handler
 *   runs (the profile's taskInvokeLatency, PGQ_LAB_TASK_LATENCY);
 * - the fault switch: after the real handler SUCCEEDED (its side effect is
 *   done), it asks the lab supervisor (POST /fault-take) whether a fault is
 *   armed for this task and if so throws an Error named Pgq.Retriable, as a
 *   response lost after the write, or a runtime crash after it, would look to
 *   Step Functions. The state machine's own Retry then runs the task again.
 *
 * - task holds: before the real handler runs, it asks the supervisor
 *   (POST /task-hold-wait), which answers at once unless a drill holds this
 *   task, as a slow cold start holds an invoke: a drill acts at an exact step
 *   (kill the candidate Promote is about to promote) instead of racing an
 *   execution-history poll.
 *
 * Plain CommonJS (it goes into the zip as is, next to the esbuild bundle).
 */
const real = require('./index.js');

const task = process.env.PGQ_LAB_TASK ?? '';
const controlUrl = process.env.PGQ_LAB_CONTROL_URL ?? '';
const latency = JSON.parse(process.env.PGQ_LAB_TASK_LATENCY ?? '{"minMs":0,"maxMs":0}');

async function faultArmed() {
  if (!controlUrl || !task) return false;
  try {
    const res = await fetch(`${controlUrl}/fault-take`, {
      method: 'POST',
      body: JSON.stringify({ task }),
      signal: AbortSignal.timeout(2000),
    });
    return res.ok && (await res.json()).fail === true;
  } catch {
    // No supervisor answering: no fault (the lab is going down, or the function runs outside it).
    return false;
  }
}

async function waitIfHeld(event) {
  if (!controlUrl || !task) return;
  try {
    await fetch(`${controlUrl}/task-hold-wait`, {
      method: 'POST',
      body: JSON.stringify({ task, candidate: String(event?.state?.candidate ?? '') }),
      signal: AbortSignal.timeout(125000),
    });
  } catch {
    // No supervisor answering: no hold.
  }
}

exports.handler = async (event, context) => {
  if (event?.warmup) return real.handler(event, context);
  const ms = Math.round(latency.minMs + (latency.maxMs - latency.minMs) * Math.random());
  if (ms > 0) await new Promise((r) => setTimeout(r, ms));
  await waitIfHeld(event);
  const out = await real.handler(event, context);
  if (await faultArmed()) {
    const err = new Error(`lab fault: ${task} completed its work, then failed as if its response was lost`);
    err.name = 'Pgq.Retriable';
    throw err;
  }
  return out;
};
