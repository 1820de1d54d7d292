// The clinic's patients: TRD status and alerts first, and adding a patient from a record.
import { api, describeError } from '../api';
import { field, h, replace, status } from '../dom';
import { trdStatusText } from '../format';
import type { AppContext } from '../main';
import type { Page, PatientSummary } from '../types';

function alertBadges(patient: PatientSummary): HTMLElement {
  const counts = patient.alert_counts;
  const badges = h('span', { class: 'badges' });
  for (const severity of ['critical', 'warning', 'info'] as const) {
    if (counts[severity] > 0) badges.appendChild(h('span', { class: `badge ${severity}` }, `${counts[severity]} ${severity}`));
  }
  if (!badges.childNodes.length) badges.appendChild(h('span', { class: 'muted' }, 'no alerts'));
  return badges;
}

function patientRow(patient: PatientSummary): HTMLTableRowElement {
  const top = patient.alerts.slice(0, 2);
  return h(
    'tr',
    { class: patient.alert_counts.critical > 0 ? 'has-critical' : '' },
    h('td', {}, h('a', { href: `#/patients/${patient.id}` }, patient.label || patient.record_id), h('div', { class: 'muted small' }, patient.record_id)),
    h('td', {}, h('span', { class: `trd ${patient.trd_status ?? 'none'}` }, trdStatusText(patient.trd_status))),
    h('td', {}, alertBadges(patient)),
    h('td', {}, ...top.map((alert) => h('div', { class: `alert-line ${alert.severity}` }, alert.message))),
  );
}

export async function renderPatients(context: AppContext): Promise<void> {
  const rows = h('tbody', {});
  const more = h('div', {});
  const list = h(
    'table',
    { class: 'data patients' },
    h('caption', {}, 'Patients of your clinic'),
    h('thead', {}, h('tr', {}, ...['Patient', 'TRD status', 'Alerts', 'Leading alerts'].map((text) => h('th', { scope: 'col' }, text)))),
    rows,
  );
  const load = async (after: number | null) => {
    const page = await api<Page<PatientSummary>>('GET', `/patients?limit=50${after ? `&after=${after}` : ''}`);
    for (const patient of page.items) rows.appendChild(patientRow(patient));
    if (!rows.childNodes.length) rows.appendChild(h('tr', {}, h('td', { colspan: '4' }, 'No patients yet. Add one below.')));
    replace(more);
    if (page.next_after !== null) {
      const button = h('button', { type: 'button' }, 'Show more patients');
      button.addEventListener('click', () => void load(page.next_after));
      more.appendChild(button);
    }
  };
  replace(context.main, h('h1', {}, 'Patients'), list, more, addPatientForm(context));
  await load(null);
}

function addPatientForm(context: AppContext): HTMLElement {
  const label = h('input', { name: 'label', autocomplete: 'off' });
  const recordId = h('input', { name: 'record_id', required: true, autocomplete: 'off', spellcheck: 'false' });
  const birthDate = h('input', { name: 'birth_date', type: 'date' });
  const sex = h('select', { name: 'sex' }, ...['', 'female', 'male', 'other', 'unknown'].map((value) => h('option', { value }, value || 'not recorded')));
  const episodeStart = h('input', { name: 'episode_start', type: 'date' });
  const file = h('input', { name: 'record_file', type: 'file', accept: 'application/json,.json' });
  const message = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'card', id: 'add-patient' },
    h('h2', {}, 'Add a patient'),
    h('p', { class: 'muted' }, 'Start a record here and add medications, scores and results on the patient page, or load a whole refract.patient/v1 record file.'),
    h('div', { class: 'grid' }, field('Name shown in the list', label, 'Initials or a name; stays in this clinic.'), field('Record id', recordId, 'The id in your records system (MRN or pseudonym).')),
    h('div', { class: 'grid' }, field('Birth date', birthDate), field('Sex', sex), field('Current episode started', episodeStart)),
    field('Or a record file (JSON)', file),
    message,
    h('button', { type: 'submit', class: 'primary' }, 'Add patient'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(message);
    try {
      let record: Record<string, unknown>;
      if (file.files && file.files.length > 0) {
        record = JSON.parse(await file.files[0].text()) as Record<string, unknown>;
        if (recordId.value) record.id = recordId.value;
      } else {
        record = { schema: 'refract.patient/v1', id: recordId.value.trim() };
        const person: Record<string, unknown> = {};
        if (birthDate.value) person.birth_date = birthDate.value;
        if (sex.value) person.sex = sex.value;
        if (Object.keys(person).length) record.person = person;
        if (episodeStart.value) record.episode = { start: episodeStart.value };
      }
      const created = await api<{ patient: { id: number } }>('POST', '/patients', { record, label: label.value.trim() });
      context.navigate(`#/patients/${created.patient.id}`);
    } catch (error) {
      replace(message, status(describeError(error), 'error'));
    }
  });
  return form;
}
