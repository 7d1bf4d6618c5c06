// One rule for a customer key, wherever it appears: on a usage event, as a customer's external key, as an alias.
// An event is only useful if its key can be mapped to a customer, so every key an event may carry must be mappable.
import { z } from 'zod';

export const CUSTOMER_KEY_MAX_LENGTH = 128;

/** No control, format, private-use or unassigned characters, and no lone surrogates (`\p{C}`). */
const UNPRINTABLE = /\p{C}/u;

export const CUSTOMER_KEY_EXPECTED =
  `1–${CUSTOMER_KEY_MAX_LENGTH} printable characters (letters, digits, spaces and punctuation such as ` +
  '"@", ".", "_", ":", "-", "/", "+"), without spaces at either end';

/** Why `key` cannot be a customer key, or null when it can. */
export function customerKeyProblem(key: string): string | null {
  if (key.length === 0) return 'must not be empty';
  if (key.length > CUSTOMER_KEY_MAX_LENGTH) return `must be at most ${CUSTOMER_KEY_MAX_LENGTH} characters`;
  if (UNPRINTABLE.test(key)) return 'must not contain control or unprintable characters';
  if (key.trim() !== key) return 'must not start or end with a space';
  return null;
}

export const customerKey = z.string().superRefine((key, ctx) => {
  const problem = customerKeyProblem(key);
  if (problem) ctx.addIssue({ code: 'custom', message: problem, params: { expected: CUSTOMER_KEY_EXPECTED } });
});
