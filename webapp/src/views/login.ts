// Sign-in page.
import { api, describeError } from '../api';
import { field, h, replace, status } from '../dom';
import type { Session } from '../types';

export function renderLogin(root: HTMLElement, onSignedIn: (session: Session) => void): void {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const message = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'card narrow', novalidate: false },
    h('h1', {}, 'Sign in to refract'),
    field('Username', username),
    field('Password', password),
    message,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    replace(message);
    try {
      const session = await api<Session>('POST', '/session', { username: username.value, password: password.value });
      onSignedIn(session);
    } catch (error) {
      password.value = '';
      replace(message, status(describeError(error), 'error'));
      password.focus();
    }
  });
  replace(root, h('main', { id: 'main', class: 'center' }, form));
  username.focus();
}
