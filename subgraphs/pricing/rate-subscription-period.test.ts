import fc from 'fast-check';
import { Dec } from '../../lib/money';
import { parsePeriod } from '../../lib/period';
import {
  rateSubscriptionPeriod,
  segmentsOf,
  usageNeeds,
  type PlanVersion,
  type SubscriptionForRating,
  type UsageSegment,
} from './rate-subscription-period';

const at = (s: string) => new Date(`${s}T00:00:00Z`);
const october = parsePeriod('2026-10');

const planA: PlanVersion = {
  id: 'plan_a1',
  key: 'a',
  version: 1,
  currency: 'USD',
  effectiveFrom: new Date(0),
  charges: [{ usageTypeKey: 'calls', model: 'PER_UNIT', unitPrice: '0.01', includedQuantity: '100' }],
  recurringFees: [
    { key: 'base', description: 'Platform fee', amount: '30.00', timing: 'IN_ARREARS', productLine: 'platform' },
    { key: 'support', description: 'Support', amount: '10.00', timing: 'IN_ADVANCE', productLine: 'support' },
  ],
  minimumCommitment: null,
};
const planB: PlanVersion = {
  id: 'plan_b1',
  key: 'b',
  version: 1,
  currency: 'USD',
  effectiveFrom: new Date(0),
  charges: [{ usageTypeKey: 'calls', model: 'PER_UNIT', unitPrice: '0.02', includedQuantity: '0' }],
  recurringFees: [
    { key: 'base', description: 'Platform fee', amount: '60.00', timing: 'IN_ARREARS', productLine: 'platform' },
  ],
  minimumCommitment: null,
};

const subscription = (over: Partial<SubscriptionForRating> = {}): SubscriptionForRating => ({
  id: 'sub_1',
  startsAt: at('2026-01-01'),
  endsAt: null,
  rounding: 'HALF_UP',
  phases: [{ startsAt: at('2026-01-01'), endsAt: null, planVersions: [planA] }],
  terms: null,
  ...over,
});

const usage = (quantity: string, from = october.start, to = october.end): UsageSegment => ({
  usageTypeKey: 'calls',
  from,
  to,
  quantity,
  eventCount: 3,
  values: null,
  aggregateId: 'agg_1',
  productLine: 'api',
  unit: 'call',
});
const summary = (lines: ReturnType<typeof rateSubscriptionPeriod>) =>
  lines.map((l) => [l.lineKey.replace(/T00:00:00.000Z/, ''), l.amount.amount]);

