// Use cases of prepaid credit wallets: grant credit, apply it to a finalized invoice, expire it, warn on a low balance.
// A wallet (one per customer and currency) is a chain of movements, each an insert of `${walletId}#${next sequence}`
// with a unique business key: two processes cannot both append the same sequence, and a retried consumption or expiry
// finds its key taken, so credit is never consumed twice and a balance never goes below zero.
import { z } from 'zod';
import { UserFacingError, notFound, parseInput } from '../../lib/errors';
import { randomId } from '../../lib/ids';
import { isDuplicateKeyError } from '../../lib/mongo';
import {
  fromMinorUnits,
  isCurrency,
  isDecimalString,
  minorDigits,
  money,
  toMinorUnits,
  type Money,
} from '../../lib/money';
import { querySubgraph } from '../../lib/subgraph-client';
import {
  consumptionOrder,
  crossedThreshold,
  dueExpiries,
  grantStates,
  planConsumption,
  usableBalance,
  type CreditAllocation,
  type CreditGrantKind,
  type CreditGrantTerms,
  type CreditMovementDoc,
  type CreditMovementKind,
  type GrantState,
} from './prepaid-credits';
import type { InvoiceDoc, InvoicesStore } from './store';

/** A wallet's settings; its balance is never stored, only derived from its movements. */
export interface CreditWalletDoc {
  _id: string;
  customerId: string;
  currency: string;
  /** At or below it, `prepaid_credits.balance_low` is raised (once per movement that crosses it). */
  lowBalanceThreshold: Money | null;
  updatedAt: Date;
  updatedBy: string;
}

export const walletIdOf = (customerId: string, currency: string): string => `wallet:${currency}:${customerId}`;

/** A wallet as the graph shows it: its settings (or none yet) and every movement. */
export interface WalletView {
  id: string;
  customerId: string;
  currency: string;
  settings: CreditWalletDoc | null;
  movements: CreditMovementDoc[];
  asOf: Date;
}

export const movementsOf = (store: InvoicesStore, walletId: string): Promise<CreditMovementDoc[]> =>
  store.creditMovements.find({ walletId }).sort({ sequence: 1 }).toArray();

export async function walletView(
  store: InvoicesStore,
  customerId: string,
  currency: string,
  asOf = new Date(),
): Promise<WalletView> {
  const id = walletIdOf(customerId, currency);
  const [settings, movements] = await Promise.all([store.creditWallets.findOne({ _id: id }), movementsOf(store, id)]);
  return { id, customerId, currency, settings, movements, asOf };
}

interface MovementDecision {
  kind: CreditMovementKind;
  allocations: CreditAllocation[];
  grant?: CreditGrantTerms;
  invoiceId?: string;
  at: Date;
}

/**
 * Appends one movement unless its key is already taken (then returns that one). `decide` sees the wallet as it is
 * just before the append, and is asked again whenever another process appended first; null appends nothing.
 */
async function appendMovement(
  store: InvoicesStore,
  wallet: { id: string; customerId: string; currency: string },
  key: string,
  decide: (grants: GrantState[]) => MovementDecision | null,
  by: { recordedBy: string; correlationId: string },
): Promise<CreditMovementDoc | null> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const taken = await store.creditMovements.findOne({ key });
    if (taken) return taken;
    const movements = await movementsOf(store, wallet.id);
    const grants = grantStates(movements);
    const decision = decide(grants);
    if (!decision) return null;
    const sequence = (movements.at(-1)?.sequence ?? 0) + 1;
    const delta = decision.allocations.reduce((s, a) => s + BigInt(a.minor), 0n);
    const after = usableBalance(grantStates([...movements, draft(decision, sequence, delta)]), decision.at);
    const doc: CreditMovementDoc = {
      ...draft(decision, sequence, delta),
      key,
      balanceAfter: fromMinorUnits(after, wallet.currency),
      recordedBy: by.recordedBy,
      correlationId: by.correlationId,
    };
    try {
      await store.creditMovements.insertOne(doc);
      await warnOnLowBalance(store, doc, movements);
      return doc;
    } catch (error) {
      // Another process took this sequence (append again after it) or this very key (returned on the next look).
      if (!isDuplicateKeyError(error)) throw error;
    }
  }
  throw new UserFacingError('CONFLICT', `wallet ${wallet.id} is changing too fast to append to; try again`, {
    field: 'wallet',
    expected: 'a retry',
  });

  function draft(d: MovementDecision, sequence: number, delta: bigint): CreditMovementDoc {
    return {
      _id: `${wallet.id}#${sequence}`,
      walletId: wallet.id,
      customerId: wallet.customerId,
      currency: wallet.currency,
      sequence,
      key,
      kind: d.kind,
      amount: fromMinorUnits(delta, wallet.currency),
      allocations: d.allocations,
      balanceAfter: fromMinorUnits(0n, wallet.currency),
      grant: d.grant ?? null,
      invoiceId: d.invoiceId ?? null,
      at: d.at,
      recordedBy: by.recordedBy,
      correlationId: by.correlationId,
    };
  }
}

