// Self-report links: a clinician creates a one-time, expiring link for PHQ-9, GAD-7 and the daily log.
import { api, describeError } from '../api';
import { field, h, replace, select, status, table } from '../dom';
import { formatTime } from '../format';
import type { Invitation } from '../types';

export async function renderInvitations(patientId: number): Promise<HTMLElement> {
  const list = h('div', {});
  const output = h('div', { 'aria-live': 'polite' });
  const reload = async () => {
    const invitations = (await api<{ items: Invitation[] }>('GET', `/patients/${patientId}/invitations`)).items;
    if (!invitations.length) {
      replace(list, h('p', { class: 'muted' }, 'No links sent yet.'));
      return;
    }
    replace(
      list,
      table(
        'Links sent',
        ['Created', 'Questionnaires', 'Expires', 'Status', ''],
        invitations.map((invitation) => {
          let revoke: HTMLElement | null = null;
          if (invitation.status === 'open') {
            const button = h('button', { type: 'button', class: 'small-button' }, 'Withdraw');
            button.addEventListener('click', async () => {
              await api('DELETE', `/patients/${patientId}/invitations/${invitation.id}`);
              await reload();
            });
            revoke = button;
          }
          return [formatTime(invitation.created_at_ms), invitation.instruments.join(', '), formatTime(invitation.expires_at_ms), invitation.status, revoke];
        }),
      ),
    );
  };
  const boxes = (['phq9', 'gad7', 'daily_log'] as const).map((name) => {
    const input = h('input', { type: 'checkbox', name: 'instrument', value: name, id: `invite-${name}`, checked: name !== 'gad7' });
    return h('div', { class: 'field checkbox' }, input, h('label', { for: input.id }, { phq9: 'PHQ-9 (depression)', gad7: 'GAD-7 (anxiety)', daily_log: 'Daily log (mood, sleep, energy)' }[name]));
  });
  const hours = select('expires_in_hours', [['24', '1 day'], ['72', '3 days'], ['168', '7 days']], '72');
  const form = h(
    'form',
    { class: 'entry-form', 'aria-labelledby': 'form-invite' },
    h('h3', { id: 'form-invite' }, 'Send a self-report link'),
    h('p', { class: 'muted small' }, 'The patient opens the link on a phone, without an account. It works once and expires.'),
    h('fieldset', {}, h('legend', {}, 'Questionnaires'), ...boxes),
    field('Valid for', hours),
    h('button', { type: 'submit', class: 'primary' }, 'Create link'),
  );
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const instruments = Array.from(form.querySelectorAll<HTMLInputElement>('input[name=instrument]:checked')).map((input) => input.value);
    try {
      const answer = await api<{ url: string; invitation: Invitation }>('POST', `/patients/${patientId}/invitations`, { instruments, expires_in_hours: Number(hours.value) });
      const link = h('input', { type: 'text', readonly: true, value: answer.url, class: 'link-output', 'aria-label': 'Self-report link' });
      const copy = h('button', { type: 'button' }, 'Copy link');
      copy.addEventListener('click', async () => {
        link.select();
        try {
          await navigator.clipboard.writeText(answer.url);
          copy.textContent = 'Copied';
        } catch {
          copy.textContent = 'Select and copy the link';
        }
      });
      replace(output, status('Link created. It is shown only now: send it to the patient (text message or e-mail).', 'ok'), h('div', { class: 'copy-row' }, link, copy));
      await reload();
    } catch (error) {
      replace(output, status(describeError(error), 'error'));
    }
  });
  await reload();
  return h('section', { 'aria-labelledby': 'invite-title', id: 'self-report-links' }, h('h2', { id: 'invite-title' }, 'Patient self-report'), form, output, list);
}
