// Dates in filters: a day (YYYY-MM-DD) or an ISO date and time (2020-01-31T18:30[:00[.000]][Z|+01:00]),
// as UTC when no offset is given (EXIF dates are stored as written and read as UTC, so a day means
// that calendar day wherever the photo was taken). Only these forms: Date.parse alone would take
// "1" as the year 2001 and 2020-02-31 as March 2nd.
import { InputError } from '../errors.js';

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

export function parseDate(value: string, what: string): number {
  const m = ISO.exec(value);
  const [year, month, day] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  const dayStart = Date.UTC(year, month - 1, day);
  const valid = m && month >= 1 && month <= 12 && new Date(dayStart).getUTCDate() === day;
  const t = !valid ? NaN : value.length === 10 ? dayStart : Date.parse(m[4] ? value : `${value}Z`);
  if (!Number.isFinite(t))
    throw new InputError(`${what}: expected a date such as 2020-01-31, got ${JSON.stringify(value)}`);
  return t;
}
