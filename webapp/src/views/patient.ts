// The patient page: alerts first, the timeline (scores over medication bars), trials, TRD status,
// staging, scores, drivers/options/monitoring, then the record with its forms, the interaction
// what-if and self-report links. Every change reloads the assessment.
import { api, describeError } from '../api';
import { drawChart } from '../chart';
import { h, replace, select, status } from '../dom';
import { SECTIONS, describeEntry, formatTime, trdStatusText } from '../format';
import type { AppContext } from '../main';
import type { AssessmentAnswer, Entry, PatientRecord } from '../types';
import { renderAlerts, renderMeasurement, renderOtherSections, renderProcedures, renderStaging, renderTrd, renderTrials } from './assessment';
import { doseForm, genotypeForm, labForm, medicationForm, otherMedicationForm, procedureForm, scoreForm } from './forms';
import { renderInvitations } from './invitations';
import { renderWhatIf } from './whatif';

interface KbInfo {
  default_criteria: string;
  criteria: Array<{ id: string; name: string }>;
}

let kbInfo: Promise<KbInfo> | null = null;

function query(asOf: string, criteria: string): string {
  const parts: string[] = [];
  if (asOf) parts.push(`as_of=${encodeURIComponent(asOf)}`);
  if (criteria) parts.push(`criteria=${encodeURIComponent(criteria)}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

function entryList(patientId: number, section: string, title: string, entries: Entry[], changed: (message: string) => void): HTMLElement | null {
  if (!entries.length) return null;
  return h(
    'div',
    { class: 'entry-group' },
    h('h3', {}, title),
    h(
      'ul',
      { class: 'entries' },
      ...entries.map((entry) => {
        const remove = h('button', { type: 'button', class: 'small-button', 'aria-label': `Remove: ${describeEntry(section, entry.body)}` }, 'Remove');
        remove.addEventListener('click', async () => {
          if (!window.confirm(`Remove this entry from the record?\n${describeEntry(section, entry.body)}`)) return;
          try {
            await api('DELETE', `/patients/${patientId}/${section}/${entry.id}`);
            changed('Entry removed.');
          } catch (error) {
            window.alert(describeError(error));
          }
        });
        return h(
          'li',
          {},
          h('span', {}, describeEntry(section, entry.body)),
          entry.source === 'self_report' ? h('span', { class: 'badge info' }, 'self-report') : null,
          h('span', { class: 'muted small' }, ` added ${formatTime(entry.created_at_ms)}`),
          remove,
        );
      }),
    ),
  );
}

export async function renderPatient(context: AppContext, patientId: number, flash = '', asOf = '', criteria = ''): Promise<void> {
  kbInfo ??= api<KbInfo>('GET', '/kb');
  const [record, answer, kb] = await Promise.all([
    api<PatientRecord>('GET', `/patients/${patientId}`),
    api<AssessmentAnswer>('GET', `/patients/${patientId}/assessment${query(asOf, criteria)}`),
    kbInfo,
  ]);
  const assessment = answer.assessment;
  const reload = (message: string) => void renderPatient(context, patientId, message, asOf, criteria).then(() => {
    const target = document.getElementById('record-status');
    target?.scrollIntoView({ block: 'center' });
    target?.focus();
  });

  const trd = (assessment.trd ?? {}) as { status?: string };
  const asOfInput = h('input', { type: 'date', name: 'as_of', value: String(assessment.as_of), id: 'as-of' });
  const criteriaSelect = select('criteria', kb.criteria.map((entry): [string, string] => [entry.id.replace(/^criteria\./, ''), entry.name]), (criteria || kb.default_criteria).replace(/^criteria\./, ''));
  criteriaSelect.id = 'criteria';
  const options = h(
    'form',
    { class: 'toolbar', 'aria-label': 'Assessment options' },
    h('label', { for: 'as-of' }, 'Assess as of'),
    asOfInput,
    h('label', { for: 'criteria' }, 'Criteria'),
    criteriaSelect,
    h('button', { type: 'submit' }, 'Update'),
    h('a', { class: 'button', href: `#/patients/${patientId}/report` }, 'Printable report'),
    h('a', { class: 'button', href: `/api/v1/patients/${patientId}/report${query(asOf, criteria)}`, target: '_blank', rel: 'noopener' }, 'HTML report'),
  );
  options.addEventListener('submit', (event) => {
    event.preventDefault();
    void renderPatient(context, patientId, '', asOfInput.value, criteriaSelect.value);
  });

  const chart = h('div', { class: 'chart', id: 'timeline-chart', role: 'img', 'aria-label': 'Timeline: rating scale totals over time above the medication courses, dose steps and procedures' });
  const courses = record.entries.medications ?? [];
  const recordStatus = h('div', { id: 'record-status', tabindex: '-1', 'aria-live': 'polite' }, flash ? status(`${flash} The assessment is updated.`, 'ok') : null);
  const forms = h('div', { class: 'forms' });
  const lists = h('div', { class: 'entry-lists' }, ...SECTIONS.map(([section, title]) => entryList(patientId, section, title, record.entries[section] ?? [], reload)));

  replace(
    context.main,
    h(
      'header',
      { class: 'patient-header' },
      h('p', { class: 'breadcrumb' }, h('a', { href: '#/patients' }, 'Patients'), ' / '),
      h('h1', {}, record.patient.label || record.patient.record_id),
      h('p', {}, h('span', { class: `trd ${trd.status ?? 'none'}` }, trdStatusText(trd.status)), h('span', { class: 'muted' }, ` Record ${record.patient.record_id} · version ${record.patient.version} · assessed as of ${assessment.as_of}`)),
      options,
    ),
    renderAlerts(assessment.alerts ?? []),
    h('section', { 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Timeline'), chart),
    renderTrials(assessment),
    renderTrd(assessment),
    renderStaging(assessment),
    renderProcedures(assessment),
    renderMeasurement(assessment),
    ...renderOtherSections(assessment),
    h('section', { 'aria-labelledby': 'record-title', id: 'record' }, h('h2', { id: 'record-title' }, 'Record'), recordStatus, lists, forms),
  );
  void drawChart(chart, answer.timeline);

  forms.append(
    await medicationForm(patientId, courses, reload),
    doseForm(patientId, courses, reload),
    await scoreForm(patientId, reload),
    genotypeForm(patientId, reload),
    labForm(patientId, reload),
    procedureForm(patientId, reload),
    await otherMedicationForm(patientId, reload),
  );
  try {
    context.main.append(await renderWhatIf(patientId), await renderInvitations(patientId));
  } catch (error) {
    context.main.append(status(describeError(error), 'error'));
  }
}
