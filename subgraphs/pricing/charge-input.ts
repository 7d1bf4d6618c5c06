// Validates a charge definition from GraphQL input into the ChargeModel the rating engine trusts, with canonical decimals.
import { z } from 'zod';
import { DECIMAL_PATTERN, Dec, canonicalDecimal } from '../../lib/money';
import { CHARGE_MODELS, type BlockTier, type ChargeModel, type PercentageTier, type Tier } from './rating';

const decimalString = z
  .string({
    error:
      'must be a decimal number written as a string, e.g. "0.0004" (a JSON number is refused: floats are not exact)',
  })
  .regex(DECIMAL_PATTERN, {
    message:
      'is not a decimal number; expected digits with an optional fraction, e.g. "12" or "0.0004" (no exponent, sign or spaces)',
  })
  .refine((v) => !v.startsWith('-'), { message: 'must not be negative; expected a decimal of 0 or more' })
  .transform(canonicalDecimal);

const positiveDecimal = decimalString.refine((v) => new Dec(v).gt(0), {
  message: 'must be greater than 0; expected a positive decimal, e.g. "1000"',
});

/** Optional fields may come as null from GraphQL; both mean "not set". */
const optionalDecimal = decimalString.nullish().transform((v) => v ?? undefined);

/** Ascending bounds, only the last one open-ended; shared by every tiered model. */
function ascendingBounds<T extends { upTo: string | null }>(tiers: T[], ctx: z.RefinementCtx, unit = ''): void {
  let previous = new Dec(0);
  tiers.forEach((tier, i) => {
    const last = i === tiers.length - 1;
    if (tier.upTo === null) {
      if (!last)
        ctx.addIssue({
          code: 'custom',
          path: [i, 'upTo'],
          message:
            'only the last tier may be open-ended; expected a decimal upper bound here, or remove the tiers after it',
        });
      return;
    }
    if (last)
      ctx.addIssue({
        code: 'custom',
        path: [i, 'upTo'],
        message: `the last tier must be open-ended; expected null here (every usage above ${previous.toFixed()}${unit} needs a price)`,
      });
    if (new Dec(tier.upTo).lte(previous)) {
      const bound =
        i === 0
          ? 'greater than 0'
          : `greater than the previous tier's upTo (${previous.toFixed()}), bounds strictly ascending`;
      ctx.addIssue({ code: 'custom', path: [i, 'upTo'], message: `is ${tier.upTo}; expected ${bound}` });
    }
    previous = Dec.max(previous, tier.upTo);
  });
}

const upTo = z.union([decimalString, z.null()], {
  error: 'must be a decimal string such as "1000", or null on the last tier (no upper bound)',
});

const tierInput = z.object({ upTo, unitPrice: decimalString, flatFee: optionalDecimal });

const tiersInput = z
  .array(tierInput, { error: 'must be a list of tiers, each { upTo, unitPrice, flatFee? }' })
  .min(1, { message: 'needs at least one tier; expected e.g. [{ upTo: null, unitPrice: "0.01" }]' })
  .superRefine((tiers, ctx) => ascendingBounds(tiers, ctx))
  .transform((tiers): Tier[] =>
    tiers.map(({ upTo, unitPrice, flatFee }) =>
      flatFee === undefined ? { upTo, unitPrice } : { upTo, unitPrice, flatFee },
    ),
  );

const rate = decimalString.refine((v) => new Dec(v).lte(1), {
  message: 'must be a fraction from 0 to 1; expected e.g. "0.029" for 2.9 %',
});

const percentageTiersInput = z
  .array(z.object({ upTo, rate, flatFee: optionalDecimal }), {
    error: 'must be a list of tiers, each { upTo, rate, flatFee? }',
  })
  .min(1, { message: 'needs at least one tier; expected e.g. [{ upTo: null, rate: "0.029" }]' })
  .superRefine((tiers, ctx) => ascendingBounds(tiers, ctx, ' of the summed amount'))
  .transform((tiers): PercentageTier[] =>
    tiers.map(({ upTo, rate, flatFee }) => (flatFee === undefined ? { upTo, rate } : { upTo, rate, flatFee })),
  );

const blockTiersInput = z
  .array(z.object({ upTo, blockPrice: decimalString, flatFee: optionalDecimal }), {
    error: 'must be a list of tiers, each { upTo, blockPrice, flatFee? }',
  })
  .min(1, { message: 'needs at least one tier; expected e.g. [{ upTo: null, blockPrice: "5" }]' })
  .superRefine((tiers, ctx) => ascendingBounds(tiers, ctx))
  .transform((tiers): BlockTier[] =>
    tiers.map(({ upTo, blockPrice, flatFee }) =>
      flatFee === undefined ? { upTo, blockPrice } : { upTo, blockPrice, flatFee },
    ),
  );

const flatFeeAtZeroUsage = z
  .enum(['BILLED', 'NOT_BILLED'], { error: 'must be BILLED or NOT_BILLED' })
  .nullish()
  .transform((v) => v ?? undefined);

/**
 * The zero-usage convention is kept with the charge only where it changes an amount (a first tier with a flat fee),
 * defaulting to BILLED there; elsewhere it is left out unless given.
 */
