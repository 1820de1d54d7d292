// Administration: clinics, users (create, disable, reset password) and the audit log.
import { api, describeError } from '../api';
import { field, h, replace, select, status, table } from '../dom';
import { formatTime } from '../format';
import type { AppContext } from '../main';
import type { AuditEvent, User } from '../types';

interface Clinic {
  id: number;
  name: string;
}

export async function renderAdmin(context: AppContext, tab: 'users' | 'audit'): Promise<void> {
  if (tab === 'audit') {
    await renderAudit(context);
    return;
  }
  const [clinics, users] = await Promise.all([api<{ items: Clinic[] }>('GET', '/clinics'), api<{ items: User[] }>('GET', '/users')]);
  const clinicName = new Map(clinics.items.map((clinic) => [clinic.id, clinic.name]));
  const message = h('div', { 'aria-live': 'polite', id: 'admin-status' });
  const refresh = (text: HTMLElement | null) => void renderAdmin(context, 'users').then(() => text && document.getElementById('admin-status')?.append(text));

  const clinicInput = h('input', { name: 'clinic_name', required: true });
  const clinicForm = h('form', { class: 'entry-form' }, h('h2', {}, 'Add a clinic'), field('Clinic name', clinicInput), h('button', { type: 'submit', class: 'primary' }, 'Add clinic'));
  clinicForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api('POST', '/clinics', { name: clinicInput.value.trim() });
      refresh(status(`Clinic ${clinicInput.value.trim()} added.`, 'ok'));
    } catch (error) {
      replace(message, status(describeError(error), 'error'));
    }
  });

  const username = h('input', { name: 'new_username', required: true, autocomplete: 'off', spellcheck: 'false' });
  const role = select('role', [['clinician', 'Clinician'], ['admin', 'Administrator'], ['patient', 'Patient']]);
  const clinic = select('clinic_id', clinics.items.map((entry): [string, string] => [String(entry.id), entry.name]));
  const patientId = h('input', { name: 'patient_id', type: 'number', min: '1' });
  const userForm = h(
    'form',
    { class: 'entry-form' },
    h('h2', {}, 'Add a user'),
    h('p', { class: 'muted small' }, 'A password is generated and shown once; the user changes it after signing in.'),
    h('div', { class: 'grid' }, field('Username', username), field('Role', role), field('Clinic (clinicians)', clinic), field('Patient id (patients)', patientId)),
    h('button', { type: 'submit', class: 'primary' }, 'Add user'),
  );
  userForm.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body: Record<string, unknown> = { username: username.value.trim(), role: role.value };
    if (role.value === 'clinician') body.clinic_id = Number(clinic.value);
    if (role.value === 'patient') body.patient_id = Number(patientId.value);
    try {
      const answer = await api<{ user: User; password: string }>('POST', '/users', body);
      refresh(h('div', { class: 'status ok', role: 'status' }, `User ${answer.user.username} added. Password (shown once): `, h('code', { class: 'secret' }, answer.password)));
    } catch (error) {
      replace(message, status(describeError(error), 'error'));
    }
  });

  const rows = users.items.map((user) => {
    const toggle = h('button', { type: 'button', class: 'small-button' }, user.disabled ? 'Enable' : 'Disable');
    toggle.addEventListener('click', async () => {
      try {
        await api('PATCH', `/users/${user.id}`, { disabled: !user.disabled });
        refresh(status(`User ${user.username} ${user.disabled ? 'enabled' : 'disabled'}.`, 'ok'));
      } catch (error) {
        replace(message, status(describeError(error), 'error'));
      }
    });
    const reset = h('button', { type: 'button', class: 'small-button' }, 'Reset password');
    reset.addEventListener('click', async () => {
      try {
        const answer = await api<{ password: string }>('PATCH', `/users/${user.id}`, { reset_password: true });
        refresh(h('div', { class: 'status ok', role: 'status' }, `New password for ${user.username} (shown once): `, h('code', { class: 'secret' }, answer.password)));
      } catch (error) {
        replace(message, status(describeError(error), 'error'));
      }
    });
    return [
      user.username,
      user.role,
      user.clinic_id ? (clinicName.get(user.clinic_id) ?? String(user.clinic_id)) : '–',
      user.patient_id ? `patient ${user.patient_id}` : '–',
      user.disabled ? 'disabled' : 'active',
      h('span', {}, toggle, ' ', reset),
    ];
  });

  replace(
    context.main,
    h('h1', {}, 'Users and clinics'),
    message,
    table('Users', ['Username', 'Role', 'Clinic', 'Patient', 'State', ''], rows),
    h('div', { class: 'two-columns' }, userForm, clinicForm),
    table('Clinics', ['Id', 'Name'], clinics.items.map((entry) => [String(entry.id), entry.name])),
  );
}

async function renderAudit(context: AppContext): Promise<void> {
  const patient = h('input', { name: 'patient_id', type: 'number', min: '1', id: 'audit-patient' });
  const body = h('tbody', {});
  const more = h('div', {});
  const load = async (before: number | null, reset: boolean) => {
    const parameters = new URLSearchParams({ limit: '100' });
    if (patient.value) parameters.set('patient_id', patient.value);
    if (before) parameters.set('before', String(before));
    const page = await api<{ items: AuditEvent[]; next_before: number | null }>('GET', `/audit?${parameters.toString()}`);
    if (reset) replace(body);
    for (const event of page.items) {
      body.appendChild(
        h(
          'tr',
          { class: event.outcome === 'ok' ? '' : 'denied' },
          h('td', {}, formatTime(event.at_ms)),
          h('td', {}, event.actor),
          h('td', {}, event.action),
          h('td', {}, event.resource),
          h('td', {}, event.remote_addr),
          h('td', {}, event.outcome),
        ),
      );
    }
    replace(more);
    if (page.next_before !== null) {
      const button = h('button', { type: 'button' }, 'Older records');
      button.addEventListener('click', () => void load(page.next_before, false));
      more.appendChild(button);
    }
  };
  const filter = h('form', { class: 'toolbar' }, h('label', { for: 'audit-patient' }, 'Patient id'), patient, h('button', { type: 'submit' }, 'Filter'));
  filter.addEventListener('submit', (event) => {
    event.preventDefault();
    void load(null, true);
  });
  replace(
    context.main,
    h('h1', {}, 'Audit log'),
    h('p', { class: 'muted' }, 'Every read and write of patient data, every sign-in and every refusal, newest first. The log cannot be changed or deleted.'),
    filter,
    h(
      'table',
      { class: 'data audit' },
      h('thead', {}, h('tr', {}, ...['When', 'Who', 'Action', 'Resource', 'From', 'Outcome'].map((title) => h('th', { scope: 'col' }, title)))),
      body,
    ),
    more,
  );
  await load(null, true);
}
