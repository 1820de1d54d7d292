// Forms that add to a record: medication courses, dose changes, scores item by item, genotypes,
// labs and procedures. Each posts one entry; the server checks the whole record before storing it.
import { api, describeError } from '../api';
import { field, h, replace, select, status, uid } from '../dom';
import { today } from '../format';
import type { Drug, Entry, Scale, ScaleItem } from '../types';

type Saved = (message: string) => void;

let drugsCache: Promise<Drug[]> | null = null;
/** The KB's drugs, loaded once (for the drug name lists). */
export function drugs(): Promise<Drug[]> {
  drugsCache ??= api<{ items: Drug[] }>('GET', '/drugs').then((answer) => answer.items);
  return drugsCache;
}

/** A labelled text input offering the KB's drug names (any name, brand or misspelling is accepted). */
export async function drugField(label: string, name: string, hint?: string): Promise<{ input: HTMLInputElement; element: HTMLElement }> {
  const listId = uid('drugs');
  const input = h('input', { name, list: listId, required: true, autocomplete: 'off', spellcheck: 'false' });
  const list = h('datalist', { id: listId }, ...(await drugs()).map((drug) => h('option', { value: drug.inn })));
  const element = field(label, input, hint);
  element.appendChild(list);
  return { input, element };
}

function checkbox(label: string, input: HTMLInputElement): HTMLElement {
  input.id ||= uid();
  return h('div', { class: 'field checkbox' }, input, h('label', { for: input.id }, label));
}

function numberOrUndefined(input: HTMLInputElement): number | undefined {
  return input.value === '' ? undefined : Number(input.value);
}

function submitForm(form: HTMLFormElement, message: HTMLElement, send: () => Promise<string>, saved: Saved): void {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(message);
    const button = form.querySelector<HTMLButtonElement>('button[type=submit]');
    if (button) button.disabled = true;
    try {
      saved(await send());
    } catch (error) {
      replace(message, status(describeError(error), 'error'));
    } finally {
      if (button) button.disabled = false;
    }
  });
}

/** A new medication course (antidepressant or augmenting agent). */
export async function medicationForm(patientId: number, courses: Entry[], saved: Saved): Promise<HTMLFormElement> {
  const drugChoice = await drugField('Drug', 'drug', 'Generic or brand name.');
  const drug = drugChoice.input;
  const role = select('role', [
    ['monotherapy', 'Monotherapy'],
    ['augmentation', 'Augmentation'],
    ['combination', 'Combination'],
  ]);
  const augments = select('augments', [['', '—'], ...courses.map((course): [string, string] => [String(course.body.id ?? ''), `${String(course.body.drug)} from ${String(course.body.start)}`])]);
  const start = h('input', { name: 'start', type: 'date', required: true, value: today() });
  const end = h('input', { name: 'end', type: 'date' });
  const ongoing = h('input', { name: 'ongoing', type: 'checkbox', checked: true });
  const dose = h('input', { name: 'mg_per_day', type: 'number', min: '0', step: 'any', inputmode: 'decimal' });
  const adherence = select('adherence', [['', 'not recorded'], ['good', 'good'], ['partial', 'partial'], ['poor', 'poor']]);
  const improvement = h('input', { name: 'improvement', type: 'number', min: '-100', max: '100', step: 'any' });
  const outcome = select('outcome', [['', 'not recorded'], ...['nonresponse', 'partial', 'response', 'remission', 'intolerance'].map((value): [string, string] => [value, value])]);
  const message = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'entry-form', 'aria-labelledby': 'form-medication' },
    h('h3', { id: 'form-medication' }, 'Add a medication course'),
    h('div', { class: 'grid' }, drugChoice.element, field('Role', role), field('Augments or combined with', augments)),
    h('div', { class: 'grid' }, field('Start', start), field('End (last day taken)', end), checkbox('Ongoing', ongoing)),
    h('div', { class: 'grid' }, field('Dose from the start (mg/day)', dose), field('Adherence', adherence), field('Improvement so far (%)', improvement), field('Outcome', outcome)),
    message,
    h('button', { type: 'submit', class: 'primary' }, 'Add course'),
  );
  submitForm(
    form,
    message,
    async () => {
      const body: Record<string, unknown> = { drug: drug.value.trim(), start: start.value, role: role.value };
      if (role.value !== 'monotherapy' && augments.value) body.augments = augments.value;
      if (end.value) body.end = end.value;
      else if (ongoing.checked) body.ongoing = true;
      const mg = numberOrUndefined(dose);
      if (mg !== undefined) body.doses = [{ from: start.value, mg_per_day: mg }];
      if (adherence.value) body.adherence = adherence.value;
      const percent = numberOrUndefined(improvement);
      if (percent !== undefined) body.improvement = { percent, rated_by: 'clinician', date: today() };
      if (outcome.value) body.outcome = outcome.value;
      await api('POST', `/patients/${patientId}/medications`, body);
      return `Added ${drug.value.trim()}.`;
    },
    saved,
  );
  return form;
}

