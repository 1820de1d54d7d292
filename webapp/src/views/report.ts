// The printable report: the assessment on paper, alerts first, with the timeline and sources.
import { api } from '../api';
import { drawChart } from '../chart';
import { h, replace } from '../dom';
import { trdStatusText } from '../format';
import type { AppContext } from '../main';
import type { AssessmentAnswer } from '../types';
import { renderAlerts, renderMeasurement, renderOtherSections, renderProcedures, renderSources, renderStaging, renderTrd, renderTrials } from './assessment';

// On paper every explanation is shown, not only the summaries.
window.addEventListener('beforeprint', () => {
  for (const details of Array.from(document.querySelectorAll('details'))) details.open = true;
});

export async function renderReport(context: AppContext, patientId: number): Promise<void> {
  const answer = await api<AssessmentAnswer>('GET', `/patients/${patientId}/assessment`);
  const assessment = answer.assessment;
  const engine = (assessment.engine ?? {}) as Record<string, string>;
  const print = h('button', { type: 'button', class: 'primary' }, 'Print');
  print.addEventListener('click', () => window.print());

  const chart = h('div', { class: 'chart', role: 'img', 'aria-label': 'Timeline of scores and treatments' });
  const trd = (assessment.trd ?? {}) as { status?: string };
  replace(
    context.main,
    h(
      'article',
      { class: 'report' },
      h('div', { class: 'no-print toolbar' }, h('a', { class: 'button', href: `#/patients/${patientId}` }, 'Back to the patient'), print),
      h('h1', {}, `Assessment: ${answer.patient.label || answer.patient.record_id}`),
      h('p', {}, `Record ${answer.patient.record_id} · as of ${assessment.as_of} · criteria ${String((assessment.criteria as { name?: string } | null)?.name ?? '')} · ${trdStatusText(trd.status)}`),
      h('p', { class: 'small muted' }, `refract ${engine.version ?? ''} · KB ${engine.kb_version ?? ''} (${engine.kb_source ?? ''}) · digest ${(engine.kb_digest ?? '').slice(0, 16)}`),
      renderAlerts(assessment.alerts ?? []),
      h('section', {}, h('h2', {}, 'Timeline'), chart),
      renderTrials(assessment),
      renderTrd(assessment),
      renderStaging(assessment),
      renderProcedures(assessment),
      renderMeasurement(assessment),
      ...renderOtherSections(assessment),
      renderSources(assessment),
      h('p', { class: 'small muted' }, 'refract supports a clinician\'s judgement; it does not replace it.'),
    ),
  );
  await drawChart(chart, answer.timeline);
}
