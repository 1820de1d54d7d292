// The patient's questionnaires (PHQ-9, GAD-7, daily log), mobile first: one question per
// fieldset, large radio targets, labels on everything, keyboard only works, no colour-only cues.
import { h, replace, uid } from './dom';
import type { FormInstrument, SelfReportForm } from './types';

/** What the patient answered, in the API's shape. */
export interface SelfReportAnswers {
  scales: Array<{ scale: string; items: Array<number | null> }>;
  daily_log?: Record<string, number | string>;
}

const DAILY_LABELS: Record<string, string> = {
  mood: 'Mood today (0 = worst, 10 = best)',
  sleep_hours: 'Hours of sleep last night',
  energy: 'Energy today (0 = none, 10 = full)',
  functioning: 'Getting things done today (0 = not at all, 10 = as usual)',
  anxiety: 'Anxiety today (0 = none, 10 = extreme)',
  doses_missed: 'Doses of your medicine missed today',
  note: 'Anything else you want your clinician to know (optional)',
};

function scaleSection(instrument: FormInstrument): HTMLElement {
  const items = instrument.items ?? [];
  return h(
    'section',
    { class: 'instrument', 'data-scale': instrument.id, 'aria-labelledby': `title-${instrument.id}` },
    h('h2', { id: `title-${instrument.id}` }, instrument.short_name ?? instrument.name),
    h('p', { class: 'intro' }, `Over the ${instrument.recall || 'last 2 weeks'}, how often have you been bothered by the following problems?`),
    ...items.map((item, index) => {
      const name = `${instrument.id}-${index}`;
      return h(
        'fieldset',
        { class: 'question' },
        h('legend', {}, h('span', { class: 'number' }, `${index + 1}. `), item.text),
        h(
          'div',
          { class: 'choices' },
          ...Array.from({ length: item.max - item.min + 1 }, (_, offset) => {
            const value = item.min + offset;
            const id = uid('answer');
            return h(
              'div',
              { class: 'choice' },
              h('input', { type: 'radio', name, id, value: String(value) }),
              h('label', { for: id }, item.answers[offset] ? `${item.answers[offset][0].toUpperCase()}${item.answers[offset].slice(1)}` : String(value)),
            );
          }),
        ),
      );
    }),
  );
}

// The daily log's questions in the order a person answers them.
const DAILY_ORDER = ['mood', 'sleep_hours', 'energy', 'functioning', 'anxiety', 'doses_missed', 'note'];

function capitalised(text: string): string {
  return text ? text[0].toUpperCase() + text.slice(1) : text;
}

function dailySection(instrument: FormInstrument): HTMLElement {
  const given = instrument.fields ?? {};
  const keys = [...DAILY_ORDER.filter((key) => key in given), ...Object.keys(given).filter((key) => !DAILY_ORDER.includes(key))];
  const fields = Object.fromEntries(keys.map((key) => [key, given[key]]));
  return h(
    'section',
    { class: 'instrument', 'data-daily': 'true', 'aria-labelledby': 'title-daily' },
    h('h2', { id: 'title-daily' }, 'Today'),
    ...Object.entries(fields).map(([key, spec]) => {
      const id = uid('daily');
      const isNote = key === 'note';
      const input = isNote
        ? h('textarea', { id, name: key, rows: '3', maxlength: '2000' })
        : h('input', {
            id,
            name: key,
            type: 'number',
            inputmode: key === 'sleep_hours' ? 'decimal' : 'numeric',
            min: spec.minimum !== undefined ? String(spec.minimum) : null,
            max: spec.maximum !== undefined ? String(spec.maximum) : null,
            step: key === 'sleep_hours' ? '0.5' : '1',
          });
      return h('div', { class: 'field' }, h('label', { for: id }, DAILY_LABELS[key] ?? key.replace(/_/g, ' ')), input);
    }),
  );
}

/** Renders the form into `container`; `submit` receives the answers. Returns the form element. */
export function renderSelfReportForm(container: HTMLElement, form: SelfReportForm, submit: (answers: SelfReportAnswers) => Promise<void>): HTMLFormElement {
  const element = h('form', { class: 'self-report-form', novalidate: true });
  for (const instrument of form.instruments) element.appendChild(instrument.kind === 'scale' ? scaleSection(instrument) : dailySection(instrument));
  const message = h('div', { 'aria-live': 'assertive', class: 'form-message' });
  const button = h('button', { type: 'submit', class: 'primary big' }, 'Send my answers');
  element.append(message, button);
  element.addEventListener('submit', async (event) => {
    event.preventDefault();
    const answers = collectAnswers(element, form);
    const missing = answers.scales.reduce((count, scale) => count + scale.items.filter((value) => value === null).length, 0);
    if (missing > 0 && !element.dataset.confirmedMissing) {
      element.dataset.confirmedMissing = 'yes';
      replace(message, h('p', { class: 'status error', role: 'alert' }, `${missing} question(s) have no answer. Answer them, or press "Send my answers" again to send anyway.`));
      return;
    }
    button.disabled = true;
    try {
      await submit(answers);
    } finally {
      button.disabled = false;
    }
  });
  replace(container, element);
  return element;
}

/** Reads the answers from the form (unanswered questions are null). */
export function collectAnswers(element: HTMLFormElement, form: SelfReportForm): SelfReportAnswers {
  const answers: SelfReportAnswers = { scales: [] };
  for (const instrument of form.instruments) {
    if (instrument.kind === 'scale') {
      const items = (instrument.items ?? []).map((_, index) => {
        const checked = element.querySelector<HTMLInputElement>(`input[name="${instrument.id}-${index}"]:checked`);
        return checked ? Number(checked.value) : null;
      });
      // Trailing unanswered questions are left off (the last PHQ-9 question is optional).
      while (items.length && items[items.length - 1] === null) items.pop();
      answers.scales.push({ scale: instrument.id, items });
      continue;
    }
    const daily: Record<string, number | string> = {};
    for (const key of Object.keys(instrument.fields ?? {})) {
      const input = element.querySelector<HTMLInputElement | HTMLTextAreaElement>(`[name="${key}"]`);
      if (!input || input.value.trim() === '') continue;
      daily[key] = key === 'note' ? input.value.trim() : Number(input.value);
    }
    if (Object.keys(daily).length) answers.daily_log = daily;
  }
  return answers;
}

/** The crisis message shown when a suicide question was answered above 0 (and always at the foot). */
export function crisisBox(crisis: { text: string; emergency: string } | null, urgent: boolean): HTMLElement | null {
  if (!crisis) return null;
  return h(
    'aside',
    { class: `crisis${urgent ? ' urgent' : ''}`, role: urgent ? 'alert' : 'note', 'aria-label': 'Help now' },
    h('h2', {}, urgent ? 'Please reach out now' : 'If you need help now'),
    urgent ? h('p', {}, 'You told us you have had thoughts of hurting yourself. Your clinic will see your answers, but please do not wait:') : null,
    h('p', { class: 'crisis-line' }, capitalised(crisis.text)),
    h('p', {}, capitalised(crisis.emergency)),
  );
}
