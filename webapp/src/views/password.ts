// Change one's own password (every session ends; sign in again).
import { api, describeError } from '../api';
import { field, h, replace, status } from '../dom';
import type { AppContext } from '../main';

export function renderPassword(context: AppContext, onChanged: () => void): void {
  const current = h('input', { type: 'password', required: true, autocomplete: 'current-password' });
  const next = h('input', { type: 'password', required: true, minlength: 12, autocomplete: 'new-password' });
  const message = h('div', { 'aria-live': 'polite' });
  const form = h(
    'form',
    { class: 'card narrow' },
    h('h1', {}, 'Change your password'),
    field('Current password', current),
    field('New password', next, 'At least 12 characters. Every session ends; you sign in again.'),
    message,
    h('button', { type: 'submit', class: 'primary' }, 'Change password'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api('PUT', '/session/password', { current_password: current.value, new_password: next.value });
      onChanged();
    } catch (error) {
      replace(message, status(describeError(error), 'error'));
    }
  });
  replace(context.main, form);
}