function withZeroUsageConvention<T extends { tiers: Array<{ flatFee?: string }>; flatFeeAtZeroUsage?: string }>(
  charge: T,
): T {
  const { flatFeeAtZeroUsage: given, ...rest } = charge;
  const firstFee = charge.tiers[0]?.flatFee;
  const matters = firstFee !== undefined && new Dec(firstFee).gt(0);
  return (given ?? (matters ? 'BILLED' : undefined)) === undefined
    ? (rest as T)
    : ({ ...rest, flatFeeAtZeroUsage: given ?? 'BILLED' } as T);
}

const perUnit = z.object({
  model: z.literal('PER_UNIT'),
  unitPrice: decimalString,
  includedQuantity: decimalString.default('0'),
});

const graduated = z
  .object({ model: z.literal('GRADUATED'), tiers: tiersInput, flatFeeAtZeroUsage })
  .transform(withZeroUsageConvention);

const volume = z
  .object({ model: z.literal('VOLUME'), tiers: tiersInput, flatFeeAtZeroUsage })
  .transform(withZeroUsageConvention);

const graduatedPercentage = z
  .object({ model: z.literal('GRADUATED_PERCENTAGE'), percentageTiers: percentageTiersInput, flatFeeAtZeroUsage })
  .transform(({ percentageTiers, ...c }) => withZeroUsageConvention({ ...c, tiers: percentageTiers }));

const tieredBlocks = z
  .object({
    model: z.literal('TIERED_BLOCKS'),
    blockSize: positiveDecimal,
    blockTiers: blockTiersInput,
    flatFeeAtZeroUsage,
  })
  .superRefine((c, ctx) => {
    c.blockTiers.forEach((t, i) => {
      if (t.upTo !== null && !new Dec(t.upTo).mod(c.blockSize).isZero())
        ctx.addIssue({
          code: 'custom',
          path: ['blockTiers', i, 'upTo'],
          message: `is ${t.upTo}; expected a multiple of blockSize (${c.blockSize}), so blocks never straddle two tiers`,
        });
    });
  })
  .transform(({ blockTiers, ...c }) => withZeroUsageConvention({ ...c, tiers: blockTiers }));

const dynamic = z.object({
  model: z.literal('DYNAMIC'),
  priceField: z
    .string({ error: 'must name the numeric data field that carries each event\'s price, e.g. "price"' })
    .regex(/^[a-z][a-z0-9_]{0,63}$/, { message: 'must be a field name: a lower-case letter, then a-z, 0-9 or "_"' }),
});

const packaged = z.object({
  model: z.literal('PACKAGE'),
  packageSize: positiveDecimal,
  packagePrice: decimalString,
  freeUnits: decimalString.default('0'),
});

const percentage = z
  .object({
    model: z.literal('PERCENTAGE'),
    rate,
    fixedFeePerEvent: optionalDecimal,
    freeEvents: z
      .number({ error: 'must be a whole number of events, 0 or more' })
      .int({ message: 'must be a whole number of events, 0 or more' })
      .min(0, { message: 'must be a whole number of events, 0 or more' })
      .nullish()
      .transform((v) => v ?? undefined),
    freeAmount: optionalDecimal,
    minPerEvent: optionalDecimal,
    maxPerEvent: optionalDecimal,
    fixedFeeOnZeroAmount: z
      .enum(['CHARGED', 'WAIVED'], { error: 'must be CHARGED or WAIVED' })
      .nullish()
      .transform((v) => v ?? undefined),
  })
  .superRefine((c, ctx) => {
    if (c.minPerEvent !== undefined && c.maxPerEvent !== undefined && new Dec(c.minPerEvent).gt(c.maxPerEvent)) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxPerEvent'],
        message: `is ${c.maxPerEvent}; expected at least minPerEvent (${c.minPerEvent})`,
      });
    }
  })
  .transform((c) => withoutUndefined(c));

const anyModel = z.discriminatedUnion(
  'model',
  [perUnit, graduated, volume, packaged, percentage, graduatedPercentage, tieredBlocks, dynamic],
  {
    error: (issue) =>
      issue.code === 'invalid_union' ? `is not a charge model; expected one of ${CHARGE_MODELS.join(', ')}` : undefined,
  },
);

/** A charge definition; `model` defaults to PER_UNIT, as plans created before the other models assumed. */
export const chargeModelInput: z.ZodType<ChargeModel, unknown> = z.preprocess(
  (value) =>
    isRecord(value) && (value['model'] === undefined || value['model'] === null)
      ? { ...value, model: 'PER_UNIT' }
      : value,
  anyModel,
);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Leaves optional fields out rather than present-but-undefined, so stored plans compare equal by content. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * A stored charge as the engine must rate it. Tiered charges stored before the zero-usage convention became explicit
 * meant "nothing at zero usage": they keep that meaning, so re-rating an old period never changes its amount.
 */
export function chargeAsStored<T extends ChargeModel>(charge: T): T {
  if ((charge.model !== 'GRADUATED' && charge.model !== 'VOLUME') || charge.flatFeeAtZeroUsage !== undefined)
    return charge;
  const firstFee = charge.tiers[0]?.flatFee;
  return firstFee !== undefined && new Dec(firstFee).gt(0) ? { ...charge, flatFeeAtZeroUsage: 'NOT_BILLED' } : charge;
}
