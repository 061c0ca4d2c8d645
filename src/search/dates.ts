// Dates in filters: a day (YYYY-MM-DD) or a full ISO date, as UTC (EXIF dates are stored as
// written and read as UTC, so a day means that calendar day wherever the photo was taken).
import { InputError } from '../errors.js';

export function parseDate(value: string, what: string): number {
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (!Number.isFinite(t))
    throw new InputError(`${what}: expected a date such as 2020-01-31, got ${JSON.stringify(value)}`);
  return t;
}
