// Renderings of the assessment (refract.assessment/v1) shared by the patient page and the report.
// Alerts lead; every verdict shows the findings, rules and sources behind it.
import { h } from '../dom';
import { shortId, trdStatusText, words } from '../format';
import type { Alert, Finding, Json, JsonObject } from '../types';

const asObject = (value: Json | undefined): JsonObject => (value && typeof value === 'object' && !Array.isArray(value) ? value : {});
const asArray = (value: Json | undefined): Json[] => (Array.isArray(value) ? value : []);
const text = (value: Json | undefined): string => (value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value));

function sourcesLine(rule: string | undefined, sources: Json | undefined): HTMLElement | null {
  const list = asArray(sources).map((source) => shortId(text(source)));
  if (!rule && !list.length) return null;
  return h('span', { class: 'cite' }, rule ? `rule ${rule}` : '', rule && list.length ? '; ' : '', list.length ? `sources ${list.join(', ')}` : '');
}

/** A list of findings: message first, then the rule and sources. */
export function findingsList(findings: Json | undefined, className = 'findings'): HTMLElement | null {
  const items = asArray(findings).map((value) => asObject(value));
  if (!items.length) return null;
  return h(
    'ul',
    { class: className },
    ...items.map((finding) => h('li', {}, text(finding.message), ' ', sourcesLine(text(finding.rule) || undefined, finding.sources))),
  );
}

/** The alerts, most severe first, or a line saying there are none. */
export function renderAlerts(alerts: Alert[]): HTMLElement {
  const section = h('section', { class: 'alerts', 'aria-labelledby': 'alerts-title' }, h('h2', { id: 'alerts-title' }, 'Alerts'));
  if (!alerts.length) {
    section.appendChild(h('p', { class: 'muted' }, 'No alerts.'));
    return section;
  }
  const order = { critical: 0, warning: 1, info: 2 };
  const sorted = [...alerts].sort((left, right) => order[left.severity] - order[right.severity]);
  section.appendChild(
    h(
      'ul',
      { class: 'alert-list' },
      ...sorted.map((alert) =>
        h(
          'li',
          { class: `alert ${alert.severity}`, role: alert.severity === 'critical' ? 'alert' : null },
          h('strong', { class: 'severity' }, alert.severity.toUpperCase()),
          ' ',
          alert.message,
          ' ',
          sourcesLine(alert.rule, alert.sources as unknown as Json),
        ),
      ),
    ),
  );
  return section;
}

function yesNo(value: Json | undefined): string {
  if (value === true) return 'yes';
  if (value === false) return 'no';
  return 'undetermined';
}

/** The trials table: adequacy with reasons, outcome, failure, and each trial's findings. */
export function renderTrials(assessment: JsonObject): HTMLElement {
  const trials = asArray(assessment.trials).map((trial) => asObject(trial));
  const section = h('section', { 'aria-labelledby': 'trials-title' }, h('h2', { id: 'trials-title' }, 'Trials'));
  if (!trials.length) {
    section.appendChild(h('p', { class: 'muted' }, 'No antidepressant or augmentation courses are recorded.'));
    return section;
  }
  const rows = trials.map((trial) => {
    const reasons = asArray(trial.adequacy_reasons).map((reason) => text(asObject(reason).message));
    const basis = asObject(trial.outcome_basis);
    const percent = basis.percent !== null && basis.percent !== undefined ? ` (${text(basis.percent)}% improvement)` : '';
    return h(
      'tr',
      { class: trial.failed === true ? 'failed' : '' },
      h('td', {}, text(trial.index)),
      h('td', {}, h('strong', {}, text(trial.drug_name) || shortId(text(trial.drug))), h('div', { class: 'muted small' }, words(text(trial.role)), trial.augments ? ` of ${text(trial.augments)}` : '')),
      h('td', {}, `${text(trial.start)} – ${trial.ongoing ? 'ongoing' : text(trial.end) || 'end not recorded'}`, h('div', { class: 'muted small' }, words(text(trial.episode)), ' episode')),
      h('td', {}, h('span', { class: `verdict ${text(trial.adequacy)}` }, words(text(trial.adequacy))), ...reasons.map((reason) => h('div', { class: 'small' }, reason))),
      h('td', {}, words(text(trial.outcome)) || '–', percent),
      h('td', {}, h('span', { class: `verdict failed-${yesNo(trial.failed)}` }, yesNo(trial.failed))),
    );
  });
  section.appendChild(
    h(
      'table',
      { class: 'data trials' },
      h('thead', {}, h('tr', {}, ...['#', 'Drug', 'Period', 'Adequacy', 'Outcome', 'Failed'].map((title) => h('th', { scope: 'col' }, title)))),
      h('tbody', {}, ...rows),
    ),
  );
  const details = trials
    .filter((trial) => asArray(trial.findings).length)
    .map((trial) => h('details', {}, h('summary', {}, `Trial ${text(trial.index)} (${text(trial.drug_name)}): how it was judged`), findingsList(trial.findings)));
  if (details.length) section.appendChild(h('div', { class: 'trial-details' }, ...details));
  return section;
}

