-- refract clinic store, schema version 1: clinics, users, sessions, patients and their record
-- entries, self-report invitations and the append-only audit log.
--
-- One schema for SQLite and PostgreSQL. `@ID@` becomes the dialect's auto-increment primary key
-- (never reused); `--@sqlite` / `--@postgresql` ... `--@end` blocks are kept for one dialect only.
-- Times are milliseconds since the Unix epoch (UTC), dates ISO 8601 text, JSON documents text.

CREATE TABLE clinics (
  id @ID@,
  name TEXT NOT NULL UNIQUE,
  created_at_ms BIGINT NOT NULL
);

CREATE TABLE patients (
  id @ID@,
  clinic_id BIGINT NOT NULL REFERENCES clinics (id),
  record_id TEXT NOT NULL,
  label TEXT NOT NULL DEFAULT '',
  -- The record without its list sections (person, episode, history, diagnoses, conditions ...).
  profile TEXT NOT NULL,
  -- Incremented by every write of the record or its entries (cache key, optimistic locking).
  version BIGINT NOT NULL DEFAULT 1,
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  UNIQUE (clinic_id, record_id)
);

CREATE TABLE users (
  id @ID@,
  username TEXT NOT NULL UNIQUE,
  -- argon2id encoded hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash).
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('admin', 'clinician', 'patient')),
  clinic_id BIGINT REFERENCES clinics (id),
  patient_id BIGINT REFERENCES patients (id),
  disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
  created_at_ms BIGINT NOT NULL,
  CHECK (role <> 'clinician' OR clinic_id IS NOT NULL),
  CHECK (role <> 'patient' OR patient_id IS NOT NULL)
);

-- One item of a record section, stored as the JSON object refract.patient/v1 defines for it.
CREATE TABLE entries (
  id @ID@,
  patient_id BIGINT NOT NULL REFERENCES patients (id),
  section TEXT NOT NULL CHECK (section IN ('medications', 'other_medications', 'scales', 'genotypes', 'labs',
                                           'vitals', 'procedures', 'adverse_reactions', 'daily_log')),
  sort_date TEXT NOT NULL,
  body TEXT NOT NULL,
  source TEXT NOT NULL CHECK (source IN ('clinician', 'self_report', 'import')),
  created_by BIGINT REFERENCES users (id),
  created_at_ms BIGINT NOT NULL,
  updated_at_ms BIGINT NOT NULL,
  -- Deleted entries are kept (clinical records are retained) but leave the record.
  deleted_at_ms BIGINT
);
CREATE INDEX entries_by_patient ON entries (patient_id, section, sort_date, id);

-- Only the SHA-256 of the session token is stored; the token lives in the browser's cookie.
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users (id),
  csrf_token TEXT NOT NULL,
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- One-time, expiring self-report links; only the SHA-256 of the token is stored.
CREATE TABLE invitations (
  id @ID@,
  token_hash TEXT NOT NULL UNIQUE,
  patient_id BIGINT NOT NULL REFERENCES patients (id),
  instruments TEXT NOT NULL,
  created_by BIGINT NOT NULL REFERENCES users (id),
  created_at_ms BIGINT NOT NULL,
  expires_at_ms BIGINT NOT NULL,
  used_at_ms BIGINT,
  revoked_at_ms BIGINT
);
CREATE INDEX invitations_by_patient ON invitations (patient_id);

-- Every read and write of patient data, every login and every denial. Append-only: the triggers
-- below reject UPDATE and DELETE (and TRUNCATE on PostgreSQL). No clinical content is stored here.
CREATE TABLE audit_log (
  id @ID@,
  at_ms BIGINT NOT NULL,
  actor_user_id BIGINT,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  resource TEXT NOT NULL,
  patient_id BIGINT,
  remote_addr TEXT NOT NULL,
  outcome TEXT NOT NULL
);
CREATE INDEX audit_by_patient ON audit_log (patient_id, id);
CREATE INDEX audit_by_user ON audit_log (actor_user_id, id);

--@sqlite
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
--@end

--@postgresql
CREATE FUNCTION refract_audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION refract_audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION refract_audit_log_append_only();
--@end
