// Input rules for the subscriptions mutations, stated once, reported field by field.
import { z } from 'zod';
import { customerKey } from '../../lib/customer-key';
import { ROUNDING_MODES, canonicalDecimal, isCurrency, isDecimalString } from '../../lib/money';

const currency = z
  .string()
  .refine(isCurrency, { message: 'is not an ISO 4217 currency code (expected e.g. "USD", "EUR", "JPY")' });

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max);
const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .nullish()
    .transform((v) => (v ? v : null));

export const addressInput = z.object({
  line1: text(200),
  line2: optionalText(200),
  city: text(100),
  postalCode: optionalText(20),
  region: z
    .string()
    .regex(/^[A-Z0-9]{1,3}$/, 'must be an ISO 3166-2 subdivision code without the country, e.g. "CA"')
    .nullish()
    .transform((v) => v ?? null),
  country: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code, e.g. "US"'),
});

/** Country, then up to three subdivisions: US, US-CA, US-CA-SF. */
export const TAX_JURISDICTION = /^[A-Z]{2}(-[A-Z0-9]{1,8}){0,3}$/;
const taxJurisdiction = z
  .string()
  .regex(TAX_JURISDICTION, 'must be a country code, then up to three subdivisions, e.g. "US-CA-SF" or "DE"');

const nonNegativeDecimal = z
  .string()
  .refine(isDecimalString, { message: 'is not a decimal number (send it as a string, e.g. "1000")' })
  .refine((v) => !v.startsWith('-'), { message: 'must not be negative' })
  .transform(canonicalDecimal);

export const legalEntityInput = z.object({
  code: z.string().regex(/^[A-Z0-9][A-Z0-9_-]{0,31}$/, 'must be 1–32 upper-case letters, digits, "_" or "-"'),
  name: z.string().trim().min(1, 'must not be empty').max(200),
  functionalCurrency: currency,
  roundingMode: z.enum(ROUNDING_MODES as [string, ...string[]]).default('HALF_UP'),
  taxRounding: z.enum(['PER_LINE', 'PER_INVOICE']).nullish(),
  notePolicy: z
    .object({
      issuing: z.enum(['MANUAL', 'ON_RERATING', 'AT_PERIOD_CLOSE']).default('MANUAL'),
      minimumDifference: nonNegativeDecimal.nullish().transform((v) => v ?? '0'),
    })
    .nullish(),
  address: addressInput.nullish(),
  taxId: optionalText(64),
});

export const customerInput = z.object({
  // The same rule as a usage event's customer key and an alias: every key an event may carry can be a customer's.
  externalKey: customerKey,
  name: z.string().trim().min(1, 'must not be empty').max(200),
  currency,
  legalEntityCode: z.string().default('DEFAULT'),
  billingAddress: addressInput.nullish(),
  taxJurisdiction: taxJurisdiction.nullish(),
  taxId: optionalText(64),
  taxExemption: z
    .object({
      reason: z.enum(['REVERSE_CHARGE', 'EXEMPTION_CERTIFICATE', 'EXEMPT_ORGANIZATION']),
      certificateId: optionalText(64),
    })
    .refine((e) => e.reason !== 'EXEMPTION_CERTIFICATE' || e.certificateId, {
      message: 'an EXEMPTION_CERTIFICATE needs its certificateId',
      path: ['certificateId'],
    })
    .nullish(),
});

export const subscriptionInput = z
  .object({
    customerId: z.string().min(1).nullish(),
    customerExternalKey: z.string().min(1).nullish(),
    pricePlanId: z.string().min(1),
    startsAt: z.date(),
    endsAt: z.date().nullish(),
  })
  .refine((v) => Boolean(v.customerId) !== Boolean(v.customerExternalKey), {
    message: 'give exactly one of customerId or customerExternalKey',
    path: ['customerId'],
  })
  .refine((v) => !v.endsAt || v.endsAt > v.startsAt, { message: 'must be after startsAt', path: ['endsAt'] });

export const contractTermsInput = z
  .object({
    minimumCommitment: nonNegativeDecimal.nullish(),
    unitPriceOverrides: z
      .array(z.object({ usageTypeKey: z.string().min(1), unitPrice: nonNegativeDecimal }))
      .default([]),
    discountPercent: nonNegativeDecimal.refine((v) => Number(v) <= 100, { message: 'must be at most 100' }).nullish(),
  })
  .superRefine((t, ctx) => {
    const seen = new Set<string>();
    t.unitPriceOverrides.forEach((o, i) => {
      if (seen.has(o.usageTypeKey))
        ctx.addIssue({
          code: 'custom',
          path: ['unitPriceOverrides', i, 'usageTypeKey'],
          message: `usage type "${o.usageTypeKey}" has two overrides`,
        });
      seen.add(o.usageTypeKey);
    });
  });
