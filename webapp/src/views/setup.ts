// First-run set-up: the one-time token printed by `refract serve` creates the first administrator.
import { api, describeError } from '../api';
import { field, h, replace, status } from '../dom';

export function renderSetup(root: HTMLElement, navigate: (hash: string) => void): void {
  const fromLink = new URLSearchParams(location.hash.split('?')[1] ?? '').get('token') ?? '';
  const token = h('input', { name: 'token', required: true, autocomplete: 'off', spellcheck: 'false', value: fromLink });
  const username = h('input', { name: 'username', required: true, autocomplete: 'username', value: 'admin' });
  const password = h('input', { name: 'password', type: 'password', required: true, minlength: 12, autocomplete: 'new-password' });
  const repeat = h('input', { name: 'repeat', type: 'password', required: true, minlength: 12, autocomplete: 'new-password' });
  const message = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'card narrow' },
    h('h1', {}, 'Set up refract'),
    h('p', {}, 'No user exists yet. Create the first administrator with the one-time set-up token that refract serve printed when it started.'),
    field('Set-up token', token),
    field('Administrator username', username),
    field('Password', password, 'At least 12 characters.'),
    field('Repeat the password', repeat),
    message,
    h('button', { type: 'submit', class: 'primary' }, 'Create administrator'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (password.value !== repeat.value) {
      replace(message, status('The two passwords differ.', 'error'));
      return;
    }
    try {
      await api('POST', '/setup', { token: token.value.trim(), username: username.value, password: password.value });
      replace(message, status('The administrator exists. Sign in.', 'ok'));
      navigate('#/login');
    } catch (error) {
      replace(message, status(describeError(error), 'error'));
    }
  });
  replace(root, h('main', { id: 'main', class: 'center' }, form));
}