/** Raises `prepaid_credits.balance_low` when this movement took the balance to the threshold or below (id per movement). */
async function warnOnLowBalance(
  store: InvoicesStore,
  movement: CreditMovementDoc,
  before: readonly CreditMovementDoc[],
): Promise<void> {
  if (movement.kind === 'GRANT') return;
  const settings = await store.creditWallets.findOne({ _id: movement.walletId });
  if (!settings?.lowBalanceThreshold) return;
  // An expiry is booked at the instant its credit stops counting: compare with the instant before.
  const previousAt = movement.kind === 'EXPIRY' ? new Date(movement.at.getTime() - 1) : movement.at;
  const previous = usableBalance(grantStates(before), previousAt);
  const after = toMinorUnits(movement.balanceAfter);
  if (!crossedThreshold(previous, after, toMinorUnits(settings.lowBalanceThreshold))) return;
  await store.outbox.raise({
    id: `prepaid_credits.balance_low:${movement._id}`,
    type: 'prepaid_credits.balance_low',
    subject: movement.walletId,
    occurredAt: movement.at,
    data: {
      walletId: movement.walletId,
      customerId: movement.customerId,
      currency: movement.currency,
      balance: movement.balanceAfter,
      threshold: settings.lowBalanceThreshold,
      movementId: movement._id,
      invoiceId: movement.invoiceId,
    },
  });
}

/** Closes every grant whose expiry has come with credit left: one EXPIRY movement each (key per grant). */
export async function expireDueCredits(
  store: InvoicesStore,
  wallet: { id: string; customerId: string; currency: string },
  now: Date,
  by: { recordedBy: string; correlationId: string },
): Promise<CreditMovementDoc[]> {
  const movements = await movementsOf(store, wallet.id);
  const due = dueExpiries(grantStates(movements), now);
  const out: CreditMovementDoc[] = [];
  for (const g of due) {
    const expiresAt = g.expiresAt!;
    // Numbered: credit restored to an expired grant (a voided invoice's) expires again under the next key.
    const earlier = movements.filter((m) => m.kind === 'EXPIRY' && m.allocations[0]?.grantId === g.grantId).length;
    const m = await appendMovement(
      store,
      wallet,
      `expire:${g.grantId}:${earlier}`,
      (grants) => {
        const left = grants.find((x) => x.grantId === g.grantId)?.remaining ?? 0n;
        // Booked at the grant's own expiry, so the ledger shows the credit as a liability until then.
        return left > 0n
          ? { kind: 'EXPIRY', allocations: [{ grantId: g.grantId, minor: (-left).toString() }], at: expiresAt }
          : null;
      },
      by,
    );
    if (m) out.push(m);
  }
  return out;
}

