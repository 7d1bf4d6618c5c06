import fc from 'fast-check';
import {
  dueExpiries,
  grantStates,
  planConsumption,
  usableBalance,
  type CreditAllocation,
  type CreditMovementDoc,
} from './prepaid-credits';

const day = (d: number) => new Date(Date.UTC(2026, 8, d));
let seq = 0;

function grant(
  id: string,
  minor: bigint,
  priority: number,
  expiresDay: number | null,
  grantedDay = 1,
): CreditMovementDoc {
  seq += 1;
  return {
    _id: `w#${seq}`,
    walletId: 'w',
    customerId: 'c',
    currency: 'USD',
    sequence: seq,
    key: `grant:${id}`,
    kind: 'GRANT',
    amount: { amount: '0', currency: 'USD' },
    allocations: [{ grantId: id, minor: minor.toString() }],
    balanceAfter: { amount: '0', currency: 'USD' },
    grant: {
      grantId: id,
      kind: 'PURCHASED',
      priority,
      expiresAt: expiresDay === null ? null : day(expiresDay),
      description: id,
    },
    invoiceId: null,
    at: day(grantedDay),
    recordedBy: 'test',
    correlationId: 'test',
  };
}

function taken(allocations: CreditAllocation[], at: Date, kind: 'CONSUMPTION' | 'EXPIRY' = 'CONSUMPTION') {
  seq += 1;
  return {
    ...grant('x', 0n, 1, null),
    _id: `w#${seq}`,
    sequence: seq,
    key: `m${seq}`,
    kind,
    grant: null,
    allocations,
    at,
  } satisfies CreditMovementDoc;
}

describe('consuming prepaid credit', () => {
  it('takes the lowest priority number first, then the grant that expires soonest, then the oldest', () => {
    // promo: 30.00 priority 1 expiring 20th; annual: 100.00 priority 50 expiring 30th; topup: 50.00 priority 50, never.
    const grants = grantStates([
      grant('annual', 10000n, 50, 30),
      grant('topup', 5000n, 50, null),
      grant('promo', 3000n, 1, 20),
    ]);
    // An invoice of 145.99 on the 10th: promo 30.00, annual 100.00, topup 15.99 — checked by hand.
    expect(planConsumption(grants, 14599n, day(10))).toEqual([
      { grantId: 'promo', minor: '-3000' },
      { grantId: 'annual', minor: '-10000' },
      { grantId: 'topup', minor: '-1599' },
    ]);
    // On the 25th the promo has expired: it is skipped, the 145.99 comes from annual and topup, 4.01 stays due.
    expect(planConsumption(grants, 14599n, day(25))).toEqual([
      { grantId: 'annual', minor: '-10000' },
      { grantId: 'topup', minor: '-4599' },
    ]);
  });

  it('counts what earlier movements took, and uses nothing granted after the invoice was finalized', () => {
    const movements = [grant('a', 2000n, 10, null, 1), grant('late', 9999n, 1, null, 15)];
    movements.push(taken([{ grantId: 'a', minor: '-1250' }], day(5)));
    const grants = grantStates(movements);
    expect(grants.map((g) => [g.grantId, g.remaining])).toEqual([
      ['a', 750n],
      ['late', 9999n],
    ]);
    expect(planConsumption(grants, 1000n, day(10))).toEqual([{ grantId: 'a', minor: '-750' }]);
    expect(usableBalance(grants, day(10))).toBe(750n);
    expect(usableBalance(grants, day(16))).toBe(10749n);
  });

  it('expires exactly what is left on a grant at its expiry, and nothing of a used-up one', () => {
    const movements = [grant('a', 2000n, 1, 10), grant('b', 500n, 1, 10)];
    movements.push(taken([{ grantId: 'b', minor: '-500' }], day(3)));
    movements.push(taken([{ grantId: 'a', minor: '-300' }], day(4)));
    expect(dueExpiries(grantStates(movements), day(9))).toEqual([]);
    expect(dueExpiries(grantStates(movements), day(10)).map((g) => [g.grantId, g.remaining])).toEqual([['a', 1700n]]);
  });
});

describe('prepaid credit properties', () => {
  const grantArb = fc.record({
    minor: fc.bigInt({ min: 1n, max: 1_000_000n }),
    priority: fc.integer({ min: 1, max: 50 }),
    expiresDay: fc.option(fc.integer({ min: 2, max: 28 }), { nil: null }),
  });
  const invoicesArb = fc.array(
    fc.record({ due: fc.bigInt({ min: 0n, max: 2_000_000n }), day: fc.integer({ min: 1, max: 28 }) }),
    { maxLength: 12 },
  );

  it('never takes a balance below zero, never more than is due, and never from expired credit', () => {
    fc.assert(
      fc.property(fc.array(grantArb, { minLength: 1, maxLength: 6 }), invoicesArb, (specs, invoices) => {
        const movements = specs.map((s, i) => grant(`g${i}`, s.minor, s.priority, s.expiresDay));
        for (const inv of [...invoices].sort((a, b) => a.day - b.day)) {
          const at = day(inv.day);
          for (const g of dueExpiries(grantStates(movements), at))
            movements.push(taken([{ grantId: g.grantId, minor: (-g.remaining).toString() }], g.expiresAt!, 'EXPIRY'));
          const before = grantStates(movements);
          const plan = planConsumption(before, inv.due, at);
          const total = plan.reduce((s, a) => s - BigInt(a.minor), 0n);
          expect(total).toBeLessThanOrEqual(inv.due);
          expect(total).toBe(inv.due < usableBalance(before, at) ? inv.due : usableBalance(before, at));
          for (const a of plan) {
            const g = before.find((x) => x.grantId === a.grantId)!;
            expect(g.expiresAt === null || g.expiresAt.getTime() > at.getTime()).toBe(true);
          }
          movements.push(taken(plan, at));
          for (const g of grantStates(movements)) expect(g.remaining).toBeGreaterThanOrEqual(0n);
        }
      }),
    );
  });
});
