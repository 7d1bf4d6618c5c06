// Use cases of spending alerts: per customer and usage type, a threshold on the quantity or the amount rated so far in
// the period. Checked after every rating of the customer's subscriptions; each alert fires at most once per period:
// the trigger is an insert keyed by alert and period, and its business event's id is the same key.
import { z } from 'zod';
import { parseInput } from '../../lib/errors';
import { deterministicId } from '../../lib/ids';
import { isDuplicateKeyError } from '../../lib/mongo';
import { Dec, canonicalDecimal, isDecimalString } from '../../lib/money';
import type { Logger } from '../../lib/logger';
import { currentRevisions, type PricingStore, type RatedChargeDoc } from './store';

export type SpendingMetric = 'QUANTITY' | 'AMOUNT';

export interface SpendingAlertDoc {
  _id: string;
  customerId: string;
  usageTypeKey: string;
  metric: SpendingMetric;
  /** A canonical decimal: units of the usage type, or money in the subscription's currency. */
  threshold: string;
  createdAt: Date;
  createdBy: string;
}

export interface SpendingAlertTriggerDoc {
  /** `${alertId}:${periodKey}`: the insert that makes an alert fire once per period. */
  _id: string;
  alertId: string;
  customerId: string;
  usageTypeKey: string;
  periodKey: string;
  metric: SpendingMetric;
  threshold: string;
  /** The quantity or amount that reached the threshold. */
  value: string;
  /** The currency of an AMOUNT value; null for a quantity. */
  currency: string | null;
  triggeredAt: Date;
}

const alertInput = z.object({
  customerId: z.string().min(1).max(200),
  usageTypeKey: z.string().regex(/^[A-Za-z][A-Za-z0-9_.-]{0,127}$/, 'must be a usage type key'),
  metric: z.enum(['QUANTITY', 'AMOUNT']),
  threshold: z
    .string()
    .refine(isDecimalString, { message: 'is not a decimal number (send it as a string, e.g. "1000")' })
    .refine((v) => !v.startsWith('-') && !/^0(\.0*)?$/.test(v), { message: 'must be more than zero' })
    .transform(canonicalDecimal),
});

/** Adds an alert; the same customer, usage type, metric and threshold is the same alert (idempotent). */
export async function setSpendingAlert(
  store: PricingStore,
  rawInput: unknown,
  createdBy: string,
): Promise<SpendingAlertDoc> {
  const input = parseInput(alertInput, rawInput, 'input');
  const _id = deterministicId('sal', input.customerId, input.usageTypeKey, input.metric, input.threshold);
  const doc: SpendingAlertDoc = { _id, ...input, createdAt: new Date(), createdBy };
  try {
    await store.spendingAlerts.insertOne(doc);
  } catch (error) {
    if (!isDuplicateKeyError(error)) throw error;
    return (await store.spendingAlerts.findOne({ _id }))!;
  }
  return doc;
}

/** The quantity and amount of a usage type in a customer's current charges of a period (every subscription). */
export function usageSoFar(charges: readonly RatedChargeDoc[], usageTypeKey: string) {
  let quantity = new Dec(0);
  let amount = new Dec(0);
  let currency: string | null = null;
  for (const c of currentRevisions(charges)) {
    if (c.voided || c.kind !== 'USAGE' || c.usageTypeKey !== usageTypeKey) continue;
    quantity = quantity.plus(c.quantity);
    amount = amount.plus(c.amount.amount);
    currency = c.amount.currency;
  }
  return { quantity, amount, currency };
}

/** Fires the customers' alerts their charges of the period reach; returns the triggers recorded now. */
export async function checkSpendingAlerts(
  store: PricingStore,
  periodKey: string,
  customerIds: readonly string[],
  log: Logger,
): Promise<SpendingAlertTriggerDoc[]> {
  const customers = [...new Set(customerIds)];
  if (customers.length === 0) return [];
  const alerts = await store.spendingAlerts.find({ customerId: { $in: customers } }).toArray();
  if (alerts.length === 0) return [];
  const fired = new Set(
    (await store.spendingAlertTriggers.find({ alertId: { $in: alerts.map((a) => a._id) }, periodKey }).toArray()).map(
      (t) => t.alertId,
    ),
  );
  const open = alerts.filter((a) => !fired.has(a._id));
  if (open.length === 0) return [];
  const charges = await store.ratedCharges
    .find({ customerId: { $in: [...new Set(open.map((a) => a.customerId))] }, periodKey })
    .toArray();
  const out: SpendingAlertTriggerDoc[] = [];
  for (const alert of open) {
    const so = usageSoFar(
      charges.filter((c) => c.customerId === alert.customerId),
      alert.usageTypeKey,
    );
    const value = alert.metric === 'QUANTITY' ? so.quantity : so.amount;
    if (value.lessThan(alert.threshold)) continue;
    const trigger: SpendingAlertTriggerDoc = {
      _id: `${alert._id}:${periodKey}`,
      alertId: alert._id,
      customerId: alert.customerId,
      usageTypeKey: alert.usageTypeKey,
      periodKey,
      metric: alert.metric,
      threshold: alert.threshold,
      value: value.toFixed(),
      currency: alert.metric === 'AMOUNT' ? so.currency : null,
      triggeredAt: new Date(),
    };
    // Raised before the trigger is written: a crash in between raises it again next time, under the same id.
    await store.outbox.raise({
      id: `spending_alert.triggered:${trigger._id}`,
      type: 'spending_alert.triggered',
      subject: alert._id,
      data: {
        alertId: alert._id,
        customerId: alert.customerId,
        usageTypeKey: alert.usageTypeKey,
        period: periodKey,
        metric: alert.metric,
        threshold: alert.threshold,
        value: trigger.value,
        currency: trigger.currency,
      },
    });
    try {
      await store.spendingAlertTriggers.insertOne(trigger);
      out.push(trigger);
      log.info({ alertId: alert._id, period: periodKey, value: trigger.value }, 'spending alert triggered');
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
    }
  }
  return out;
}
