// The page a self-report link opens (/r#TOKEN): the token is read from the fragment (never sent
// to a server by the browser), removed from the address bar, and sent as an Authorization header.
import './self-report.css';
import { ApiError, api, describeError } from './api';
import { h, replace } from './dom';
import { formatTime } from './format';
import { crisisBox, renderSelfReportForm } from './selfreport-form';
import type { SelfReportForm } from './types';

const main = document.getElementById('main') as HTMLElement;
const token = location.hash.replace(/^#/, '');
// Keep the token out of the history and of anything that might read the address later.
if (token) history.replaceState(null, '', location.pathname);
const authorization = { Authorization: `Invitation ${token}` };

function problem(title: string, message: string): void {
  replace(main, h('h1', {}, title), h('p', { class: 'status error', role: 'alert' }, message), h('p', {}, 'If you think this is a mistake, contact your clinic.'));
}

async function start(): Promise<void> {
  if (!token) {
    problem('This page needs your link', 'Open the full link your clinic sent you.');
    return;
  }
  let form: SelfReportForm;
  try {
    form = await api<SelfReportForm>('GET', '/self-report', undefined, authorization);
  } catch (error) {
    problem(error instanceof ApiError && error.status === 410 ? 'This link cannot be used again' : 'This link does not work', describeError(error));
    return;
  }
  const container = h('div', {});
  replace(
    main,
    h('h1', {}, 'Your check-in'),
    h('p', { class: 'intro' }, 'Your answers go to your clinic. It takes about 3 minutes. Choose one answer for each question.'),
    form.expires_at_ms ? h('p', { class: 'small' }, `This link works once, until ${formatTime(form.expires_at_ms)}.`) : null,
    container,
    crisisBox(form.crisis, false),
  );
  renderSelfReportForm(container, form, async (answers) => {
    try {
      const saved = await api<{ saved: number; crisis?: { text: string; emergency: string } }>('POST', '/self-report', answers, authorization);
      replace(
        main,
        h('h1', { tabindex: '-1', id: 'done' }, 'Thank you'),
        crisisBox(saved.crisis ?? null, Boolean(saved.crisis)),
        h('p', { class: 'status ok', role: 'status' }, 'Your answers were sent to your clinic. You can close this page.'),
      );
      document.getElementById('done')?.focus();
    } catch (error) {
      const message = h('p', { class: 'status error', role: 'alert' }, describeError(error));
      container.querySelector('.form-message')?.replaceChildren(message);
    }
  });
}

void start();
