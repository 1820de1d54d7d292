// Unit tests of the pure formatting helpers (vitest).
import { describe, expect, it } from 'vitest';
import { describeEntry, shortId, trdStatusText, words } from './format';

describe('format', () => {
  it('names TRD statuses in words', () => {
    expect(trdStatusText('meets')).toBe('Meets TRD criteria');
    expect(trdStatusText('does_not_meet')).toBe('Does not meet TRD criteria');
    expect(trdStatusText(undefined)).toBe('Not assessed');
  });

  it('drops KB prefixes and underscores', () => {
    expect(shortId('drug.sertraline')).toBe('sertraline');
    expect(shortId('plain')).toBe('plain');
    expect(words('does_not_meet')).toBe('does not meet');
  });

  it('describes a course with its dose steps', () => {
    const text = describeEntry('medications', {
      id: 'course-1',
      drug: 'sertraline',
      role: 'monotherapy',
      start: '2025-01-10',
      ongoing: true,
      doses: [
        { from: '2025-01-10', mg_per_day: 50 },
        { from: '2025-02-01', mg_per_day: 100 },
      ],
    });
    expect(text).toBe('sertraline (monotherapy course-1): 2025-01-10 to ongoing; 50 mg from 2025-01-10, 100 mg from 2025-02-01');
  });

  it('describes a score item by item, unanswered as a dash', () => {
    expect(describeEntry('scores', { scale: 'phq9', date: '2025-05-01', items: [1, null, 2], rater: 'self' })).toBe('phq9 on 2025-05-01 items 1 – 2 (self)');
  });
});
