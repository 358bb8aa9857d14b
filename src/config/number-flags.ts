// Numbers given as text (flags, URL queries), checked where they enter, with bounds in the message
// that names the flag. Every number gets an upper bound: past it a count would wrap in the native
// integer it becomes, and a time would fire at once (Node holds a timer of at most 2^31-1 ms and
// runs a longer one after 1 ms).
import { z } from 'zod';
import { UsageError } from '../errors';

/** The longest time a timer can wait: 2,147,483 s (24.8 days). */
export const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** Bytes a rotated file may reach, in MB (-C): 1 TB, far below what a 64-bit count holds. */
export const MAX_FILE_MB = 1_000_000;

/** A whole number between min and max (required: `.optional()` where the flag may be left out). */
export const wholeNumber = (flag: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, { message: `${flag} takes a whole number` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { message: `${flag} must be between ${min} and ${max}` });

/** A number with an optional decimal part between min and max. */
export const decimalNumber = (flag: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, { message: `${flag} takes a number` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { message: `${flag} must be between ${min} and ${max}` });

/** A number greater than 0 and at most max. */
export const positiveNumber = (flag: string, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+(\.\d+)?$/, { message: `${flag} takes a positive number` })
    .transform(Number)
    .refine((n) => n > 0, { message: `${flag} must be greater than 0` })
    .refine((n) => n <= max, { message: `${flag} must be at most ${max}` });

/** An optional whole-number flag (capture's, analyze's and shadow's flags). */
export const intFlag = (flag: string, min: number, max: number) => wholeNumber(flag, min, max).optional();

/** What a flag's schema makes of `text`, or a UsageError with the schema's message. */
export function flagValue<T>(schema: z.ZodType<T, z.ZodTypeDef, string | undefined>, text: string | undefined): T {
  const parsed = schema.safeParse(text);
  if (!parsed.success) throw new UsageError(parsed.error.issues[0].message);
  return parsed.data;
}
