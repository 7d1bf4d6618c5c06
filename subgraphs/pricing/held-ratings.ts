// Charges held on a pricing exception are rated by themselves once the exception is approved or the terms corrected.
import { config } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { repeatInBackground } from '../../lib/background';
import { withCorrelationId } from '../../lib/correlation';
import { rateBillingPeriod } from './rate-billing-period';
import type { PricingExceptionDoc, PricingStore } from './store';

/** Rates each period the exception holds; a period that rates (approved, or the terms now within policy) is released. */
export async function rateHeldPeriods(
  store: PricingStore,
  exception: PricingExceptionDoc,
  correlationId: string,
  log: Logger,
): Promise<void> {
  for (const period of exception.heldPeriods) {
    await rateBillingPeriod(store, exception.subscriptionId, period, correlationId, log).catch((error) =>
      log.warn({ err: error, exceptionId: exception._id, period }, 'held period could not be rated yet'),
    );
  }
}

/** Every few seconds: try the held periods again (corrected terms are noticed this way; approvals rate at once). */
export function startHeldRatingWorker(
  store: PricingStore,
  log: Logger,
  intervalMs = config().PRICING_RECHECK_MS,
): () => Promise<void> {
  return repeatInBackground('retrying held ratings', intervalMs, log, async (job) => {
    const waiting = await store.exceptions.find({ status: { $in: ['OPEN', 'APPROVED'] } }).toArray();
    for (const exception of waiting.filter((e) => e.heldPeriods.length > 0)) {
      if (job.stopped) return;
      await withCorrelationId(exception.correlationId, () =>
        rateHeldPeriods(store, exception, exception.correlationId, log),
      );
    }
  });
}