const grantInput = z.object({
  customerId: z.string().min(1).max(200),
  amount: z
    .string()
    .refine(isDecimalString, { message: 'is not a decimal number (send it as a string, e.g. "100.00")' })
    .refine((v) => !v.startsWith('-') && !/^0(\.0*)?$/.test(v), { message: 'must be more than zero' }),
  currency: z.string().refine(isCurrency, { message: 'is not an ISO 4217 currency code, e.g. USD' }).nullish(),
  kind: z.enum(['PURCHASED', 'GRANTED']).default('PURCHASED'),
  priority: z.number().int().min(1, 'must be from 1 to 50').max(50, 'must be from 1 to 50').default(50),
  expiresAt: z.date().nullish(),
  description: z.string().trim().max(200).nullish(),
  grantKey: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1–128 letters, digits, ".", "_", ":" or "-"')
    .nullish(),
});

/** Adds credit to a customer's wallet in its currency; idempotent by grantKey. */
export async function grantPrepaidCredits(
  store: InvoicesStore,
  rawInput: unknown,
  by: { recordedBy: string; correlationId: string },
  now = new Date(),
): Promise<{ movement: CreditMovementDoc; grantId: string }> {
  const raw = rawInput as { expiresAt?: unknown } | null;
  const input = parseInput(
    grantInput,
    raw && raw.expiresAt !== undefined && raw.expiresAt !== null
      ? { ...raw, expiresAt: new Date(String(raw.expiresAt)) }
      : raw,
    'input',
  );
  const { customer } = await querySubgraph<{ customer: { id: string; currency: string } | null }>(
    'subscriptions',
    'query($id: ID!) { customer(id: $id) { id currency } }',
    { id: input.customerId },
  );
  if (!customer) throw notFound('customer', 'input.customerId', input.customerId);
  const currency = input.currency ?? customer.currency;
  const digits = minorDigits(currency);
  if ((input.amount.split('.')[1] ?? '').replace(/0+$/, '').length > digits)
    throw new UserFacingError(
      'VALIDATION_FAILED',
      `input.amount: ${input.amount} has more than ${digits} minor digits`,
      {
        field: 'input.amount',
        expected: `an amount in whole minor units of ${currency} (${digits} decimal places at most)`,
      },
    );
  if (input.expiresAt && input.expiresAt.getTime() <= now.getTime())
    throw new UserFacingError('VALIDATION_FAILED', 'input.expiresAt: is not in the future', {
      field: 'input.expiresAt',
      expected: 'an instant after now, or null for credit that never expires',
    });
  const wallet = { id: walletIdOf(customer.id, currency), customerId: customer.id, currency };
  await expireDueCredits(store, wallet, now, by);
  const grantKey = input.grantKey ?? randomId('g');
  const grantId = `${wallet.id}:${grantKey}`;
  const granted = toMinorUnits(money(input.amount, currency));
  const movement = await appendMovement(
    store,
    wallet,
    `grant:${grantId}`,
    () => ({
      kind: 'GRANT',
      at: now,
      allocations: [{ grantId, minor: granted.toString() }],
      grant: {
        grantId,
        kind: input.kind as CreditGrantKind,
        priority: input.priority,
        expiresAt: input.expiresAt ?? null,
        description: input.description ?? (input.kind === 'GRANTED' ? 'Granted credits' : 'Purchased credits'),
      },
    }),
    by,
  );
  if (!movement?.grant || toMinorUnits(movement.amount) !== granted)
    throw new UserFacingError('CONFLICT', `grant ${grantKey} was already made with another amount`, {
      field: 'input.grantKey',
      expected: 'a new grantKey, or the same amount to repeat the grant',
    });
  return { movement, grantId };
}

/** Sets (or clears, with null) the balance at or below which `prepaid_credits.balance_low` is raised. */
export async function setLowBalanceThreshold(
  store: InvoicesStore,
  customerId: string,
  currency: string,
  threshold: string | null,
  updatedBy: string,
): Promise<WalletView> {
  if (!isCurrency(currency))
    throw new UserFacingError('VALIDATION_FAILED', `currency: "${currency}" is not an ISO 4217 code`, {
      field: 'currency',
      expected: 'an ISO 4217 currency code, e.g. USD',
    });
  let limit: Money | null = null;
  if (threshold !== null) {
    try {
      limit = money(threshold, currency);
      if (!isDecimalString(threshold) || threshold.startsWith('-')) throw new RangeError('negative');
    } catch {
      throw new UserFacingError(
        'VALIDATION_FAILED',
        `lowBalanceThreshold: "${threshold}" is not an amount of ${currency}`,
        {
          field: 'lowBalanceThreshold',
          expected: `a decimal string of zero or more with at most ${minorDigits(currency)} decimal places, or null`,
        },
      );
    }
  }
  const id = walletIdOf(customerId, currency);
  // Last writer wins (a whole setting), under the record lock like every other settings upsert: two first writes at
  // once would otherwise race on the insert of `_id`.
  await store.locks.run(`wallet-settings:${id}`, () =>
    store.creditWallets.replaceOne(
      { _id: id },
      { customerId, currency, lowBalanceThreshold: limit, updatedAt: new Date(), updatedBy },
      { upsert: true },
    ),
  );
  return walletView(store, customerId, currency);
}

