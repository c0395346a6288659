import { selectSwitchoverTarget } from '../core/candidate';
import { ValidationError } from '../core/errors';
import { automaticFailoverGuard } from '../core/guards';
import { buildClusterView } from './cluster-view';
import { runInputSchema } from './run-state';
import { task } from './task';

/**
 * First state: everything an operator can get wrong is refused here, before
 * the lease is touched (unknown cluster or target, a lagging target, a paused
 * cluster for failover, a held lease), so a refused run changes nothing.
 */
export const handler = task(
  'validate-input',
  async (state, d) => {
    const parsed = runInputSchema.safeParse(state.input);
    if (!parsed.success) {
      throw new ValidationError(
        `bad input: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    }
    const input = parsed.data;
    if (input.cluster !== d.config.PGQ_CLUSTER) {
      throw new ValidationError(`this controller manages cluster '${d.config.PGQ_CLUSTER}', not '${input.cluster}'`);
    }
    const [lease, nodes] = await Promise.all([d.store.getLease(), d.store.listNodes()]);
    if (input.target && !nodes.some((n) => n.name === input.target)) {
      throw new ValidationError(`unknown target '${input.target}' (nodes: ${nodes.map((n) => n.name).join(', ')})`);
    }
    if (input.target === lease.primary) throw new ValidationError(`target ${input.target} is already the primary`);
    if (lease.state === 'failing-over' || lease.state === 'switching-over') {
      throw new ValidationError(
        `lease held by ${lease.holder ?? 'another run'} (${lease.state}, epoch ${lease.epoch})`,
      );
    }
    if (input.mode === 'failover') {
      const g = automaticFailoverGuard(lease, d.now(), d.config.settings);
      // An operator's forced failover may override anti-flap, never pause or needs-attention.
      if (!g.allow && !(input.force && g.escalate)) throw new ValidationError(`failover refused: ${g.reason}`);
      if (input.target && !input.force) throw new ValidationError('failover --to NODE needs --force');
    } else {
      if (lease.state === 'needs-attention')
        throw new ValidationError(`switchover refused: cluster needs attention (${lease.reason})`);
      const { view } = await buildClusterView(d, { primary: lease.primary, nodes, votes: await d.store.getVotes() });
      const primary = view.nodes.find((n) => n.name === lease.primary);
      if (primary?.role !== 'primary')
        throw new ValidationError(
          `switchover needs a healthy primary: ${lease.primary} is ${primary?.role ?? 'unknown'}`,
        );
      const pick = selectSwitchoverTarget(view, d.config.settings, input.target);
      if (pick.action !== 'promote') throw new ValidationError(`switchover refused: ${pick.reason}`);
    }
    return { ...state, input };
  },
  { checkEpoch: false },
);