/** The TRD verdict with its findings. */
export function renderTrd(assessment: JsonObject): HTMLElement {
  const trd = asObject(assessment.trd);
  return h(
    'section',
    { 'aria-labelledby': 'trd-title' },
    h('h2', { id: 'trd-title' }, 'Treatment resistance'),
    h('p', {}, h('span', { class: `trd ${text(trd.status)}` }, trdStatusText(text(trd.status))), ` — ${text(trd.failed_adequate_trials)} failed adequate trial(s), ${text(trd.required)} required; failed drugs: ${asArray(trd.failed_drugs).map((drug) => shortId(text(drug))).join(', ') || 'none'}.`),
    findingsList(trd.findings),
    h('p', { class: 'cite' }, `Criteria ${text(asObject(assessment.criteria).name)} (${text(asObject(assessment.criteria).id)}); rule ${text(trd.rule)}`),
  );
}

/** The four staging models: result, computation, and where the published model is ambiguous. */
export function renderStaging(assessment: JsonObject): HTMLElement {
  const staging = asObject(assessment.staging);
  const card = (title: string, model: JsonObject, result: string) =>
    h(
      'article',
      { class: 'card staging' },
      h('h3', {}, title),
      h('p', { class: 'stage' }, result),
      h('ul', { class: 'computation' }, ...asArray(model.computation).map((line) => h('li', {}, text(line)))),
      asArray(model.ambiguities).length
        ? h('details', {}, h('summary', {}, 'Where the published model is ambiguous'), h('ul', {}, ...asArray(model.ambiguities).map((line) => h('li', {}, text(line)))))
        : null,
      h('p', { class: 'cite' }, `rule ${text(model.rule)}; sources ${asArray(model.sources).map((source) => shortId(text(source))).join(', ')}`),
    );
  const thase = asObject(staging.thase_rush);
  const european = asObject(staging.european);
  const maudsley = asObject(staging.maudsley);
  const mgh = asObject(staging.mgh);
  return h(
    'section',
    { 'aria-labelledby': 'staging-title' },
    h('h2', { id: 'staging-title' }, 'Staging'),
    h(
      'div',
      { class: 'cards' },
      card('Thase & Rush', thase, text(thase.label) || 'not staged'),
      card('European Staging Method', european, words(text(european.category)).toUpperCase() || 'not staged'),
      card('Maudsley Staging Method', maudsley, maudsley.applicable === false ? 'not applicable' : maudsley.total === null || maudsley.total === undefined ? 'not scored' : `${text(maudsley.total)} points (${words(text(maudsley.band))})`),
      card('MGH staging', mgh, `${text(mgh.score)} points`),
    ),
  );
}

/** Scores over time, events and the daily log summary (measurement-based care). */
export function renderMeasurement(assessment: JsonObject): HTMLElement | null {
  const measurement = asObject(assessment.measurement);
  const administrations = asArray(measurement.administrations).map((value) => asObject(value));
  if (!administrations.length && !asArray(measurement.findings).length) return null;
  const rows = administrations.map((entry) =>
    h(
      'tr',
      {},
      h('td', {}, text(entry.date)),
      h('td', {}, text(entry.short_name) || shortId(text(entry.scale))),
      h('td', {}, text(entry.total) || '–', entry.complete === false ? ' (incomplete)' : ''),
      h('td', {}, words(text(entry.band)) || '–'),
      h('td', {}, words(text(entry.rater)) || '–'),
      h('td', {}, ...asArray(entry.findings).map((finding) => h('div', { class: 'small' }, text(asObject(finding).message)))),
    ),
  );
  const events = asArray(measurement.events).map((value) => asObject(value));
  return h(
    'section',
    { 'aria-labelledby': 'measurement-title' },
    h('h2', { id: 'measurement-title' }, 'Scores and monitoring'),
    administrations.length
      ? h(
          'table',
          { class: 'data' },
          h('thead', {}, h('tr', {}, ...['Date', 'Scale', 'Total', 'Band', 'Rater', 'Notes'].map((title) => h('th', { scope: 'col' }, title)))),
          h('tbody', {}, ...rows),
        )
      : null,
    events.length ? h('h3', {}, 'Events') : null,
    events.length ? h('ul', {}, ...events.map((event) => h('li', {}, text(asObject(event.finding).message) || `${words(text(event.kind))} on ${text(event.date)}`))) : null,
    findingsList(measurement.findings),
  );
}

