// End-to-end test of the clinic web app in Debian's Chromium, driven by playwright-core:
// first-run set-up, users, a patient and trials (the assessment updates), a score, the
// interaction what-if, the printable report, a self-report link filled in on a phone (keyboard
// only for one question), a patient account that cannot read another record, and the audit log.
// Screenshots of every step are kept in the artefact directory.
//
//   node tests/e2e/clinic.e2e.mjs REFRACT_BINARY NODE_MODULES_DIR ARTEFACT_DIR
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [refract, modules, artefacts] = process.argv.slice(2);
if (!refract || !modules || !artefacts) {
  console.error('usage: clinic.e2e.mjs REFRACT_BINARY NODE_MODULES_DIR ARTEFACT_DIR');
  process.exit(2);
}
const { chromium } = await import(pathToFileURL(join(modules, 'playwright-core', 'index.mjs')).href);
mkdirSync(artefacts, { recursive: true });

const steps = [];
let failures = 0;
function check(condition, message) {
  steps.push(`${condition ? 'ok  ' : 'FAIL'} ${message}`);
  console.log(`${condition ? 'ok  ' : 'FAIL'} ${message}`);
  if (!condition) failures += 1;
}

function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// The server, on a fresh SQLite database, printing its set-up token.
const workdir = mkdtempSync(join(tmpdir(), 'refract-e2e-'));
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
const server = spawn(refract, ['serve', '--db', `sqlite:${join(workdir, 'clinic.db')}`, '--listen', `127.0.0.1:${port}`, '--as-of', '2026-11-22'], {
  stdio: ['ignore', 'pipe', 'pipe'],
});
let serverOutput = '';
server.stdout.on('data', (chunk) => (serverOutput += chunk));
server.stderr.on('data', (chunk) => (serverOutput += chunk));
const setupToken = await new Promise((resolve, reject) => {
  const started = Date.now();
  const timer = setInterval(() => {
    const match = /set-up token:\s*\n\s*(\S+)/.exec(serverOutput);
    if (match) {
      clearInterval(timer);
      resolve(match[1]);
    } else if (Date.now() - started > 30000 || server.exitCode !== null) {
      clearInterval(timer);
      reject(new Error(`the server did not start:\n${serverOutput}`));
    }
  }, 100);
});

process.on('exit', () => server.exitCode === null && server.kill('SIGKILL'));
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync'],
  // Playwright gives every launch a fresh, temporary user data directory.
});

const consoleProblems = [];
function watch(page, name) {
  page.on('console', (message) => {
    const text = message.text();
    // 4xx answers the scenario provokes on purpose (signed out, link used, access refused) are not problems.
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
    if (message.type() === 'error' || /Content[- ]Security[- ]Policy/i.test(text)) consoleProblems.push(`${name}: ${text}`);
  });
  page.on('pageerror', (error) => consoleProblems.push(`${name}: ${error.message}`));
}

async function shot(page, name, fullPage = true) {
  await page.screenshot({ path: join(artefacts, `${name}.png`), fullPage });
}

// Every visible form control has a label (its own <label>, or aria-label).
async function unlabelledControls(page) {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('input, select, textarea'))
      .filter((element) => element.type !== 'hidden' && element.offsetParent !== null)
      .filter((element) => !(element.labels && element.labels.length) && !element.getAttribute('aria-label'))
      .map((element) => element.name || element.id || element.outerHTML.slice(0, 60)),
  );
}

async function fillCourse(page, course) {
  const form = page.locator('form[aria-labelledby="form-medication"]');
  await form.getByLabel('Drug', { exact: true }).fill(course.drug);
  await form.getByLabel('Start', { exact: true }).fill(course.start);
  await form.getByLabel('End (last day taken)', { exact: true }).fill(course.end);
  await form.getByLabel('Ongoing', { exact: true }).uncheck();
  await form.getByLabel('Dose from the start (mg/day)', { exact: true }).fill(String(course.dose));
  await form.getByLabel('Adherence', { exact: true }).selectOption('good');
  await form.getByLabel('Improvement so far (%)', { exact: true }).fill(String(course.improvement));
  await form.getByRole('button', { name: 'Add course' }).click();
  await page.getByText(`Added ${course.drug}. The assessment is updated.`).waitFor();
}