/** A dose change of an existing course. */
export function doseForm(patientId: number, courses: Entry[], saved: Saved): HTMLFormElement {
  const course = select('course', courses.map((entry): [string, string] => [String(entry.id), `${String(entry.body.drug)} from ${String(entry.body.start)}`]));
  const from = h('input', { name: 'from', type: 'date', required: true, value: today() });
  const dose = h('input', { name: 'mg_per_day', type: 'number', min: '0', step: 'any', required: true, inputmode: 'decimal' });
  const message = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'entry-form', 'aria-labelledby': 'form-dose' },
    h('h3', { id: 'form-dose' }, 'Record a dose change'),
    courses.length ? null : h('p', { class: 'muted' }, 'Add a course first.'),
    h('div', { class: 'grid' }, field('Course', course), field('From', from), field('New total dose (mg/day)', dose)),
    message,
    h('button', { type: 'submit', class: 'primary', disabled: courses.length === 0 }, 'Record dose change'),
  );
  submitForm(
    form,
    message,
    async () => {
      await api('POST', `/patients/${patientId}/medications/${course.value}/doses`, { from: from.value, mg_per_day: Number(dose.value) });
      return `Dose changed to ${dose.value} mg/day from ${from.value}.`;
    },
    saved,
  );
  return form;
}

function itemInput(item: ScaleItem, index: number): HTMLElement {
  const id = uid('item');
  const label = `${item.label}. ${item.text || `Item ${item.label}`}`;
  if (item.answers.length === item.max - item.min + 1) {
    const choice = select(`item-${index}`, [['', 'not answered'], ...item.answers.map((answer, offset): [string, string] => [String(item.min + offset), `${item.min + offset} – ${answer}`])]);
    choice.id = id;
    return field(label, choice);
  }
  const input = h('input', { id, name: `item-${index}`, type: 'number', min: String(item.min), max: String(item.max), step: '1', inputmode: 'numeric' });
  return field(label, input, `${item.min} to ${item.max}`);
}

