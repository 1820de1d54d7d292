// Formatting shared by the views. Pure functions (unit-tested).

/** "2025-07-13 14:05" in local time, for timestamps in milliseconds. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '';
  const date = new Date(ms);
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** Words for the engine's TRD status values. */
export function trdStatusText(status: string | null | undefined): string {
  switch (status) {
    case 'meets':
      return 'Meets TRD criteria';
    case 'does_not_meet':
      return 'Does not meet TRD criteria';
    case 'indeterminate':
      return 'TRD status indeterminate';
    case 'not_applicable':
      return 'TRD criteria not applicable';
    default:
      return 'Not assessed';
  }
}

/** snake_case identifiers as words ("does_not_meet" -> "does not meet"). */
export function words(identifier: string | null | undefined): string {
  return (identifier ?? '').replace(/_/g, ' ');
}

/** A KB id without its kind prefix ("drug.sertraline" -> "sertraline"). */
export function shortId(id: string | null | undefined): string {
  if (!id) return '';
  const dot = id.indexOf('.');
  return dot < 0 ? id : id.slice(dot + 1);
}

/** Today's local date as YYYY-MM-DD. */
export function today(): string {
  const date = new Date();
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** The URL paths of record sections, in record order, with their titles. */
export const SECTIONS: Array<[string, string]> = [
  ['medications', 'Medication courses'],
  ['scores', 'Rating scale scores'],
  ['genotypes', 'Genotypes'],
  ['labs', 'Laboratory results'],
  ['procedures', 'Procedures'],
  ['other-medications', 'Other medications'],
  ['vitals', 'Vital signs'],
  ['adverse-reactions', 'Adverse reactions'],
  ['daily-log', 'Daily log'],
];

/** A one-line description of a record entry for lists. */
export function describeEntry(section: string, body: Record<string, unknown>): string {
  const text = (key: string) => (body[key] === undefined || body[key] === null ? '' : String(body[key]));
  switch (section) {
    case 'medications': {
      const doses = Array.isArray(body.doses) ? (body.doses as Array<{ from: string; mg_per_day: number }>) : [];
      const doseText = doses.length ? doses.map((step) => `${step.mg_per_day} mg from ${step.from}`).join(', ') : 'dose not recorded';
      const end = text('end') || (body.ongoing ? 'ongoing' : 'end not recorded');
      return `${text('drug')} (${text('role') || 'course'} ${text('id')}): ${text('start')} to ${end}; ${doseText}`;
    }
    case 'scores': {
      const items = Array.isArray(body.items) ? ` items ${(body.items as unknown[]).map((item) => (item === null ? '–' : String(item))).join(' ')}` : '';
      const total = body.total !== undefined ? ` total ${text('total')}` : '';
      return `${text('scale')} on ${text('date')}${items}${total}${body.rater ? ` (${text('rater')})` : ''}`;
    }
    case 'genotypes':
      return `${text('gene')} ${text('diplotype')}${body.phenotype ? ` ${text('phenotype')}` : ''}${body.date ? ` (${text('date')})` : ''}`;
    case 'labs':
      return `${text('name')} ${text('value')} ${text('unit')} on ${text('date')}`;
    case 'procedures':
      return `${text('kind')} from ${text('start')}${body.sessions !== undefined ? `, ${text('sessions')} sessions` : ''}`;
    case 'daily-log':
      return `${text('date')}: mood ${text('mood') || '–'}, sleep ${text('sleep_hours') || '–'} h`;
    default:
      return Object.entries(body)
        .map(([key, value]) => `${key} ${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
        .join(', ');
  }
}