try {
  // 1. First-run set-up and the admin's work.
  const admin = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  watch(admin, 'admin');
  await admin.goto(base + '/');
  await admin.getByRole('heading', { name: 'Set up refract' }).waitFor();
  check((await unlabelledControls(admin)).length === 0, 'set-up page: every control has a label');
  await shot(admin, '01-setup');
  await admin.getByLabel('Set-up token', { exact: true }).fill(setupToken);
  await admin.getByLabel('Password', { exact: true }).fill('admin password 123');
  await admin.getByLabel('Repeat the password', { exact: true }).fill('admin password 123');
  await admin.getByRole('button', { name: 'Create administrator' }).click();
  await admin.getByRole('heading', { name: 'Sign in to refract' }).waitFor();
  await admin.getByLabel('Username', { exact: true }).fill('admin');
  await admin.getByLabel('Password', { exact: true }).fill('admin password 123');
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await admin.getByRole('heading', { name: 'Users and clinics' }).waitFor();
  await admin.getByLabel('Clinic name', { exact: true }).fill('North clinic');
  await admin.getByRole('button', { name: 'Add clinic' }).click();
  await admin.getByText('Clinic North clinic added.').waitFor();
  await admin.getByLabel('Username', { exact: true }).fill('dr.north');
  await admin.getByLabel('Role', { exact: true }).selectOption('clinician');
  await admin.getByRole('button', { name: 'Add user' }).click();
  const clinicianPassword = (await admin.locator('code.secret').first().textContent()).trim();
  check(clinicianPassword.length >= 12, 'admin creates a clinician with a generated password');
  await shot(admin, '02-admin-users');

  // 2. The clinician adds a patient and two trials; the assessment updates.
  const clinicianContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const clinician = await clinicianContext.newPage();
  watch(clinician, 'clinician');
  await clinician.goto(base + '/');
  await clinician.getByLabel('Username', { exact: true }).fill('dr.north');
  await clinician.getByLabel('Password', { exact: true }).fill(clinicianPassword);
  await clinician.getByRole('button', { name: 'Sign in' }).click();
  await clinician.getByRole('heading', { name: 'Patients', exact: true }).waitFor();
  await clinician.getByLabel('Name shown in the list', { exact: true }).fill('Ms R.');
  await clinician.getByLabel('Record id', { exact: true }).fill('MRN-0001');
  await clinician.getByLabel('Birth date', { exact: true }).fill('1980-03-02');
  await clinician.getByLabel('Sex', { exact: true }).selectOption('female');
  await clinician.getByLabel('Current episode started', { exact: true }).fill('2025-01-05');
  await clinician.getByRole('button', { name: 'Add patient' }).click();
  await clinician.getByRole('heading', { name: 'Ms R.' }).waitFor();
  const patientUrl = clinician.url();
  const patientId = Number(/#\/patients\/(\d+)/.exec(patientUrl)[1]);
  check((await clinician.locator('.patient-header .trd').textContent()).includes('Does not meet'), 'new patient: does not meet TRD');
  check((await unlabelledControls(clinician)).length === 0, 'patient page: every control has a label');

  await fillCourse(clinician, { drug: 'sertraline', start: '2025-01-10', end: '2025-04-30', dose: 150, improvement: 10 });
  check((await clinician.locator('.patient-header .trd').textContent()).includes('Does not meet'), 'one failed trial: still does not meet TRD');
  await fillCourse(clinician, { drug: 'venlafaxine', start: '2025-05-10', end: '2025-09-30', dose: 225, improvement: 15 });
  const trd = await clinician.locator('.patient-header .trd').textContent();
  check(trd.includes('Meets TRD criteria'), `two failed adequate trials: the assessment updates to "${trd}"`);
  check((await clinician.locator('table.trials tbody tr').count()) === 2, 'the trials table lists both courses');

  // A dose change and an item-level PHQ-9.
  const dose = clinician.locator('form[aria-labelledby="form-dose"]');
  await dose.getByLabel('Course', { exact: true }).selectOption({ label: 'venlafaxine from 2025-05-10' });
  await dose.getByLabel('From', { exact: true }).fill('2025-06-10');
  await dose.getByLabel('New total dose (mg/day)', { exact: true }).fill('300');
  await dose.getByRole('button', { name: 'Record dose change' }).click();
  await clinician.getByText('Dose changed to 300 mg/day from 2025-06-10. The assessment is updated.').waitFor();
  const score = clinician.locator('form[aria-labelledby="form-score"]');
  await score.getByLabel('Date', { exact: true }).fill('2025-09-20');
  const items = score.locator('fieldset.items select');
  const itemValues = ['2', '2', '2', '1', '1', '2', '1', '1', '0'];
  for (let index = 0; index < itemValues.length; index += 1) await items.nth(index).selectOption(itemValues[index]);
  await score.getByRole('button', { name: 'Add score' }).click();
  await clinician.getByText('Added phq9 of 2025-09-20. The assessment is updated.').waitFor();
  // A current regimen for the what-if: escitalopram now, ibuprofen as needed.
  const course = clinician.locator('form[aria-labelledby="form-medication"]');
  await course.getByLabel('Drug', { exact: true }).fill('escitalopram');
  await course.getByLabel('Start', { exact: true }).fill('2026-10-01');
  await course.getByLabel('Dose from the start (mg/day)', { exact: true }).fill('10');
  await course.getByRole('button', { name: 'Add course' }).click();
  await clinician.getByText('Added escitalopram. The assessment is updated.').waitFor();
  const other = clinician.locator('form[aria-labelledby="form-other"]');
  await other.getByLabel('Drug', { exact: true }).fill('ibuprofen');
  await other.getByLabel('Dose (mg/day)', { exact: true }).fill('400');
  await other.getByLabel('Kind', { exact: true }).selectOption('otc');
  await other.getByLabel('Taken as needed', { exact: true }).check();
  await other.getByRole('button', { name: 'Add medication' }).click();
  await clinician.getByText('Added ibuprofen. The assessment is updated.').waitFor();
  await clinician.locator('#self-report-links').waitFor();
  await clinician.locator('#timeline-chart svg').first().waitFor({ timeout: 15000 });
  check((await clinician.locator('#timeline-chart svg').count()) > 0, 'the timeline chart is drawn (SVG, under the CSP)');
  await clinician.evaluate(() => window.scrollTo(0, 0));
  await shot(clinician, '03-patient-page');
  await shot(clinician, '03a-patient-page-top', false);

  // What next: drivers, ranked options and dated monitoring checklists, each with its state in words.
  const drivers = clinician.locator('section.drivers');
  await drivers.getByRole('heading', { name: 'Drivers of non-response' }).waitFor();
  const driverBadges = await drivers.locator('.driver-list > li .badge.status').allTextContents();
  check(driverBadges.length > 0 && driverBadges.every((badge) => ['Present', 'Possible', 'Not found', 'Unknown'].includes(badge)),
    `drivers are listed with a written status (${driverBadges.length}: ${[...new Set(driverBadges)].join(', ')})`);
  check((await drivers.locator('.settle').count()) > 0 || (await drivers.locator('.evidence li').count()) > 0, 'drivers show their evidence or the question that settles them');
  const options = clinician.locator('section.options');
  const ranks = await options.locator('.option-list > li .rank').allTextContents();
  const optionBadges = await options.locator('.option-list > li > .option-head .badge.status').allTextContents();
  check(ranks.length > 0 && ranks[0] === '1.' && ranks.every((rank, index) => rank === `${index + 1}.`), `options are listed in rank order (${ranks.length})`);
  check(optionBadges.length === ranks.length && optionBadges.every((badge) => ['Eligible', 'Conditional', 'Deferred', 'Not eligible'].includes(badge)),
    `every option has a status badge in words (${[...new Set(optionBadges)].join(', ')})`);
  check((await options.locator('.ranking').count()) > 0 && (await options.locator('.reasons .findings li').count()) > 0, 'options show the ranking sentence and their reasons with rules');
  const monitoring = clinician.locator('section.monitoring');
  const timings = await monitoring.locator('table.checklist tbody tr .badge.status').allTextContents();
  const dates = await monitoring.locator('table.checklist tbody tr td:first-child').allTextContents();
  check(timings.length > 0 && timings.every((timing) => ['Past', 'Due today', 'Upcoming'].includes(timing)) && dates.every((date) => /^\d{4}-\d{2}-\d{2}$/.test(date)),
    `monitoring is a dated checklist (${timings.length} checks: ${[...new Set(timings)].join(', ')})`);
  await drivers.screenshot({ path: join(artefacts, '03b-drivers.png') });
  await options.screenshot({ path: join(artefacts, '03c-options.png') });
  await monitoring.screenshot({ path: join(artefacts, '03d-monitoring.png') });

  // The interaction what-if.
  const whatIf = clinician.locator('form[aria-labelledby="form-whatif"]');
  await whatIf.getByLabel('Drug to add', { exact: true }).fill('lithium');
  await whatIf.getByRole('button', { name: 'Check the combination' }).click();
  await clinician.getByRole('heading', { name: /With lithium added/ }).waitFor();
  await clinician.locator('#whatif').screenshot({ path: join(artefacts, '04-what-if.png') });
  const newFindings = await clinician.locator('#whatif li.interaction.new').allTextContents();
  check(newFindings.some((finding) => /ibuprofen/i.test(finding)), `adding lithium shows new interactions, ibuprofen among them (${newFindings.length} new)`);

  // Lithium started three weeks ago: its plan is dated from its start, and past levels without a result are flagged.
  const lithium = clinician.locator('form[aria-labelledby="form-medication"]');
  await lithium.getByLabel('Drug', { exact: true }).fill('lithium');
  await lithium.getByLabel('Start', { exact: true }).fill('2026-11-01');
  await lithium.getByLabel('Dose from the start (mg/day)', { exact: true }).fill('600');
  await lithium.getByRole('button', { name: 'Add course' }).click();
  await clinician.getByText('Added lithium. The assessment is updated.').waitFor();
  const lithiumPlan = clinician.locator('section.monitoring article.monitoring-plan.current', { hasText: 'Lithium' });
  await lithiumPlan.waitFor();
  const overdue = await lithiumPlan.locator('tr.check.overdue').allTextContents();
  check(overdue.length > 0 && overdue.every((row) => row.includes('Past') && row.includes('no result recorded')),
    `a current lithium course shows its past checks without a result as such (${overdue.length})`);
  await clinician.locator('section.monitoring').screenshot({ path: join(artefacts, '03e-monitoring-current.png') });

  // The printable report.
  await clinician.goto(`${base}/#/patients/${patientId}/report`);
  await clinician.getByRole('heading', { name: /Assessment: Ms R\./ }).waitFor();
  await clinician.locator('.report .chart svg').first().waitFor({ timeout: 15000 });
  await clinician.emulateMedia({ media: 'print' });
  await shot(clinician, '05-report-print');
  await clinician.pdf({ path: join(artefacts, '05-report.pdf'), format: 'A4' });
  await clinician.emulateMedia({ media: 'screen' });
  check(true, 'the printable report renders (screenshot in print media, PDF)');

  // 3. A self-report link, filled in on a phone.
  await clinician.goto(patientUrl);
  await clinician.getByRole('heading', { name: 'Patient self-report' }).waitFor();
  await clinician.getByLabel('GAD-7 (anxiety)', { exact: true }).check();
  await clinician.getByRole('button', { name: 'Create link' }).click();
  const link = await clinician.getByLabel('Self-report link', { exact: true }).inputValue();
  check(/\/r#[A-Za-z0-9_-]{40,}$/.test(link), 'the self-report link carries its token in the fragment');
  await clinician.locator('#self-report-links').screenshot({ path: join(artefacts, '06-link-created.png') });

  const phoneContext = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const phone = await phoneContext.newPage();
  watch(phone, 'phone');
  await phone.goto(link);
  await phone.getByRole('heading', { name: 'Your check-in' }).waitFor();
  check(!phone.url().includes('#'), 'the token is removed from the address bar');
  check((await unlabelledControls(phone)).length === 0, 'self-report page: every control has a label');
  await shot(phone, '07-phone-form');
  await shot(phone, '07a-phone-first-screen', false);
  // Keyboard only for the first question: focus its first choice, move with the arrow keys.
  await phone.locator('input[name="phq9-0"]').first().focus();
  await phone.keyboard.press('ArrowDown');
  await phone.keyboard.press('ArrowDown');
  check((await phone.locator('input[name="phq9-0"]:checked').getAttribute('value')) === '2', 'a question can be answered with the keyboard alone');
  const answer = async (name, value) => phone.locator(`input[name="${name}"][value="${value}"]`).check();
  for (let index = 1; index < 9; index += 1) await answer(`phq9-${index}`, index === 8 ? 0 : 1);
  for (let index = 0; index < 7; index += 1) await answer(`gad7-${index}`, 1);
  await phone.getByLabel('Mood today (0 = worst, 10 = best)', { exact: true }).fill('4');
  await phone.getByLabel('Hours of sleep last night', { exact: true }).fill('6.5');
  await shot(phone, '08-phone-filled');
  await phone.getByRole('button', { name: 'Send my answers' }).scrollIntoViewIfNeeded();
  await shot(phone, '08a-phone-last-screen', false);
  await phone.getByRole('button', { name: 'Send my answers' }).click();
  await phone.getByRole('heading', { name: 'Thank you' }).waitFor();
  await shot(phone, '09-phone-done');
  check(true, 'the patient sends the answers from the phone');
  const again = await phoneContext.newPage();
  watch(again, 'phone again');
  await again.goto(link);
  await again.getByRole('heading', { name: 'This link cannot be used again' }).waitFor();
  await shot(again, '09b-phone-link-used');
  check(true, 'the link works once');

  await clinician.reload();
  await clinician.getByRole('heading', { name: 'Ms R.' }).waitFor();
  check((await clinician.locator('.entries .badge', { hasText: 'self-report' }).count()) >= 3, 'the clinician sees the self-reports in the record');

  // 4. A patient account cannot read another record.
  await clinician.goto(base + '/#/patients');
  await clinician.getByLabel('Name shown in the list', { exact: true }).fill('Mr Other');
  await clinician.getByLabel('Record id', { exact: true }).fill('MRN-0002');
  await clinician.getByRole('button', { name: 'Add patient' }).click();
  await clinician.getByRole('heading', { name: 'Mr Other' }).waitFor();
  const otherId = Number(/#\/patients\/(\d+)/.exec(clinician.url())[1]);
  await clinician.goto(base + '/#/patients');
  await clinician.locator('table.patients tbody tr').nth(1).waitFor();
  await shot(clinician, '10-patient-list');

  await admin.reload();
  await admin.getByRole('heading', { name: 'Users and clinics' }).waitFor();
  await admin.getByLabel('Username', { exact: true }).fill('ms.r');
  await admin.getByLabel('Role', { exact: true }).selectOption('patient');
  await admin.getByLabel('Patient id (patients)', { exact: true }).fill(String(patientId));
  await admin.getByRole('button', { name: 'Add user' }).click();
  const patientPassword = (await admin.locator('code.secret').first().textContent()).trim();
  const patientPage = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  watch(patientPage, 'patient');
  await patientPage.goto(base + '/');
  await patientPage.getByLabel('Username', { exact: true }).fill('ms.r');
  await patientPage.getByLabel('Password', { exact: true }).fill(patientPassword);
  await patientPage.getByRole('button', { name: 'Sign in' }).click();
  await patientPage.getByRole('heading', { name: 'My check-ins' }).waitFor();
  await shot(patientPage, '11-patient-account');
  for (const id of [otherId, patientId]) {
    const status = await patientPage.evaluate(async (target) => (await fetch(`/api/v1/patients/${target}`)).status, id);
    check(status === 403, `a patient account reading patient ${id} gets ${status} (403 expected)`);
  }
  await patientPage.goto(`${base}/#/patients/${otherId}`);
  await patientPage.getByRole('heading', { name: 'Not found' }).waitFor();
  await shot(patientPage, '12-patient-denied');
  check(true, 'the app shows no record to a patient account');

  // 5. The audit log.
  await admin.goto(base + '/#/admin/audit');
  await admin.getByRole('heading', { name: 'Audit log' }).waitFor();
  await admin.locator('table.audit tbody tr').first().waitFor();
  const audit = await admin.locator('table.audit').textContent();
  check(audit.includes('dr.north') && audit.includes(`patients/${patientId}/assessment`), 'the audit log shows the clinician reading the assessment');
  check(audit.includes('ms.r') && audit.includes('denied'), 'the audit log shows the patient account refused');
  check(/invitation:\d+/.test(audit), 'the audit log shows the self-report link used');
  await shot(admin, '13-audit-log');

  check(consoleProblems.length === 0, `no console errors or CSP violations${consoleProblems.length ? ':\n  ' + consoleProblems.join('\n  ') : ''}`);
} catch (error) {
  check(false, `the scenario stopped: ${error.stack ?? error}`);
  for (const [index, context] of browser.contexts().entries()) {
    for (const [pageIndex, page] of context.pages().entries()) await shot(page, `failure-${index}-${pageIndex}`).catch(() => {});
  }
} finally {
  writeFileSync(join(artefacts, 'steps.txt'), steps.join('\n') + '\n');
  await browser.close();
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  rmSync(workdir, { recursive: true, force: true });
}
console.log(failures === 0 ? `e2e: all ${steps.length} checks passed; screenshots in ${artefacts}` : `e2e: ${failures} of ${steps.length} checks failed`);
process.exit(failures === 0 ? 0 : 1);