/** Any JSON, readably: objects as definition lists, messages first. For sections this app does not know in detail. */
export function renderJson(value: Json | undefined, depth = 0): HTMLElement {
  if (Array.isArray(value)) {
    if (!value.length) return h('span', { class: 'muted' }, 'none');
    return h('ul', { class: 'json' }, ...value.map((item) => h('li', {}, renderJson(item, depth + 1))));
  }
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    const message = value.message;
    const list = h('dl', { class: 'json' });
    for (const [key, inner] of entries) {
      if (key === 'message') continue;
      list.appendChild(h('dt', {}, words(key)));
      list.appendChild(h('dd', {}, renderJson(inner, depth + 1)));
    }
    if (typeof message === 'string') return h('div', {}, h('p', { class: 'message' }, message), depth < 4 ? list : null);
    return list;
  }
  return h('span', {}, text(value));
}

const KNOWN = new Set(['schema', 'engine', 'patient_id', 'as_of', 'criteria', 'alerts', 'trials', 'procedures', 'trd', 'staging', 'findings', 'sources', 'measurement']);
/** Sections with a view of their own (renderNextSteps). */
const NEXT_STEPS = new Set(['drivers', 'options', 'monitoring', 'patient_summary']);

/** The words a status badge shows: the state is always written, never shown by colour alone. */
export function statusText(status: string): string {
  switch (status) {
    case 'present':
      return 'Present';
    case 'possible':
      return 'Possible';
    case 'not_found':
      return 'Not found';
    case 'unknown':
      return 'Unknown';
    case 'eligible':
      return 'Eligible';
    case 'conditional':
      return 'Conditional';
    case 'deferred':
      return 'Deferred';
    case 'not_eligible':
      return 'Not eligible';
    case 'past':
      return 'Past';
    case 'due':
      return 'Due today';
    case 'upcoming':
      return 'Upcoming';
    case 'recorded':
      return 'Recorded';
    default:
      return words(status) || 'unknown';
  }
}

function badge(status: string, prefix: string): HTMLElement {
  return h('span', { class: `badge status ${prefix}-${status}` }, statusText(status));
}

/** Drivers of non-response: status, the evidence found (dated), or the question that settles it. */
export function renderDrivers(assessment: JsonObject): HTMLElement | null {
  const drivers = asArray(assessment.drivers).map((value) => asObject(value));
  if (!drivers.length) return null;
  const order: Record<string, number> = { present: 0, possible: 1, unknown: 2, not_found: 3 };
  const sorted = drivers.map((driver, index) => ({ driver, index })).sort((left, right) => (order[text(left.driver.status)] ?? 9) - (order[text(right.driver.status)] ?? 9) || left.index - right.index);
  const item = (driver: JsonObject) => {
    const status = text(driver.status);
    const evidence = asArray(driver.evidence).map((value) => asObject(value));
    const settle = asObject(driver.settle);
    const found = status === 'present' || status === 'possible';
    return h(
      'li',
      { class: `driver driver-${status}` },
      h('div', { class: 'driver-head' }, badge(status, 'driver'), ' ', h('strong', {}, text(driver.name)), driver.unverified === true ? h('span', { class: 'muted small' }, ' (unverified)') : null),
      text(driver.looks_for) ? h('div', { class: 'muted small' }, `Looks for: ${text(driver.looks_for)}`) : null,
      evidence.length
        ? h(
            'ul',
            { class: 'evidence' },
            ...evidence.map((entry) => h('li', {}, entry.date ? h('span', { class: 'date' }, `${text(entry.date)}: `) : null, text(entry.message), ' ', sourcesLine(text(entry.rule) || undefined, entry.sources))),
          )
        : null,
      // An unknown driver's evidence usually states its question already; say it once.
      !found && (text(settle.question) || text(settle.test)) && !evidence.some((entry) => text(settle.question) && text(entry.message).includes(text(settle.question)))
        ? h(
            'p',
            { class: 'settle small' },
            h('strong', {}, status === 'unknown' ? 'To settle it: ' : 'To look further: '),
            [text(settle.question), text(settle.test)].filter((part) => part).join(' '),
          )
        : null,
      sourcesLine(text(driver.rule) || undefined, driver.sources),
    );
  };
  return h(
    'section',
    { 'aria-labelledby': 'section-drivers', class: 'drivers' },
    h('h2', { id: 'section-drivers' }, 'Drivers of non-response'),
    h('p', { class: 'muted small' }, 'Present and possible drivers first; a driver without data says which question or test settles it.'),
    h('ul', { class: 'driver-list' }, ...sorted.map(({ driver }) => item(driver))),
  );
}

