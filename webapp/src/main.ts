// The clinician and admin app: hash routes, the signed-in shell, and the views.
import './styles.css';
import { ApiError, api, setCsrfToken } from './api';
import { h, replace, status } from './dom';
import type { Session } from './types';
import { renderLogin } from './views/login';
import { renderSetup } from './views/setup';
import { renderPatients } from './views/patients';
import { renderPatient } from './views/patient';
import { renderReport } from './views/report';
import { renderAdmin } from './views/admin';
import { renderMe } from './views/me';
import { renderPassword } from './views/password';

const root = document.getElementById('app') as HTMLElement;
let session: Session | null = null;

/** The shell's context for the views. */
export interface AppContext {
  session: Session;
  main: HTMLElement;
  navigate: (hash: string) => void;
}

function navigate(hash: string): void {
  if (location.hash === hash) {
    void route();
  } else {
    location.hash = hash;
  }
}

async function loadSession(): Promise<Session | null> {
  try {
    const answer = await api<Session>('GET', '/session');
    setCsrfToken(answer.csrf_token);
    return answer;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

function homeFor(current: Session): string {
  if (current.user.role === 'admin') return '#/admin/users';
  if (current.user.role === 'patient') return '#/me';
  return '#/patients';
}

function shell(current: Session): HTMLElement {
  const links: Array<[string, string]> =
    current.user.role === 'admin'
      ? [
          ['#/admin/users', 'Users and clinics'],
          ['#/admin/audit', 'Audit log'],
        ]
      : current.user.role === 'clinician'
        ? [['#/patients', 'Patients']]
        : [['#/me', 'My check-ins']];
  const signOut = h('button', { type: 'button', class: 'link-button' }, 'Sign out');
  signOut.addEventListener('click', async () => {
    try {
      await api('DELETE', '/session');
    } finally {
      session = null;
      setCsrfToken('');
      navigate('#/login');
    }
  });
  const main = h('main', { id: 'main', tabindex: '-1' });
  const header = h(
    'header',
    { class: 'app-header' },
    h('a', { class: 'brand', href: homeFor(current) }, 'refract'),
    h('nav', { 'aria-label': 'Main' }, h('ul', {}, ...links.map(([href, text]) => h('li', {}, h('a', { href, 'data-nav': href }, text))))),
    h(
      'div',
      { class: 'who' },
      h('span', {}, `${current.user.username} (${current.user.role})`),
      h('a', { href: '#/password' }, 'Password'),
      signOut,
    ),
  );
  replace(root, header, main);
  return main;
}

function markCurrentNav(hash: string): void {
  for (const link of Array.from(root.querySelectorAll<HTMLAnchorElement>('nav a[data-nav]'))) {
    if (hash.startsWith(link.dataset.nav ?? '-')) {
      link.setAttribute('aria-current', 'page');
    } else {
      link.removeAttribute('aria-current');
    }
  }
}

async function route(): Promise<void> {
  const hash = location.hash || '#/';
  try {
    if (hash.startsWith('#/setup')) {
      renderSetup(root, navigate);
      return;
    }
    if (!session) session = await loadSession();
    if (!session) {
      const setup = await api<{ required: boolean }>('GET', '/setup');
      if (setup.required) {
        navigate('#/setup');
        return;
      }
      renderLogin(root, async (signedIn) => {
        session = signedIn;
        setCsrfToken(signedIn.csrf_token);
        navigate(homeFor(signedIn));
      });
      return;
    }
    if (hash === '#/' || hash === '#/login') {
      navigate(homeFor(session));
      return;
    }
    let target = root.querySelector<HTMLElement>('main#main');
    if (!root.querySelector('header.app-header') || !target) target = shell(session);
    markCurrentNav(hash);
    const context: AppContext = { session, main: target, navigate };
    const patientMatch = /^#\/patients\/(\d+)(\/report)?$/.exec(hash);
    if (hash.startsWith('#/password')) {
      renderPassword(context, () => {
        session = null;
        navigate('#/login');
      });
    } else if (session.user.role === 'clinician' && patientMatch) {
      if (patientMatch[2]) {
        await renderReport(context, Number(patientMatch[1]));
      } else {
        await renderPatient(context, Number(patientMatch[1]));
      }
    } else if (session.user.role === 'clinician' && hash.startsWith('#/patients')) {
      await renderPatients(context);
    } else if (session.user.role === 'admin' && hash.startsWith('#/admin')) {
      await renderAdmin(context, hash.startsWith('#/admin/audit') ? 'audit' : 'users');
    } else if (session.user.role === 'patient' && hash.startsWith('#/me')) {
      await renderMe(context);
    } else {
      replace(target, h('h1', {}, 'Not found'), h('p', {}, 'There is no such page for your role. '), h('a', { href: homeFor(session) }, 'Go to the start page'));
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      session = null;
      navigate('#/login');
      return;
    }
    const target = root.querySelector<HTMLElement>('main#main') ?? root;
    replace(target, h('h1', {}, 'Something went wrong'), status(error instanceof Error ? error.message : String(error), 'error'));
  }
}

window.addEventListener('hashchange', () => void route());
void route();