/**
 * Pays a finalized invoice's total from its customer's credit in the invoice currency, as of its finalization: credit
 * granted later or expired by then is not used. Called from finalization and again whenever the invoice is read, so a
 * finalization cut short completes; the movement key `consume:<invoiceId>` makes every call after the first a no-op.
 */
export async function applyPrepaidCredits(
  store: InvoicesStore,
  invoice: InvoiceDoc,
): Promise<CreditMovementDoc | null> {
  const known = appliedTo.get(invoice);
  if (known !== undefined) return known;
  const movement = await applyPrepaidCreditsNow(store, invoice);
  if (invoice.status === 'FINALIZED') appliedTo.set(invoice, movement);
  return movement;
}

/**
 * applyPrepaidCredits for a batch of invoices, in order: two reads for the whole batch — credit already applied to
 * any of them, and which of their wallets has a first movement (`<walletId>#1`; movements are never deleted) — so
 * only invoices whose wallet holds something are applied one by one: in batch order within a wallet, wallets side by
 * side. Before, finalizing 15 invoices read 30 times to find none had a wallet.
 */
export async function applyPrepaidCreditsToAll(
  store: InvoicesStore,
  invoices: readonly InvoiceDoc[],
): Promise<Array<CreditMovementDoc | null>> {
  const open = invoices.filter((i) => appliedTo.get(i) === undefined && i.status !== 'DRAFT' && i.finalizedAt);
  const [done, wallets] = open.length
    ? await Promise.all([
        store.creditMovements.find({ key: { $in: open.map((i) => `consume:${i._id}`) } }).toArray(),
        store.creditMovements
          .find(
            { _id: { $in: [...new Set(open.map((i) => `${walletIdOf(i.customerId, i.currency)}#1`))] } },
            { projection: { walletId: 1 } },
          )
          .toArray(),
      ])
    : [[], []];
  const doneBy = new Map(done.map((m) => [m.key, m]));
  const withCredit = new Set(wallets.map((m) => m.walletId));
  const byWallet = new Map<string, InvoiceDoc[]>();
  for (const i of invoices) {
    const wallet = walletIdOf(i.customerId, i.currency);
    const found = doneBy.get(`consume:${i._id}`);
    if (found && i.status === 'FINALIZED') appliedTo.set(i, found);
    else if (i.status === 'FINALIZED' && i.finalizedAt && !withCredit.has(wallet)) appliedTo.set(i, null);
    byWallet.set(wallet, [...(byWallet.get(wallet) ?? []), i]);
  }
  const applied = new Map<InvoiceDoc, CreditMovementDoc | null>();
  await Promise.all(
    [...byWallet.values()].map(async (inWallet) => {
      for (const invoice of inWallet) applied.set(invoice, await applyPrepaidCredits(store, invoice));
    }),
  );
  return invoices.map((i) => applied.get(i)!);
}

/**
 * What was applied to a finalized invoice, kept with the very object it was applied to: finalization's answer resolves
 * prepaidCreditApplied and amountDue without reading it again (an invoice read afresh is a new object, and checks again).
 */
const appliedTo = new WeakMap<InvoiceDoc, CreditMovementDoc | null>();

