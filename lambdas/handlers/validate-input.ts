import { ValidationError } from '../core/errors';
import { checkRunRequest, checkRunView } from '../core/run-checks';
import { buildClusterView } from './cluster-view';
import { runInputSchema } from './run-state';
import { task } from './task';

/**
 * First state: everything an operator can get wrong is refused here, before
 * the lease is touched (unknown cluster or target, a forced run without a
 * target, a forced target that is not eligible, a lagging switchover target, a
 * paused cluster for failover, a held lease), so a refused run changes
 * nothing. Only `input` is taken from the start request: any other key
 * (`epoch`, `candidate`, ...) is dropped, since later steps would trust it.
 */
export const handler = task('validate-input', { policy: 'none' }, async (state, d) => {
  const parsed = runInputSchema.safeParse(state.input);
  if (!parsed.success) {
    throw new ValidationError(
      `bad input: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const input = parsed.data;
  const [lease, nodes] = await Promise.all([d.store.getLease(), d.store.listNodes()]);
  const pre = checkRunRequest(input, {
    cluster: d.config.PGQ_CLUSTER,
    lease,
    nodes,
    settings: d.config.settings,
    now: d.now(),
  });
  if (!pre.ok) throw new ValidationError(pre.reason);
  if (input.mode === 'switchover' || input.target) {
    const { view } = await buildClusterView(d, { primary: lease.primary, nodes, votes: await d.store.getVotes() });
    const v = checkRunView(input, view, d.config.settings);
    if (!v.ok) throw new ValidationError(v.reason);
  }
  return { input };
});