/** A rating scale administration with every item (or a total when items were not kept). */
export async function scoreForm(patientId: number, saved: Saved): Promise<HTMLFormElement> {
  const scales = (await api<{ items: Scale[] }>('GET', '/scales')).items;
  const scale = select('scale', scales.map((entry): [string, string] => [entry.id.replace(/^scale\./, ''), `${entry.short_name} – ${entry.name}`]), 'phq9');
  const date = h('input', { name: 'date', type: 'date', required: true, value: today() });
  const rater = select('rater', [['clinician', 'clinician'], ['self', 'patient (self-report)']]);
  const total = h('input', { name: 'total', type: 'number', step: 'any' });
  const items = h('fieldset', { class: 'items' });
  const message = h('div', { 'aria-live': 'polite' });
  let current: ScaleItem[] = [];
  const loadItems = async () => {
    const definition = await api<Scale>('GET', `/scales/${scale.value}`);
    current = Array.isArray(definition.items) ? definition.items : [];
    rater.value = definition.rater === 'self' ? 'self' : 'clinician';
    replace(items, h('legend', {}, `${definition.short_name} items`), ...current.map((item, index) => itemInput(item, index)));
  };
  scale.addEventListener('change', () => void loadItems());
  const form = h(
    'form',
    { class: 'entry-form', 'aria-labelledby': 'form-score' },
    h('h3', { id: 'form-score' }, 'Add a score'),
    h('div', { class: 'grid' }, field('Scale', scale), field('Date', date), field('Rated by', rater)),
    items,
    field('Or the total only (when the items were not kept)', total),
    message,
    h('button', { type: 'submit', class: 'primary' }, 'Add score'),
  );
  await loadItems();
  submitForm(
    form,
    message,
    async () => {
      const values = current.map((_, index) => {
        const input = form.querySelector<HTMLInputElement | HTMLSelectElement>(`[name="item-${index}"]`);
        return input && input.value !== '' ? Number(input.value) : null;
      });
      const body: Record<string, unknown> = { scale: scale.value, date: date.value, rater: rater.value };
      if (values.some((value) => value !== null)) {
        // Trailing unanswered optional items are left off; the engine scores what is there.
        while (values.length && values[values.length - 1] === null) values.pop();
        body.items = values;
      } else if (total.value !== '') {
        body.total = Number(total.value);
      }
      await api('POST', `/patients/${patientId}/scores`, body);
      return `Added ${scale.value} of ${date.value}.`;
    },
    saved,
  );
  return form;
}

/** A pharmacogenomic result. */
export function genotypeForm(patientId: number, saved: Saved): HTMLFormElement {
  const gene = select('gene', [['CYP2D6', 'CYP2D6'], ['CYP2C19', 'CYP2C19'], ['CYP2B6', 'CYP2B6']]);
  const diplotype = h('input', { name: 'diplotype', placeholder: '*1/*2', pattern: '^\\*[0-9A-Za-z.]+(x[0-9N]+)?/\\*[0-9A-Za-z.]+(x[0-9N]+)?$', spellcheck: 'false' });
  const phenotype = select('phenotype', [['', 'from the diplotype'], ...['ultrarapid', 'rapid', 'normal', 'likely_intermediate', 'intermediate', 'likely_poor', 'poor', 'indeterminate'].map((value): [string, string] => [value, value.replace('_', ' ')])]);
  const date = h('input', { name: 'date', type: 'date', value: today() });
  const source = h('input', { name: 'source', placeholder: 'laboratory or panel' });
  const message = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'entry-form', 'aria-labelledby': 'form-genotype' },
    h('h3', { id: 'form-genotype' }, 'Add a genotype'),
    h('div', { class: 'grid' }, field('Gene', gene), field('Diplotype', diplotype, 'Star alleles, e.g. *1/*17'), field('Phenotype', phenotype), field('Date', date), field('Source', source)),
    message,
    h('button', { type: 'submit', class: 'primary' }, 'Add genotype'),
  );
  submitForm(
    form,
    message,
    async () => {
      const body: Record<string, unknown> = { gene: gene.value };
      if (diplotype.value) body.diplotype = diplotype.value.trim();
      if (phenotype.value) body.phenotype = phenotype.value;
      if (date.value) body.date = date.value;
      if (source.value) body.source = source.value;
      await api('POST', `/patients/${patientId}/genotypes`, body);
      return `Added ${gene.value}.`;
    },
    saved,
  );
  return form;
}

/** A laboratory result. */
export function labForm(patientId: number, saved: Saved): HTMLFormElement {
  const listId = uid('labs');
  const name = h('input', { name: 'name', list: listId, required: true, autocomplete: 'off' });
  const names = h('datalist', { id: listId }, ...['tsh', 'free_t4', 'crp', 'hemoglobin', 'ferritin', 'b12', 'folate', 'sodium', 'lithium_level', 'creatinine', 'egfr', 'calcium', 'glucose', 'hba1c', 'ldl', 'triglycerides'].map((value) => h('option', { value })));
  const value = h('input', { name: 'value', type: 'number', step: 'any', required: true, inputmode: 'decimal' });
  const unit = h('input', { name: 'unit', placeholder: 'mmol/L' });
  const date = h('input', { name: 'date', type: 'date', required: true, value: today() });
  const message = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'entry-form', 'aria-labelledby': 'form-lab' },
    h('h3', { id: 'form-lab' }, 'Add a laboratory result'),
    h('div', { class: 'grid' }, field('Test', name), field('Value', value), field('Unit', unit), field('Date', date)),
    names,
    message,
    h('button', { type: 'submit', class: 'primary' }, 'Add result'),
  );
  submitForm(
    form,
    message,
    async () => {
      const body: Record<string, unknown> = { name: name.value.trim(), value: Number(value.value), date: date.value };
      if (unit.value) body.unit = unit.value.trim();
      await api('POST', `/patients/${patientId}/labs`, body);
      return `Added ${name.value.trim()}.`;
    },
    saved,
  );
  return form;
}

