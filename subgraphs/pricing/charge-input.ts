// Validates a charge definition from GraphQL input into the ChargeModel the rating engine trusts, with canonical decimals.
import { z } from 'zod';
import { DECIMAL_PATTERN, Dec, canonicalDecimal } from '../../lib/money';
import type { ChargeModel, Tier } from './rating';

const CHARGE_MODELS = ['PER_UNIT', 'GRADUATED', 'VOLUME', 'PACKAGE', 'PERCENTAGE'] as const;

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

const tierInput = z.object({
  upTo: z.union([decimalString, z.null()], {
    error: 'must be a decimal string such as "1000", or null on the last tier (no upper bound)',
  }),
  unitPrice: decimalString,
  flatFee: optionalDecimal,
});

const tiersInput = z
  .array(tierInput, { error: 'must be a list of tiers, each { upTo, unitPrice, flatFee? }' })
  .min(1, { message: 'needs at least one tier; expected e.g. [{ upTo: null, unitPrice: "0.01" }]' })
  .superRefine((tiers, ctx) => {
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
          message: `the last tier must be open-ended; expected null here (every usage above ${previous.toFixed()} needs a price)`,
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
  })
  .transform((tiers): Tier[] =>
    tiers.map(({ upTo, unitPrice, flatFee }) =>
      flatFee === undefined ? { upTo, unitPrice } : { upTo, unitPrice, flatFee },
    ),
  );

const perUnit = z.object({
  model: z.literal('PER_UNIT'),
  unitPrice: decimalString,
  includedQuantity: decimalString.default('0'),
});

const graduated = z.object({ model: z.literal('GRADUATED'), tiers: tiersInput });

const volume = z.object({ model: z.literal('VOLUME'), tiers: tiersInput });

const packaged = z.object({
  model: z.literal('PACKAGE'),
  packageSize: positiveDecimal,
  packagePrice: decimalString,
  freeUnits: decimalString.default('0'),
});

const percentage = z
  .object({
    model: z.literal('PERCENTAGE'),
    rate: decimalString.refine((v) => new Dec(v).lte(1), {
      message: 'must be a fraction from 0 to 1; expected e.g. "0.029" for 2.9 %',
    }),
    fixedFeePerEvent: optionalDecimal,
    freeEvents: z
      .number({ error: 'must be a whole number of events, 0 or more' })
      .int({ message: 'must be a whole number of events, 0 or more' })
      .min(0, { message: 'must be a whole number of events, 0 or more' })
      .nullish()
      .transform((v) => v ?? undefined),
    minPerEvent: optionalDecimal,
    maxPerEvent: optionalDecimal,
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

const anyModel = z.discriminatedUnion('model', [perUnit, graduated, volume, packaged, percentage], {
  error: (issue) =>
    issue.code === 'invalid_union' ? `is not a charge model; expected one of ${CHARGE_MODELS.join(', ')}` : undefined,
});

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
