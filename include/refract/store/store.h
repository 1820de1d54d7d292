// SPDX-License-Identifier: Apache-2.0
/// The clinic's persistent store: clinics, users, sessions, patient records (a profile plus dated
/// entries per section of refract.patient/v1), self-report invitations and the append-only audit log.
/// One interface, two implementations (SQLite, PostgreSQL) sharing one schema and its migrations.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/result.h"

namespace refract::store {

/// What a user may do: admin manages users and reads the audit log, clinician works with the
/// patients of their clinic, patient writes their own self-reports.
enum class Role { Admin, Clinician, Patient };
[[nodiscard]] std::string_view RoleName(Role role);
/// Parses "admin", "clinician" or "patient".
[[nodiscard]] std::optional<Role> ParseRole(std::string_view name);

/// The list sections of a patient record that are stored as entries, in record order.
inline constexpr std::string_view kSections[] = {"medications", "other_medications", "scales",   "genotypes", "labs",
                                                 "vitals",      "procedures",        "adverse_reactions", "daily_log"};
/// Whether `name` is one of kSections.
[[nodiscard]] bool IsSection(std::string_view name);

/// A clinic: the unit that scopes clinicians' access to patients.
struct Clinic {
  std::int64_t id = 0;
  std::string name;
  std::int64_t created_at_ms = 0;
};

/// A user of the server (never a patient record).
struct User {
  std::int64_t id = 0;
  std::string username;
  std::string password_hash;  ///< argon2id encoded hash; never leaves the server.
  Role role = Role::Clinician;
  std::optional<std::int64_t> clinic_id;   ///< Clinicians and patients belong to one clinic.
  std::optional<std::int64_t> patient_id;  ///< Patients: their own record.
  bool disabled = false;
  std::int64_t created_at_ms = 0;
};

/// What creating a user needs.
struct NewUser {
  std::string username;
  std::string password_hash;
  Role role = Role::Clinician;
  std::optional<std::int64_t> clinic_id;
  std::optional<std::int64_t> patient_id;
};

/// A login session; the store keeps only the SHA-256 of the cookie's token.
struct Session {
  std::string token_hash;
  std::int64_t user_id = 0;
  std::string csrf_token;
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;
};

/// A patient: the record's id within the clinic, a display label, the profile (every part of the
/// record that is not a list section: person, episode, history, diagnoses, conditions, description)
/// and a version that every write of the record increments.
struct Patient {
  std::int64_t id = 0;
  std::int64_t clinic_id = 0;
  std::string record_id;
  std::string label;
  nlohmann::json profile = nlohmann::json::object();
  std::int64_t version = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
};

/// Where an entry came from.
enum class EntrySource { Clinician, SelfReport, Import };
[[nodiscard]] std::string_view EntrySourceName(EntrySource source);

/// One item of a record section (a medication course, a scale administration, a lab ...), stored
/// as the JSON object the patient schema defines for that section.
struct Entry {
  std::int64_t id = 0;
  std::int64_t patient_id = 0;
  std::string section;
  std::string sort_date;  ///< "YYYY-MM-DD" the section orders by, or empty.
  nlohmann::json body = nlohmann::json::object();
  EntrySource source = EntrySource::Clinician;
  std::optional<std::int64_t> created_by;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
};

/// What adding an entry needs.
struct NewEntry {
  std::string section;
  nlohmann::json body = nlohmann::json::object();
  EntrySource source = EntrySource::Clinician;
};

/// A one-time, expiring self-report link; the store keeps only the SHA-256 of its token.
struct Invitation {
  std::int64_t id = 0;
  std::int64_t patient_id = 0;
  std::vector<std::string> instruments;  ///< "phq9", "gad7", "daily_log".
  std::int64_t created_by = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t expires_at_ms = 0;
  std::optional<std::int64_t> used_at_ms;
  std::optional<std::int64_t> revoked_at_ms;
};

/// One audit record: who did what to which resource, when, from where, and how it ended.
/// Never holds clinical content: resources are named by path ("patients/12/medications/40").
struct AuditEvent {
  std::int64_t id = 0;  ///< Assigned by the store.
  std::int64_t at_ms = 0;
  std::optional<std::int64_t> actor_user_id;
  std::string actor;  ///< Username, "invitation:<id>", "setup" or "system".
  std::string action;  ///< read, create, update, delete, login, login_failed, logout, redeem ...
  std::string resource;
  std::optional<std::int64_t> patient_id;
  std::string remote_addr;
  std::string outcome = "ok";  ///< ok, denied, not_found, invalid, error.
};

/// A page of a keyset-paginated list: `next_after` is the id to continue after, if there is more.
template <class T>
struct Page {
  std::vector<T> items;
  std::optional<std::int64_t> next_after;
};

/// Which audit records to list.
struct AuditFilter {
  std::optional<std::int64_t> patient_id;
  std::optional<std::int64_t> user_id;
  std::optional<std::int64_t> before_id;  ///< Newest first: continue below this id.
  int limit = 100;
};

/// The store. Every method is safe to call from many threads at once. Failures of the database
/// are returned as ErrorCode::Storage (the driver's message, never record content); a missing row
/// is NotFound; a broken uniqueness or state rule is InvalidInput with a message naming it.
/// Write methods that change patient data take the audit event and record it in the same
/// transaction, so no write is committed without its audit record.
class Store {
 public:
  virtual ~Store() = default;