describe('rating one subscription period', () => {
  it('rates usage, fees in arrears for this period and in advance for the next', () => {
    const lines = rateSubscriptionPeriod(subscription(), october, [usage('350')]);
    // (350 − 100) × 0.01 = 2.50; platform 30.00 for October; support 10.00 in advance for November.
    expect(summary(lines)).toEqual([
      ['USAGE:calls:2026-10-01', '2.50'],
      ['FEE:base:2026-10-01', '30.00'],
      ['FEE:support:2026-11-01', '10.00'],
    ]);
    expect(lines[0]!.explanation).toBe('350 used − 100 included = 250 billable × 0.01 USD = 2.5 USD');
    expect(lines[2]!.explanation).toBe('Support (in advance) for 2026-11: 10.00 USD');
  });

  it('splits the period at a mid-period plan change, rating each part against its plan and prorating fees by day', () => {
    const sub = subscription({
      phases: [
        { startsAt: at('2026-01-01'), endsAt: at('2026-10-11'), planVersions: [planA] },
        { startsAt: at('2026-10-11'), endsAt: null, planVersions: [planB] },
      ],
    });
    expect(
      segmentsOf(sub, october).map((s) => [
        s.from.toISOString().slice(0, 10),
        s.to.toISOString().slice(0, 10),
        s.plan.id,
      ]),
    ).toEqual([
      ['2026-10-01', '2026-10-11', 'plan_a1'],
      ['2026-10-11', '2026-11-01', 'plan_b1'],
    ]);
    expect(usageNeeds(sub, october)).toEqual({
      usageTypeKeys: ['calls'],
      boundaries: [at('2026-10-11')],
      valuesFor: [],
      since: sub.startsAt,
    });
    const lines = rateSubscriptionPeriod(sub, october, [
      usage('150', october.start, at('2026-10-11')),
      usage('200', at('2026-10-11'), october.end),
    ]);
    // Plan A, Oct 1–10: (150 − 100) × 0.01 = 0.50; fee 30 × 10/31 = 9.677… → 9.68.
    // Plan B, Oct 11–31: 200 × 0.02 = 4.00; fee 60 × 21/31 = 40.645… → 40.65. No fee in advance on plan B.
    expect(summary(lines)).toEqual([
      ['USAGE:calls:2026-10-01', '0.50'],
      ['FEE:base:2026-10-01', '9.68'],
      ['USAGE:calls:2026-10-11', '4.00'],
      ['FEE:base:2026-10-11', '40.65'],
    ]);
    expect(lines[1]!.explanation).toBe(
      'Platform fee (in arrears) for 2026-10: 30.00 USD × 10/31 of 2026-10 (2026-10-01 to 2026-10-10) = 9.6774193548… USD → 9.68',
    );
    expect(lines[2]!.explanation).toMatch(/^2026-10-11 to 2026-10-31: 200 used/);
  });

  it('rates each plan version from the day it takes effect', () => {
    const v2: PlanVersion = {
      ...planA,
      id: 'plan_a2',
      version: 2,
      effectiveFrom: at('2026-10-16'),
      charges: [{ usageTypeKey: 'calls', model: 'PER_UNIT', unitPrice: '0.02', includedQuantity: '100' }],
    };
    const sub = subscription({ phases: [{ startsAt: at('2026-01-01'), endsAt: null, planVersions: [planA, v2] }] });
    const lines = rateSubscriptionPeriod(sub, october, [
      usage('300', october.start, at('2026-10-16')),
      usage('300', at('2026-10-16'), october.end),
    ]);
    // v1 Oct 1–15: 200 × 0.01 = 2.00; v2 Oct 16–31: 200 × 0.02 = 4.00. Fee 30 × 15/31 → 14.52 and × 16/31 → 15.48: 30.00 together.
    expect(summary(lines)).toEqual([
      ['USAGE:calls:2026-10-01', '2.00'],
      ['FEE:base:2026-10-01', '14.52'],
      ['USAGE:calls:2026-10-16', '4.00'],
      ['FEE:base:2026-10-16', '15.48'],
      ['FEE:support:2026-11-01', '10.00'],
    ]);
    expect(lines.filter((l) => l.kind === 'USAGE').map((l) => l.plan)).toEqual([
      { id: 'plan_a1', version: 1 },
      { id: 'plan_a2', version: 2 },
    ]);
  });

  it('prorates the last period of a cancelled subscription and bills nothing in advance after it', () => {
    const sub = subscription({
      endsAt: at('2026-10-16'),
      phases: [{ startsAt: at('2026-01-01'), endsAt: at('2026-10-16'), planVersions: [planA] }],
    });
    // Active Oct 1–15: fee 30 × 15/31 = 14.516… → 14.52.
    expect(summary(rateSubscriptionPeriod(sub, october, [usage('100')]))).toEqual([
      ['USAGE:calls:2026-10-01', '0.00'],
      ['FEE:base:2026-10-01', '14.52'],
    ]);
  });

  it('bills the first period’s fee in advance too, prorated from the start day', () => {
    const sub = subscription({
      startsAt: at('2026-10-21'),
      phases: [{ startsAt: at('2026-10-21'), endsAt: null, planVersions: [planA] }],
    });
    // Oct 21–31 is 11 days: platform 30 × 11/31 = 10.645… → 10.65; support 10 × 11/31 = 3.548… → 3.55, and 10.00 for November.
    expect(summary(rateSubscriptionPeriod(sub, october, [usage('0', at('2026-10-21'))]))).toEqual([
      ['USAGE:calls:2026-10-21', '0.00'],
      ['FEE:base:2026-10-21', '10.65'],
      ['FEE:support:2026-10-21', '3.55'],
      ['FEE:support:2026-11-01', '10.00'],
    ]);
  });

  it('applies negotiated prices and the discount before rounding, then tops up to the minimum commitment', () => {
    const sub = subscription({
      terms: {
        minimumCommitment: '50.00',
        unitPriceOverrides: [{ usageTypeKey: 'calls', unitPrice: '0.005' }],
        discountPercent: '10',
        version: 1,
      },
    });
    const lines = rateSubscriptionPeriod(sub, october, [usage('350')]);
    // (350 − 100) × 0.005 = 1.25, less 10 % = 1.125 → 1.13; platform 30 less 10 % = 27.00;
    // October's lines make 28.13 of the 50.00 minimum: true-up 21.87. Support for November 10 less 10 % = 9.00.
    expect(summary(lines)).toEqual([
      ['USAGE:calls:2026-10-01', '1.13'],
      ['FEE:base:2026-10-01', '27.00'],
      ['COMMITMENT', '21.87'],
      ['FEE:support:2026-11-01', '9.00'],
    ]);
    expect(lines[0]!.explanation).toBe(
      '350 used − 100 included = 250 billable × 0.005 USD = 1.25 USD (negotiated unit price; the plan says 0.01); 10 % contract discount −0.125 = 1.125 USD → 1.13',
    );
    expect(lines[2]!.explanation).toBe(
      'contract minimum commitment 50 USD − 28.13 USD rated usage = 21.87 USD true-up',
    );
  });

  it('prorates the minimum commitment by the days the subscription was active', () => {
    const sub = subscription({
      endsAt: at('2026-10-16'),
      phases: [
        {
          startsAt: at('2026-01-01'),
          endsAt: at('2026-10-16'),
          planVersions: [{ ...planA, recurringFees: [], minimumCommitment: '31.00' }],
        },
      ],
    });
    // 31.00 × 15/31 = 15.00; usage (200 − 100) × 0.01 = 1.00 → true-up 14.00.
    expect(summary(rateSubscriptionPeriod(sub, october, [usage('200')]))).toEqual([
      ['USAGE:calls:2026-10-01', '1.00'],
      ['COMMITMENT', '14.00'],
    ]);
  });
});

