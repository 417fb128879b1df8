import type { Services } from '../runtime/services.ts';
import { formatNumber, table } from '../cli/output.ts';
import { catalogText } from '../cli/commands/features.ts';
import { DEFAULT_DAYS, DEFAULT_START } from '../../benchmarks/generator/shop.ts';

/** The generated traffic ends here: features are computed as of then, so windows like "last 30 days" have data. */
const DEMO_AS_OF = DEFAULT_START.getTime() + DEFAULT_DAYS * 86_400_000;

/**
 * The demo's last step: compute the shop's features (features/definitions) into the wide
 * `profiles` table and print the catalog with each feature's statistics, then one customer.
 */
export async function printFeatures(services: Services, out: (line?: string) => void): Promise<void> {
  out();
  out(`Computing features declared in ${services.features.dir} into the profiles table, as of ${new Date(DEMO_AS_OF).toISOString()} (the end of the traffic)...`);
  const run = await services.features.run({ asOfMs: DEMO_AS_OF });
  out(
    `${run.mode === 'full' ? 'Full' : 'Incremental'} run: ${run.features} features for ${formatNumber(run.profiles)} profiles ` +
      `(${formatNumber(run.touched)} computed) in ${run.seconds.toFixed(1)} s, as ${run.table}.`,
  );
  out();
  out('Feature catalog (`tessera features stats`, GET /v1/features):');
  out(catalogText(await services.features.catalog()));

  const ch = services.stores.ch;
  const [best] = await ch.query<Record<string, unknown>>(
    `SELECT * FROM ${ch.table('profiles')} WHERE lifecycle_stage IS NOT NULL ORDER BY revenue_lifetime DESC, profile_id LIMIT 1`,
  );
  if (best) {
    out();
    out(`The customer with the most revenue who is also in the CRM, profile ${String(best.profile_id)}:`);
    out(table(Object.entries(best).filter(([k]) => k !== 'profile_id').map(([feature, value]) => ({ feature, value })), ['feature', 'value']));
  }
}