async function applyPrepaidCreditsNow(store: InvoicesStore, invoice: InvoiceDoc): Promise<CreditMovementDoc | null> {
  if (invoice.status === 'DRAFT' || !invoice.finalizedAt) return null;
  const key = `consume:${invoice._id}`;
  const done = await store.creditMovements.findOne({ key });
  if (done) return done;
  if (invoice.status !== 'FINALIZED') return null;
  const wallet = {
    id: walletIdOf(invoice.customerId, invoice.currency),
    customerId: invoice.customerId,
    currency: invoice.currency,
  };
  const due = toMinorUnits(invoice.total);
  if (due <= 0n) return null;
  const at = new Date(invoice.finalizedAt);
  const by = { recordedBy: 'invoice-finalization', correlationId: invoice.correlationId };
  if ((await store.creditMovements.countDocuments({ walletId: wallet.id }, { limit: 1 })) === 0) return null;
  await expireDueCredits(store, wallet, at, by);
  return appendMovement(
    store,
    wallet,
    key,
    (grants) => {
      const allocations = planConsumption(grants, due, at);
      return allocations.length === 0 ? null : { kind: 'CONSUMPTION', allocations, invoiceId: invoice._id, at };
    },
    by,
  );
}

/**
 * Gives a voided invoice's credit back to the grants it came from (a RESTORE movement, key `restore:<invoiceId>`), so
 * its replacement can use it. Nothing reaches the ledger: the voided invoice's posting, which booked the consumption,
 * is withdrawn. Credit given back to a grant that has expired meanwhile expires again.
 */
export async function restorePrepaidCredits(
  store: InvoicesStore,
  invoice: InvoiceDoc,
  by: { recordedBy: string; correlationId: string },
): Promise<CreditMovementDoc | null> {
  const consumption = await store.creditMovements.findOne({ key: `consume:${invoice._id}` });
  if (!consumption) return null;
  const wallet = { id: consumption.walletId, customerId: consumption.customerId, currency: consumption.currency };
  const restored = await appendMovement(
    store,
    wallet,
    `restore:${invoice._id}`,
    () => ({
      kind: 'RESTORE',
      invoiceId: invoice._id,
      at: new Date(),
      allocations: consumption.allocations.map((a) => ({ grantId: a.grantId, minor: (-BigInt(a.minor)).toString() })),
    }),
    by,
  );
  await expireDueCredits(store, wallet, new Date(), by);
  return restored;
}

/** What an invoice's consumption took from credit (zero when none). */
export const creditAppliedOf = (invoice: InvoiceDoc, movement: CreditMovementDoc | null): Money =>
  fromMinorUnits(movement ? -toMinorUnits(movement.amount) : 0n, invoice.currency);

/** A grant as the graph shows it: its state in its wallet's currency, as of the wallet's reading. */
export interface GrantView extends GrantState {
  currency: string;
  asOf: Date;
}

/** A grant's share of a movement, with the movement's currency. */
export interface AllocationView extends CreditAllocation {
  currency: string;
}

/** An invoice's credit line: the grant it came from and the (positive) amount deducted. */
export interface CreditLineView {
  grant: GrantView;
  amount: Money;
}

/** The wallet's grants in consumption order (expired and used-up ones too). */
export function grantsOf(wallet: WalletView): GrantView[] {
  return grantStates(wallet.movements)
    .sort(consumptionOrder)
    .map((g) => ({ ...g, currency: wallet.currency, asOf: wallet.asOf }));
}

export const walletBalance = (wallet: WalletView): Money =>
  fromMinorUnits(usableBalance(grantStates(wallet.movements), wallet.asOf), wallet.currency);

/** An invoice's credit lines, one per grant its consumption took from, in consumption order. */
export async function creditLinesOf(
  store: InvoicesStore,
  movement: CreditMovementDoc | null,
): Promise<CreditLineView[]> {
  if (!movement) return [];
  const wallet = await walletView(store, movement.customerId, movement.currency);
  const grants = new Map(grantsOf(wallet).map((g) => [g.grantId, g]));
  return movement.allocations.map((a) => ({
    grant: grants.get(a.grantId)!,
    amount: fromMinorUnits(-BigInt(a.minor), movement.currency),
  }));
}
