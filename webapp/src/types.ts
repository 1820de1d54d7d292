// Shapes of the API's answers that the app reads (see /api/v1/openapi.json).

export type Role = 'admin' | 'clinician' | 'patient';

export interface User {
  id: number;
  username: string;
  role: Role;
  clinic_id: number | null;
  patient_id: number | null;
  disabled: boolean;
  created_at_ms: number;
}

export interface Session {
  user: User;
  csrf_token: string;
  expires_at_ms: number;
}

export interface Patient {
  id: number;
  record_id: string;
  label: string;
  version: number;
  created_at_ms: number;
  updated_at_ms: number;
}

export interface AlertSummary {
  severity: 'critical' | 'warning' | 'info';
  code: string;
  message: string;
}

export interface PatientSummary extends Patient {
  trd_status: string | null;
  alerts: AlertSummary[];
  alert_counts: { critical: number; warning: number; info: number };
  as_of?: string;
}

export interface Page<T> {
  items: T[];
  next_after: number | null;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Entry {
  id: number;
  section: string;
  source: 'clinician' | 'self_report' | 'import';
  created_by: number | null;
  created_at_ms: number;
  updated_at_ms: number;
  body: JsonObject;
}

export interface PatientRecord {
  patient: Patient;
  record: JsonObject;
  entries: Record<string, Entry[]>;
}

export interface Finding {
  code: string;
  message: string;
  rule: string;
  sources: string[];
}

export interface Alert extends Finding {
  severity: 'critical' | 'warning' | 'info';
}

export interface AssessmentAnswer {
  patient: Patient;
  assessment: JsonObject & { alerts: Alert[]; as_of: string };
  timeline: JsonObject;
}

export interface Drug {
  id: string;
  inn: string;
  brands: string[];
  class: string;
  counts_as: string;
  dose_expressed_as: string;
}

export interface ScaleItem {
  label: string;
  text: string;
  min: number;
  max: number;
  answers: string[];
  required?: boolean;
}

export interface Scale {
  id: string;
  short_name: string;
  name: string;
  rater: string;
  measures: string;
  items: ScaleItem[] | number;
}

export interface Invitation {
  id: number;
  patient_id: number;
  instruments: string[];
  created_at_ms: number;
  expires_at_ms: number;
  used_at_ms: number | null;
  revoked_at_ms: number | null;
  status: 'open' | 'used' | 'revoked' | 'expired';
}

export interface FormInstrument {
  id: string;
  kind: 'scale' | 'daily_log';
  name: string;
  short_name?: string;
  recall?: string;
  items?: ScaleItem[];
  fields?: Record<string, { type?: string | string[]; minimum?: number; maximum?: number; description?: string }>;
}

export interface SelfReportForm {
  instruments: FormInstrument[];
  crisis: { text: string; emergency: string } | null;
  expires_at_ms?: number;
}

export interface AuditEvent {
  id: number;
  at_ms: number;
  actor_user_id: number | null;
  actor: string;
  action: string;
  resource: string;
  patient_id: number | null;
  remote_addr: string;
  outcome: string;
}
