// A patient's own page: fill in the questionnaires and see what they sent before. Patients see
// only their own self-reports, never the clinical record.
import { api, describeError } from '../api';
import { h, replace, status, table } from '../dom';
import { describeEntry, formatTime } from '../format';
import type { AppContext } from '../main';
import { crisisBox, renderSelfReportForm } from '../selfreport-form';
import type { Entry, SelfReportForm } from '../types';

export async function renderMe(context: AppContext, flash?: { text: string; emergency: string } | null): Promise<void> {
  const [form, mine] = await Promise.all([api<SelfReportForm>('GET', '/me/self-report-form'), api<{ items: Entry[] }>('GET', '/me/self-reports')]);
  const container = h('div', { class: 'self-report' });
  const message = h('div', { 'aria-live': 'polite' }, flash !== undefined ? status('Your answers were sent to your clinic.', 'ok') : null, crisisBox(flash ?? null, Boolean(flash)));
  replace(
    context.main,
    h('h1', {}, 'My check-ins'),
    message,
    container,
    h('h2', {}, 'What I sent before'),
    mine.items.length
      ? table(null, ['Sent', 'What'], mine.items.map((entry) => [formatTime(entry.created_at_ms), describeEntry(entry.section, entry.body)]))
      : h('p', { class: 'muted' }, 'Nothing yet.'),
    crisisBox(form.crisis, false),
  );
  renderSelfReportForm(container, form, async (answers) => {
    try {
      const saved = await api<{ saved: number; crisis?: { text: string; emergency: string } }>('POST', '/me/self-reports', answers);
      await renderMe(context, saved.crisis ?? null);
      window.scrollTo(0, 0);
    } catch (error) {
      container.querySelector('.form-message')?.replaceChildren(status(describeError(error), 'error'));
    }
  });
}