  /// "sqlite" or "postgresql".
  [[nodiscard]] virtual std::string_view Dialect() const = 0;
  /// The highest migration applied.
  [[nodiscard]] virtual Result<int> SchemaVersion() = 0;
  /// The database's own consistency check ("ok" or what it found).
  [[nodiscard]] virtual Result<std::string> IntegrityCheck() = 0;

  // Clinics and users.
  /// Creates a clinic. Fails with InvalidInput when the name is taken.
  [[nodiscard]] virtual Result<Clinic> CreateClinic(std::string_view name, const AuditEvent& audit) = 0;
  /// Every clinic, by id.
  [[nodiscard]] virtual Result<std::vector<Clinic>> ListClinics() = 0;
  /// How many users exist (0 before the first-run set-up).
  [[nodiscard]] virtual Result<std::int64_t> CountUsers() = 0;
  /// Fails with InvalidInput when the username is taken.
  [[nodiscard]] virtual Result<User> CreateUser(const NewUser& user, const AuditEvent& audit) = 0;
  /// The user with this username, or nothing.
  [[nodiscard]] virtual Result<std::optional<User>> FindUserByName(std::string_view username) = 0;
  /// The user with this id; NotFound otherwise.
  [[nodiscard]] virtual Result<User> GetUser(std::int64_t id) = 0;
  /// Every user, by id.
  [[nodiscard]] virtual Result<std::vector<User>> ListUsers() = 0;
  /// Replaces the password hash and ends every session of the user; NotFound for an unknown user.
  [[nodiscard]] virtual Result<bool> SetPassword(std::int64_t user_id, std::string_view password_hash, const AuditEvent& audit) = 0;
  /// Disabling a user also ends their sessions.
  [[nodiscard]] virtual Result<bool> SetUserDisabled(std::int64_t user_id, bool disabled, const AuditEvent& audit) = 0;

  // Sessions.
  /// Stores a new session.
  [[nodiscard]] virtual Result<bool> CreateSession(const Session& session) = 0;
  /// The session and its user when the token hash is known, unexpired at `now_ms` and the user enabled.
  [[nodiscard]] virtual Result<std::optional<std::pair<Session, User>>> FindSession(std::string_view token_hash,
                                                                                  std::int64_t now_ms) = 0;
  /// Ends one session; false when it did not exist.
  [[nodiscard]] virtual Result<bool> DeleteSession(std::string_view token_hash) = 0;
  /// Ends every session of a user; false when there was none.
  [[nodiscard]] virtual Result<bool> DeleteUserSessions(std::int64_t user_id) = 0;
  /// Removes sessions expired at `now_ms`; returns how many.
  [[nodiscard]] virtual Result<std::int64_t> DeleteExpiredSessions(std::int64_t now_ms) = 0;