/** Treatment options in the engine's rank order: status badge, reasons with rules, the ranking sentence. */
export function renderOptions(assessment: JsonObject): HTMLElement | null {
  const options = asArray(assessment.options).map((value) => asObject(value));
  if (!options.length) return null;
  const sorted = [...options].sort((left, right) => Number(left.rank ?? 0) - Number(right.rank ?? 0));
  const card = (option: JsonObject) => {
    const status = text(option.status);
    const candidates = asArray(option.candidates).map((value) => asObject(value));
    return h(
      'li',
      { class: `option option-${status}` },
      h('div', { class: 'option-head' }, h('span', { class: 'rank' }, `${text(option.rank)}.`), ' ', h('strong', {}, text(option.name)), ' ', badge(status, 'option'), option.requires_specialist === true ? h('span', { class: 'muted small' }, ' specialist') : null),
      text(option.ranking) ? h('p', { class: 'ranking small' }, h('strong', {}, 'Ranked here: '), text(option.ranking)) : null,
      asArray(option.reasons).length ? h('div', { class: 'reasons' }, h('span', { class: 'small' }, 'Why: '), findingsList(option.reasons)) : h('p', { class: 'muted small' }, 'No reason against it was found.'),
      candidates.some((candidate) => asArray(candidate.reasons).length)
        ? h(
            'details',
            {},
            h('summary', {}, 'Per drug'),
            h('ul', {}, ...candidates.map((candidate) => h('li', {}, h('strong', {}, text(candidate.name)), ' ', badge(text(candidate.status), 'option'), findingsList(candidate.reasons)))),
          )
        : null,
      asArray(option.guideline).length || asArray(option.expected_remission).length
        ? h('details', {}, h('summary', {}, 'Guidelines and expected remission'), findingsList(option.guideline), findingsList(option.expected_remission))
        : null,
      sourcesLine(text(option.rule) || undefined, option.sources),
    );
  };
  return h(
    'section',
    { 'aria-labelledby': 'section-options', class: 'options' },
    h('h2', { id: 'section-options' }, 'Options'),
    h('ol', { class: 'option-list' }, ...sorted.map(card)),
  );
}

