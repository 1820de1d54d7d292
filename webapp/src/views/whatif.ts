// "What if I add lithium?": the regimen's interactions now and with the proposed drug.
import { api, describeError } from '../api';
import { field, h, replace, status } from '../dom';
import { shortId, words } from '../format';
import type { Json, JsonObject } from '../types';
import { drugField } from './forms';

interface InteractionsAnswer {
  as_of: string;
  current: JsonObject;
  what_if?: JsonObject;
  proposed?: Array<{ drug: string; inn: string }>;
}

const asArray = (value: Json | undefined): Json[] => (Array.isArray(value) ? value : []);
const asObject = (value: Json | undefined): JsonObject => (value && typeof value === 'object' && !Array.isArray(value) ? value : {});
const text = (value: Json | undefined): string => (value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value));

function findingKey(finding: JsonObject): string {
  return `${text(finding.rule)}|${text(finding.code)}|${text(finding.message)}`;
}

/** One interaction finding: severity, what, why, what to do, rule and sources. */
export function renderInteraction(finding: JsonObject, isNew: boolean): HTMLElement {
  const severity = text(finding.severity);
  return h(
    'li',
    { class: `interaction ${severity}${isNew ? ' new' : ''}` },
    isNew ? h('strong', { class: 'new-tag' }, 'NEW ') : null,
    h('strong', { class: 'severity' }, words(severity).toUpperCase()),
    ' ',
    text(finding.message),
    finding.mechanism ? h('div', { class: 'small' }, 'Mechanism: ', text(finding.mechanism)) : null,
    finding.action ? h('div', { class: 'small' }, 'Action: ', text(finding.action)) : null,
    h('div', { class: 'cite' }, `rule ${text(finding.rule)}; sources ${asArray(finding.sources).map((source) => shortId(text(source))).join(', ')}`),
  );
}

function interactionList(report: JsonObject, previous: Set<string> | null): HTMLElement {
  const findings = asArray(report.interactions).map((value) => asObject(value));
  const unresolved = asArray(report.unresolved).map((value) => asObject(value));
  return h(
    'div',
    {},
    findings.length ? h('ul', { class: 'interactions' }, ...findings.map((finding) => renderInteraction(finding, previous !== null && !previous.has(findingKey(finding))))) : h('p', { class: 'muted' }, 'No interactions found.'),
    unresolved.length ? h('p', { class: 'small' }, 'Not checked (unknown to the KB): ', unresolved.map((entry) => `${text(entry.input_name)} (${text(entry.message)})`).join('; ')) : null,
  );
}

/** The interactions of the current regimen and the what-if form. */
export async function renderWhatIf(patientId: number): Promise<HTMLElement> {
  const output = h('div', { 'aria-live': 'polite' });
  const section = h('section', { 'aria-labelledby': 'whatif-title', id: 'whatif' }, h('h2', { id: 'whatif-title' }, 'Interactions and what-if'));
  try {
    const current = await api<InteractionsAnswer>('GET', `/patients/${patientId}/interactions`);
    section.appendChild(h('h3', {}, `Current regimen (${current.as_of})`));
    section.appendChild(interactionList(current.current, null));
  } catch (error) {
    section.appendChild(status(describeError(error), 'error'));
    return section;
  }
  const drug = await drugField('Drug to add', 'add_drug', 'e.g. lithium, aripiprazole, bupropion');
  const dose = h('input', { name: 'add_mg_per_day', type: 'number', min: '0', step: 'any', inputmode: 'decimal' });
  const form = h(
    'form',
    { class: 'entry-form', 'aria-labelledby': 'form-whatif' },
    h('h3', { id: 'form-whatif' }, 'What if you add a drug?'),
    h('div', { class: 'grid' }, drug.element, field('Dose (mg/day, optional)', dose)),
    h('button', { type: 'submit', class: 'primary' }, 'Check the combination'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(output, status('Checking…'));
    try {
      const addition: Record<string, unknown> = { drug: drug.input.value.trim() };
      if (dose.value !== '') addition.mg_per_day = Number(dose.value);
      const answer = await api<InteractionsAnswer>('POST', `/patients/${patientId}/interactions/what-if`, { add: [addition] });
      const before = new Set(asArray(answer.current.interactions).map((value) => findingKey(asObject(value))));
      const names = (answer.proposed ?? []).map((entry) => entry.inn).join(', ');
      replace(output, h('h3', {}, `With ${names} added`), interactionList(answer.what_if ?? {}, before));
    } catch (error) {
      replace(output, status(describeError(error), 'error'));
    }
  });
  section.append(form, output);
  return section;
}