  // Patients and their entries.
  /// Creates the patient with its entries in one transaction. Fails with InvalidInput when the
  /// record id is taken in the clinic.
  [[nodiscard]] virtual Result<Patient> CreatePatient(std::int64_t clinic_id, std::string_view record_id, std::string_view label,
                                                      const nlohmann::json& profile, const std::vector<NewEntry>& entries,
                                                      std::optional<std::int64_t> created_by, const AuditEvent& audit) = 0;
  /// The patient with this id (of any clinic: callers scope); NotFound otherwise.
  [[nodiscard]] virtual Result<Patient> GetPatient(std::int64_t patient_id) = 0;
  /// The patient and their live entries, read in one transaction (so that they agree with the version).
  [[nodiscard]] virtual Result<std::pair<Patient, std::vector<Entry>>> GetRecord(std::int64_t patient_id) = 0;
  /// Patients of a clinic ordered by id, after `after_id`, at most `limit`.
  [[nodiscard]] virtual Result<Page<Patient>> ListPatients(std::int64_t clinic_id, std::optional<std::int64_t> after_id, int limit) = 0;
  /// Replaces label and profile. Fails with InvalidInput when `expected_version` is given and stale.
  [[nodiscard]] virtual Result<Patient> UpdatePatient(std::int64_t patient_id, std::string_view label, const nlohmann::json& profile,
                                                      std::optional<std::int64_t> expected_version, const AuditEvent& audit) = 0;
  /// The live entries of a patient (all sections, or one), in record order: section, date, id.
  [[nodiscard]] virtual Result<std::vector<Entry>> ListEntries(std::int64_t patient_id, std::optional<std::string_view> section) = 0;
  /// One live entry of the patient; NotFound when it is absent, deleted or another patient's.
  [[nodiscard]] virtual Result<Entry> GetEntry(std::int64_t patient_id, std::int64_t entry_id) = 0;
  /// Adds an entry and bumps the version; NotFound for an unknown patient, InvalidInput for an unknown section.
  [[nodiscard]] virtual Result<Entry> AddEntry(std::int64_t patient_id, const NewEntry& entry, std::optional<std::int64_t> created_by,
                                               const AuditEvent& audit) = 0;
  /// Adds several entries in one transaction with one audit record (resource given by the caller).
  [[nodiscard]] virtual Result<std::vector<Entry>> AddEntries(std::int64_t patient_id, const std::vector<NewEntry>& entries,
                                                              std::optional<std::int64_t> created_by, const AuditEvent& audit) = 0;
  /// Adds entries and, when `profile` is given, replaces the profile, in one transaction that bumps the
  /// version once and writes one audit record (an import into a stored patient). Fails with NotFound
  /// for an unknown patient, InvalidInput for an unknown section or (at "body.version") when
  /// `expected_version` is given and stale; nothing is written then.
  [[nodiscard]] virtual Result<Patient> MergeIntoPatient(std::int64_t patient_id, const std::optional<nlohmann::json>& profile,
                                                         const std::vector<NewEntry>& entries, std::optional<std::int64_t> expected_version,
                                                         std::optional<std::int64_t> created_by, const AuditEvent& audit) = 0;
  /// Replaces an entry's body (and its date) and bumps the version; NotFound when absent.
  [[nodiscard]] virtual Result<Entry> UpdateEntry(std::int64_t patient_id, std::int64_t entry_id, const nlohmann::json& body,
                                                  const AuditEvent& audit) = 0;
  /// Marks the entry deleted; it stays in the database but no longer belongs to the record.
  [[nodiscard]] virtual Result<bool> DeleteEntry(std::int64_t patient_id, std::int64_t entry_id, const AuditEvent& audit) = 0;

  // Self-report invitations.
  /// Stores a new invitation (the token's hash only).
  [[nodiscard]] virtual Result<Invitation> CreateInvitation(std::int64_t patient_id, std::string_view token_hash,
                                                            const std::vector<std::string>& instruments, std::int64_t created_by,
                                                            std::int64_t expires_at_ms, const AuditEvent& audit) = 0;
  /// The invitation when the hash is known, whatever its state.
  [[nodiscard]] virtual Result<std::optional<Invitation>> FindInvitation(std::string_view token_hash) = 0;
  /// A patient's invitations, newest first.
  [[nodiscard]] virtual Result<std::vector<Invitation>> ListInvitations(std::int64_t patient_id) = 0;
  /// Withdraws an open invitation; NotFound when it is unknown, used or already withdrawn.
  [[nodiscard]] virtual Result<bool> RevokeInvitation(std::int64_t patient_id, std::int64_t invitation_id, const AuditEvent& audit) = 0;
  /// Uses the invitation once: in one transaction, checks it is unused, unrevoked and unexpired at
  /// `now_ms`, marks it used and adds the entries. Fails with NotFound otherwise (a second use included).
  [[nodiscard]] virtual Result<std::vector<Entry>> RedeemInvitation(std::string_view token_hash, std::int64_t now_ms,
                                                                    const std::vector<NewEntry>& entries, const AuditEvent& audit) = 0;

  // Audit log.
  /// Appends events (reads of patient data, logins, denials) in one transaction.
  [[nodiscard]] virtual Result<bool> AppendAudit(const std::vector<AuditEvent>& events) = 0;
  /// Newest first.
  [[nodiscard]] virtual Result<Page<AuditEvent>> ListAudit(const AuditFilter& filter) = 0;
};

/// The date an entry of `section` is ordered by (course start, administration date, ...), or empty.
[[nodiscard]] std::string SortDateOf(std::string_view section, const nlohmann::json& body);

/// Opens a store and applies pending migrations: "sqlite:PATH" (WAL journal, synchronous FULL,
/// foreign keys on), "sqlite::memory:" (a private in-memory database, for tests), or a PostgreSQL
/// connection URL ("postgresql://user@host:port/db"). Fails with InvalidInput for an unknown
/// scheme, Storage when the database cannot be opened or migrated.
[[nodiscard]] Result<std::unique_ptr<Store>> OpenStore(std::string_view url);

/// One schema migration: its version, name and SQL text.
struct Migration {
  int version = 0;
  std::string name;
  std::string sql;
};
/// The migrations built into the binary, in version order.
[[nodiscard]] const std::vector<Migration>& Migrations();

/// A migration's SQL for one dialect: `--@sqlite` / `--@postgresql` ... `--@end` blocks kept only
/// for that dialect, `@ID@` replaced by the dialect's auto-increment primary key.
[[nodiscard]] std::string MigrationSqlFor(std::string_view sql, std::string_view dialect);

}  // namespace refract::store