/** Monitoring plans as dated checklists: past, due today, upcoming; recorded when a matching result exists. */
export function renderMonitoring(assessment: JsonObject): HTMLElement | null {
  const plans = asArray(assessment.monitoring).map((value) => asObject(value));
  if (!plans.length) return null;
  const plan = (entry: JsonObject) => {
    const checklist = asArray(entry.checklist).map((value) => asObject(value));
    const session = asArray(entry.session).map((value) => asObject(value));
    const basis = text(entry.basis) === 'current' ? `current treatment, ${text(entry.treatment)} from ${text(entry.start)}` : `if started (${asArray(entry.for_options).map((option) => shortId(text(option))).join(', ') || text(entry.treatment)}), from ${text(entry.start)}`;
    const current = text(entry.basis) === 'current';
    const parts = [
      h('p', { class: 'muted small' }, basis),
      checklist.length
        ? h(
            'table',
            { class: 'data checklist' },
            h('thead', {}, h('tr', {}, ...['Date', 'Day', 'Check', 'State'].map((title) => h('th', { scope: 'col' }, title)))),
            h(
              'tbody',
              {},
              ...checklist.map((item) => {
                const timing = text(item.timing);
                const recorded = item.recorded_on !== null && item.recorded_on !== undefined;
                const overdue = timing === 'past' && !recorded;
                return h(
                  'tr',
                  { class: `check ${timing}${overdue ? ' overdue' : ''}` },
                  h('td', {}, text(item.date)),
                  h('td', {}, text(item.day)),
                  h('td', {}, text(item.what), text(item.note) ? h('div', { class: 'muted small' }, text(item.note)) : null),
                  h('td', {}, badge(timing, 'timing'), recorded ? h('div', { class: 'small' }, `recorded ${text(item.recorded_on)}`) : overdue ? h('div', { class: 'small' }, 'no result recorded') : null),
                );
              }),
            ),
          )
        : h('p', { class: 'muted' }, 'No dated checks in the window shown.'),
      session.length ? h('details', {}, h('summary', {}, 'Each session'), h('ul', {}, ...session.map((step) => h('li', {}, `minute ${text(step.minute)}: ${text(step.what)}`)))) : null,
      text(entry.notes) ? h('p', { class: 'small' }, text(entry.notes)) : null,
      sourcesLine(text(entry.plan) || undefined, entry.sources),
    ];
    // Plans of treatments under way are open; plans of options not started yet fold away.
    if (current) return h('article', { class: 'card monitoring-plan current' }, h('h3', {}, text(entry.name)), ...parts);
    return h('details', { class: 'card monitoring-plan if-started' }, h('summary', {}, h('strong', {}, text(entry.name)), ` — if started (${checklist.length} checks)`), ...parts);
  };
  const current = plans.filter((entry) => text(entry.basis) === 'current');
  const proposed = plans.filter((entry) => text(entry.basis) !== 'current');
  return h(
    'section',
    { 'aria-labelledby': 'section-monitoring', class: 'monitoring' },
    h('h2', { id: 'section-monitoring' }, 'Monitoring'),
    current.length ? h('h3', {}, 'Current treatment') : h('p', { class: 'muted' }, 'No current treatment has a monitoring plan.'),
    ...current.map(plan),
    proposed.length ? h('h3', {}, 'If an option is started') : null,
    ...proposed.map(plan),
  );
}

/** Drivers, options and monitoring, in that order (empty when the engine gave none). */
export function renderNextSteps(assessment: JsonObject): HTMLElement[] {
  return [renderDrivers(assessment), renderOptions(assessment), renderMonitoring(assessment)].filter((section): section is HTMLElement => section !== null);
}

/** Drivers, options, monitoring, then any other section a newer engine adds, shown generically. */
export function renderOtherSections(assessment: JsonObject): HTMLElement[] {
  const titles: Record<string, string> = { interactions: 'Interactions', pgx: 'Pharmacogenomics' };
  const keys = Object.keys(assessment)
    .filter((key) => !KNOWN.has(key) && !NEXT_STEPS.has(key))
    .sort((left, right) => left.localeCompare(right));
  return [
    ...renderNextSteps(assessment),
    ...keys.map((key) => h('section', { 'aria-labelledby': `section-${key}` }, h('h2', { id: `section-${key}` }, titles[key] ?? words(key)), renderJson(assessment[key]))),
  ];
}

/** The procedures (ECT, TMS, esketamine ...) as assessed. */
export function renderProcedures(assessment: JsonObject): HTMLElement | null {
  const procedures = asArray(assessment.procedures).map((value) => asObject(value));
  if (!procedures.length) return null;
  return h(
    'section',
    { 'aria-labelledby': 'procedures-title' },
    h('h2', { id: 'procedures-title' }, 'Procedures'),
    h('ul', {}, ...procedures.map((procedure) => h('li', {}, `${words(text(procedure.kind)).toUpperCase()} from ${text(procedure.start)}: `, findingsList(procedure.findings) ?? h('span', {}, words(text(procedure.outcome)))))),
  );
}

/** The findings that are not part of a section, and every cited source. */
export function renderSources(assessment: JsonObject): HTMLElement {
  const sources = asArray(assessment.sources).map((value) => asObject(value));
  return h(
    'section',
    { 'aria-labelledby': 'sources-title', class: 'sources' },
    h('h2', { id: 'sources-title' }, 'Sources'),
    h('ol', {}, ...sources.map((source) => h('li', {}, h('span', { class: 'cite' }, shortId(text(source.id))), ' ', text(source.citation)))),
  );
}

export type { Finding };