/** An ECT, TMS, esketamine, ketamine, VNS or DBS course. */
export function procedureForm(patientId: number, saved: Saved): HTMLFormElement {
  const kind = select('kind', ['ect', 'tms', 'esketamine', 'ketamine', 'vns', 'dbs', 'other'].map((value): [string, string] => [value, value.toUpperCase()]));
  const start = h('input', { name: 'start', type: 'date', required: true, value: today() });
  const end = h('input', { name: 'end', type: 'date' });
  const sessions = h('input', { name: 'sessions', type: 'number', min: '0', step: '1' });
  const outcome = select('outcome', [['', 'not recorded'], ...['nonresponse', 'partial', 'response', 'remission', 'intolerance'].map((value): [string, string] => [value, value])]);
  const message = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'entry-form', 'aria-labelledby': 'form-procedure' },
    h('h3', { id: 'form-procedure' }, 'Add a procedure'),
    h('div', { class: 'grid' }, field('Kind', kind), field('Start', start), field('End', end), field('Sessions', sessions), field('Outcome', outcome)),
    message,
    h('button', { type: 'submit', class: 'primary' }, 'Add procedure'),
  );
  submitForm(
    form,
    message,
    async () => {
      const body: Record<string, unknown> = { kind: kind.value, start: start.value };
      if (end.value) body.end = end.value;
      if (sessions.value) body.sessions = Number(sessions.value);
      if (outcome.value) body.outcome = outcome.value;
      await api('POST', `/patients/${patientId}/procedures`, body);
      return `Added ${kind.value.toUpperCase()}.`;
    },
    saved,
  );
  return form;
}

/** A non-psychiatric medication or supplement (the interaction checks read these too). */
export async function otherMedicationForm(patientId: number, saved: Saved): Promise<HTMLFormElement> {
  const drugChoice = await drugField('Drug', 'other_drug', 'Any medicine or supplement; names the KB does not know are kept and reported.');
  drugChoice.input.required = true;
  const dose = h('input', { name: 'other_mg_per_day', type: 'number', min: '0', step: 'any', inputmode: 'decimal' });
  const start = h('input', { name: 'other_start', type: 'date' });
  const asNeeded = h('input', { name: 'as_needed', type: 'checkbox' });
  const kind = select('kind', [['prescription', 'prescription'], ['otc', 'over the counter'], ['supplement', 'supplement'], ['herbal', 'herbal']]);
  const message = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'entry-form', 'aria-labelledby': 'form-other' },
    h('h3', { id: 'form-other' }, 'Add another current medication'),
    h('div', { class: 'grid' }, drugChoice.element, field('Dose (mg/day)', dose), field('Since', start), field('Kind', kind), checkbox('Taken as needed', asNeeded)),
    message,
    h('button', { type: 'submit', class: 'primary' }, 'Add medication'),
  );
  submitForm(
    form,
    message,
    async () => {
      const body: Record<string, unknown> = { drug: drugChoice.input.value.trim(), ongoing: true, kind: kind.value };
      const mg = numberOrUndefined(dose);
      if (mg !== undefined) body.mg_per_day = mg;
      if (start.value) body.start = start.value;
      if (asNeeded.checked) body.as_needed = true;
      await api('POST', `/patients/${patientId}/other-medications`, body);
      return `Added ${drugChoice.input.value.trim()}.`;
    },
    saved,
  );
  return form;
}