describe('properties of rating a period', () => {
  // Generated subscriptions: a plan change on any day (or none), a cancellation on any later day (or none), any usage.
  const arbitrary = fc.record({
    changeDay: fc.option(fc.integer({ min: 2, max: 31 }), { nil: null }),
    endDay: fc.option(fc.integer({ min: 2, max: 32 }), { nil: null }),
    calls: fc.array(fc.integer({ min: 0, max: 50_000 }), { minLength: 2, maxLength: 2 }),
    discount: fc.constantFrom(null, '5', '12.5'),
  });
  const build = ({
    changeDay,
    endDay,
    calls,
    discount,
  }: {
    changeDay: number | null;
    endDay: number | null;
    calls: number[];
    discount: string | null;
  }) => {
    const day = (d: number) => new Date(Date.UTC(2026, 9, d));
    const change = changeDay && (!endDay || changeDay < endDay) ? day(changeDay) : null;
    const end = endDay ? day(endDay) : null;
    // The same fees as plan A, so the fee over the whole period is one 30.00 platform fee however it is split.
    const graduated: PlanVersion = {
      ...planA,
      id: 'plan_g',
      charges: [
        {
          usageTypeKey: 'calls',
          model: 'GRADUATED',
          tiers: [
            { upTo: '1000', unitPrice: '0.003' },
            { upTo: null, unitPrice: '0.001', flatFee: '2' },
          ],
        },
      ],
    };
    const sub = subscription({
      endsAt: end,
      terms: discount
        ? { minimumCommitment: null, unitPriceOverrides: [], discountPercent: discount, version: 1 }
        : null,
      phases: change
        ? [
            { startsAt: at('2026-01-01'), endsAt: change, planVersions: [planA] },
            { startsAt: change, endsAt: end, planVersions: [graduated] },
          ]
        : [{ startsAt: at('2026-01-01'), endsAt: end, planVersions: [planA] }],
    });
    const segments = segmentsOf(sub, october);
    return { sub, usage: segments.map((s, i) => usage(String(calls[i] ?? 0), s.from, s.to)) };
  };

  it('rates the same inputs to the same lines, so re-rating them adjusts nothing', () => {
    fc.assert(
      fc.property(arbitrary, (input) => {
        const { sub, usage: u1 } = build(input);
        const first = rateSubscriptionPeriod(sub, october, u1);
        const second = rateSubscriptionPeriod(sub, october, build(input).usage);
        expect(second).toEqual(first);
      }),
    );
  });

  it('splits a fee over the parts of a period exactly: the parts add up to the fee for the active days', () => {
    fc.assert(
      fc.property(arbitrary, (input) => {
        const { sub, usage: u } = build(input);
        const parts = rateSubscriptionPeriod(sub, october, u).filter((l) => l.lineKey.startsWith('FEE:base:'));
        const activeDays = Math.round(((sub.endsAt ?? october.end).getTime() - october.start.getTime()) / 86_400_000);
        const discount = new Dec(1).minus(new Dec(input.discount ?? 0).dividedBy(100));
        const expected = new Dec('30.00').times(activeDays).dividedBy(31).times(discount);
        const exact = parts.reduce((sum, l) => sum.plus(l.exactAmount), new Dec(0));
        expect(exact.minus(expected).abs().lt('1e-30')).toBe(true);
        // Each part is rounded once, so the parts are within half a cent each of the exact total.
        const rounded = parts.reduce((sum, l) => sum.plus(l.amount.amount), new Dec(0));
        expect(rounded.minus(expected).abs().lte(new Dec('0.005').times(parts.length))).toBe(true);
      }),
    );
  });
});
