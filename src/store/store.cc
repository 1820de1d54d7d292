// SPDX-License-Identifier: Apache-2.0
// The Store over the shared SQL layer: the same statements run on SQLite and PostgreSQL.
#include "refract/store/store.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "sql_driver.h"

namespace refract::store {
namespace detail {
/// The migrations/*.sql files built into the binary, as (file name, text).
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedMigrationFiles();
}  // namespace detail

namespace {

using detail::SqlParam;
using detail::SqlParams;
using detail::SqlRow;
using detail::SqlTx;

constexpr int kMaxPageSize = 500;

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

SqlParam Optional(const std::optional<std::int64_t>& value) {
  if (value) return *value;
  return nullptr;
}

// The patient exists and, when the caller names the version it read, is still at that version
// (optimistic concurrency: a stale write is refused with the current version).
Result<void> CheckVersion(SqlTx& tx, std::int64_t patient_id, std::optional<std::int64_t> expected_version) {
  const auto current = tx.Query("SELECT version FROM patients WHERE id = ?", {patient_id});
  if (current.empty()) return Fail(ErrorCode::NotFound, fmt::format("no patient {}", patient_id));
  if (expected_version && current[0].Int(0) != *expected_version) {
    return Fail(ErrorCode::InvalidInput,
                fmt::format("the record changed since version {} (now {}); reload it and try again", *expected_version, current[0].Int(0)),
                "body.version");
  }
  return {};
}

nlohmann::json ParseStoredJson(const std::string& text, std::string_view what) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) throw std::runtime_error(fmt::format("stored {} is not valid JSON", what));
  return json;
}

std::optional<EntrySource> ParseEntrySource(std::string_view name) {
  if (name == "clinician") return EntrySource::Clinician;
  if (name == "self_report") return EntrySource::SelfReport;
  if (name == "import") return EntrySource::Import;
  return std::nullopt;
}

// Column lists and row readers; the SELECTs below list columns in exactly this order.
constexpr const char* kUserColumns = "id, username, password_hash, role, clinic_id, patient_id, disabled, created_at_ms";
User ReadUser(const SqlRow& row, std::size_t offset = 0) {
  User user;
  user.id = row.Int(offset + 0);
  user.username = row.Text(offset + 1);
  user.password_hash = row.Text(offset + 2);
  const auto role = ParseRole(row.Text(offset + 3));
  if (!role) throw std::runtime_error("stored user role is unknown");
  user.role = *role;
  user.clinic_id = row.OptionalInt(offset + 4);
  user.patient_id = row.OptionalInt(offset + 5);
  user.disabled = row.Int(offset + 6) != 0;
  user.created_at_ms = row.Int(offset + 7);
  return user;
}

constexpr const char* kPatientColumns = "id, clinic_id, record_id, label, profile, version, created_at_ms, updated_at_ms";
Patient ReadPatient(const SqlRow& row) {
  Patient patient;
  patient.id = row.Int(0);
  patient.clinic_id = row.Int(1);
  patient.record_id = row.Text(2);
  patient.label = row.Text(3);
  patient.profile = ParseStoredJson(row.Text(4), "patient profile");
  patient.version = row.Int(5);
  patient.created_at_ms = row.Int(6);
  patient.updated_at_ms = row.Int(7);
  return patient;
}

constexpr const char* kEntryColumns = "id, patient_id, section, sort_date, body, source, created_by, created_at_ms, updated_at_ms";
Entry ReadEntry(const SqlRow& row) {
  Entry entry;
  entry.id = row.Int(0);
  entry.patient_id = row.Int(1);
  entry.section = row.Text(2);
  entry.sort_date = row.Text(3);
  entry.body = ParseStoredJson(row.Text(4), "entry");
  const auto source = ParseEntrySource(row.Text(5));
  if (!source) throw std::runtime_error("stored entry source is unknown");
  entry.source = *source;
  entry.created_by = row.OptionalInt(6);
  entry.created_at_ms = row.Int(7);
  entry.updated_at_ms = row.Int(8);
  return entry;
}

constexpr const char* kInvitationColumns = "id, patient_id, instruments, created_by, created_at_ms, expires_at_ms, used_at_ms, revoked_at_ms";
Invitation ReadInvitation(const SqlRow& row) {
  Invitation invitation;
  invitation.id = row.Int(0);
  invitation.patient_id = row.Int(1);
  const auto instruments = ParseStoredJson(row.Text(2), "invitation instruments");
  for (const auto& instrument : instruments) {
    if (instrument.is_string()) invitation.instruments.push_back(instrument.get<std::string>());
  }
  invitation.created_by = row.Int(3);
  invitation.created_at_ms = row.Int(4);
  invitation.expires_at_ms = row.Int(5);
  invitation.used_at_ms = row.OptionalInt(6);
  invitation.revoked_at_ms = row.OptionalInt(7);
  return invitation;
}

constexpr const char* kAuditColumns = "id, at_ms, actor_user_id, actor, action, resource, patient_id, remote_addr, outcome";
AuditEvent ReadAudit(const SqlRow& row) {
  AuditEvent event;
  event.id = row.Int(0);
  event.at_ms = row.Int(1);
  event.actor_user_id = row.OptionalInt(2);
  event.actor = row.Text(3);
  event.action = row.Text(4);
  event.resource = row.Text(5);
  event.patient_id = row.OptionalInt(6);
  event.remote_addr = row.Text(7);
  event.outcome = row.Text(8);
  return event;
}

void InsertAudit(SqlTx& tx, const AuditEvent& event) {
  tx.Exec(
      "INSERT INTO audit_log (at_ms, actor_user_id, actor, action, resource, patient_id, remote_addr, outcome) "
      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      {event.at_ms != 0 ? event.at_ms : NowMs(), Optional(event.actor_user_id), event.actor, event.action, event.resource,
       Optional(event.patient_id), event.remote_addr, event.outcome});
}

Entry InsertEntry(SqlTx& tx, std::int64_t patient_id, const NewEntry& entry, std::optional<std::int64_t> created_by, std::int64_t now) {
  const auto rows = tx.Query(fmt::format("INSERT INTO entries (patient_id, section, sort_date, body, source, created_by, created_at_ms, "
                                         "updated_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING {}",
                                         kEntryColumns),
                             {patient_id, entry.section, SortDateOf(entry.section, entry.body), entry.body.dump(),
                              std::string(EntrySourceName(entry.source)), Optional(created_by), now, now});
  return ReadEntry(rows.at(0));
}

// Every write of a record bumps its version, so that cached assessments of it go stale.
void BumpVersion(SqlTx& tx, std::int64_t patient_id, std::int64_t now) {
  tx.Exec("UPDATE patients SET version = version + 1, updated_at_ms = ? WHERE id = ?", {now, patient_id});
}

int ClampLimit(int limit) { return std::clamp(limit, 1, kMaxPageSize); }

class SqlStore final : public Store {
 public:
  explicit SqlStore(std::unique_ptr<detail::SqlDriver> driver) : driver_(std::move(driver)) {}

  std::string_view Dialect() const override { return driver_->Dialect(); }

  Result<int> Migrate() {
    int version = 0;
    const auto& migrations = Migrations();
    auto done = driver_->Transact(true, [&](SqlTx& tx) -> Result<bool> {
      driver_->LockForMigration(tx);
      tx.Script(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)");
      const auto rows = tx.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {});
      version = static_cast<int>(rows.at(0).Int(0));
      const int newest = migrations.empty() ? 0 : migrations.back().version;
      if (version > newest) {
        return Fail(ErrorCode::Storage,
                    fmt::format("database schema version {} is newer than this refract knows ({}); upgrade refract", version, newest));
      }
      for (const Migration& migration : migrations) {
        if (migration.version <= version) continue;
        tx.Script(MigrationSqlFor(migration.sql, driver_->Dialect()));
        tx.Exec("INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)",
                {static_cast<std::int64_t>(migration.version), migration.name, NowMs()});
        version = migration.version;
      }
      return true;
    });
    if (!done) return tl::unexpected(done.error());
    return version;
  }

  Result<int> SchemaVersion() override {
    return Read<int>([&](SqlTx& tx) -> Result<int> {
      return static_cast<int>(tx.Query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {}).at(0).Int(0));
    });
  }

  Result<std::string> IntegrityCheck() override { return driver_->IntegrityCheck(); }

  Result<Clinic> CreateClinic(std::string_view name, const AuditEvent& audit) override {
    return Write<Clinic>([&](SqlTx& tx) -> Result<Clinic> {
      if (!tx.Query("SELECT id FROM clinics WHERE name = ?", {std::string(name)}).empty()) {
        return Fail(ErrorCode::InvalidInput, fmt::format("a clinic named \"{}\" exists", name), "body.name");
      }
      const auto rows = tx.Query("INSERT INTO clinics (name, created_at_ms) VALUES (?, ?) RETURNING id, name, created_at_ms",
                                 {std::string(name), NowMs()});
      InsertAudit(tx, audit);
      return Clinic{rows.at(0).Int(0), rows.at(0).Text(1), rows.at(0).Int(2)};
    });
  }

  Result<std::vector<Clinic>> ListClinics() override {
    return Read<std::vector<Clinic>>([&](SqlTx& tx) -> Result<std::vector<Clinic>> {
      std::vector<Clinic> clinics;
      for (const SqlRow& row : tx.Query("SELECT id, name, created_at_ms FROM clinics ORDER BY id", {})) {
        clinics.push_back(Clinic{row.Int(0), row.Text(1), row.Int(2)});
      }
      return clinics;
    });
  }

  Result<std::int64_t> CountUsers() override {
    return Read<std::int64_t>([&](SqlTx& tx) -> Result<std::int64_t> { return tx.Query("SELECT COUNT(*) FROM users", {}).at(0).Int(0); });
  }

  Result<User> CreateUser(const NewUser& user, const AuditEvent& audit) override {
    return Write<User>([&](SqlTx& tx) -> Result<User> {
      if (!tx.Query("SELECT id FROM users WHERE username = ?", {user.username}).empty()) {
        return Fail(ErrorCode::InvalidInput, fmt::format("the username \"{}\" is taken", user.username), "body.username");
      }
      const auto rows = tx.Query(fmt::format("INSERT INTO users (username, password_hash, role, clinic_id, patient_id, disabled, "
                                             "created_at_ms) VALUES (?, ?, ?, ?, ?, 0, ?) RETURNING {}",
                                             kUserColumns),
                                 {user.username, user.password_hash, std::string(RoleName(user.role)), Optional(user.clinic_id),
                                  Optional(user.patient_id), NowMs()});
      InsertAudit(tx, audit);
      return ReadUser(rows.at(0));
    });
  }

  Result<std::optional<User>> FindUserByName(std::string_view username) override {
    return Read<std::optional<User>>([&](SqlTx& tx) -> Result<std::optional<User>> {
      const auto rows = tx.Query(fmt::format("SELECT {} FROM users WHERE username = ?", kUserColumns), {std::string(username)});
      if (rows.empty()) return std::optional<User>();
      return std::optional<User>(ReadUser(rows[0]));
    });
  }

  Result<User> GetUser(std::int64_t id) override {
    return Read<User>([&](SqlTx& tx) -> Result<User> {
      const auto rows = tx.Query(fmt::format("SELECT {} FROM users WHERE id = ?", kUserColumns), {id});
      if (rows.empty()) return Fail(ErrorCode::NotFound, fmt::format("no user {}", id));
      return ReadUser(rows[0]);
    });
  }

  Result<std::vector<User>> ListUsers() override {
    return Read<std::vector<User>>([&](SqlTx& tx) -> Result<std::vector<User>> {
      std::vector<User> users;
      for (const SqlRow& row : tx.Query(fmt::format("SELECT {} FROM users ORDER BY id", kUserColumns), {})) users.push_back(ReadUser(row));
      return users;
    });
  }

  Result<bool> SetPassword(std::int64_t user_id, std::string_view password_hash, const AuditEvent& audit) override {
    return Write<bool>([&](SqlTx& tx) -> Result<bool> {
      if (tx.Exec("UPDATE users SET password_hash = ? WHERE id = ?", {std::string(password_hash), user_id}) == 0) {
        return Fail(ErrorCode::NotFound, fmt::format("no user {}", user_id));
      }
      // A new password ends every session of the user.
      tx.Exec("DELETE FROM sessions WHERE user_id = ?", {user_id});
      InsertAudit(tx, audit);
      return true;
    });
  }

  Result<bool> SetUserDisabled(std::int64_t user_id, bool disabled, const AuditEvent& audit) override {
    return Write<bool>([&](SqlTx& tx) -> Result<bool> {
      if (tx.Exec("UPDATE users SET disabled = ? WHERE id = ?", {std::int64_t{disabled ? 1 : 0}, user_id}) == 0) {
        return Fail(ErrorCode::NotFound, fmt::format("no user {}", user_id));
      }
      if (disabled) tx.Exec("DELETE FROM sessions WHERE user_id = ?", {user_id});
      InsertAudit(tx, audit);
      return true;
    });
  }

  Result<bool> CreateSession(const Session& session) override {
    return Write<bool>([&](SqlTx& tx) -> Result<bool> {
      tx.Exec("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at_ms, expires_at_ms) VALUES (?, ?, ?, ?, ?)",
              {session.token_hash, session.user_id, session.csrf_token, session.created_at_ms, session.expires_at_ms});
      return true;
    });
  }

  Result<std::optional<std::pair<Session, User>>> FindSession(std::string_view token_hash, std::int64_t now_ms) override {
    using Found = std::optional<std::pair<Session, User>>;
    return Read<Found>([&](SqlTx& tx) -> Result<Found> {
      const auto rows = tx.Query(
          "SELECT s.token_hash, s.user_id, s.csrf_token, s.created_at_ms, s.expires_at_ms, u.id, u.username, u.password_hash, u.role, "
          "u.clinic_id, u.patient_id, u.disabled, u.created_at_ms FROM sessions s JOIN users u ON u.id = s.user_id "
          "WHERE s.token_hash = ? AND s.expires_at_ms > ? AND u.disabled = 0",
          {std::string(token_hash), now_ms});
      if (rows.empty()) return Found();
      Session session{rows[0].Text(0), rows[0].Int(1), rows[0].Text(2), rows[0].Int(3), rows[0].Int(4)};
      return Found(std::pair<Session, User>(std::move(session), ReadUser(rows[0], 5)));
    });
  }

  Result<bool> DeleteSession(std::string_view token_hash) override {
    return Write<bool>([&](SqlTx& tx) -> Result<bool> {
      return tx.Exec("DELETE FROM sessions WHERE token_hash = ?", {std::string(token_hash)}) > 0;
    });
  }

  Result<bool> DeleteUserSessions(std::int64_t user_id) override {
    return Write<bool>([&](SqlTx& tx) -> Result<bool> { return tx.Exec("DELETE FROM sessions WHERE user_id = ?", {user_id}) > 0; });
  }

  Result<std::int64_t> DeleteExpiredSessions(std::int64_t now_ms) override {
    return Write<std::int64_t>([&](SqlTx& tx) -> Result<std::int64_t> {
      return tx.Exec("DELETE FROM sessions WHERE expires_at_ms <= ?", {now_ms});
    });
  }

  Result<Patient> CreatePatient(std::int64_t clinic_id, std::string_view record_id, std::string_view label, const nlohmann::json& profile,
                                const std::vector<NewEntry>& entries, std::optional<std::int64_t> created_by,
                                const AuditEvent& audit) override {
    for (const NewEntry& entry : entries) {
      if (!IsSection(entry.section)) return Fail(ErrorCode::InvalidInput, fmt::format("unknown record section \"{}\"", entry.section));
    }
    return Write<Patient>([&](SqlTx& tx) -> Result<Patient> {
      if (!tx.Query("SELECT id FROM patients WHERE clinic_id = ? AND record_id = ?", {clinic_id, std::string(record_id)}).empty()) {
        return Fail(ErrorCode::InvalidInput, fmt::format("a patient with record id \"{}\" exists in this clinic", record_id), "body.record.id");
      }
      const std::int64_t now = NowMs();
      const auto rows = tx.Query(fmt::format("INSERT INTO patients (clinic_id, record_id, label, profile, version, created_at_ms, "
                                             "updated_at_ms) VALUES (?, ?, ?, ?, 1, ?, ?) RETURNING {}",
                                             kPatientColumns),
                                 {clinic_id, std::string(record_id), std::string(label), profile.dump(), now, now});
      Patient patient = ReadPatient(rows.at(0));
      for (const NewEntry& entry : entries) InsertEntry(tx, patient.id, entry, created_by, now);
      AuditEvent event = audit;
      event.patient_id = patient.id;
      if (event.resource.empty() || event.resource == "patients") event.resource = fmt::format("patients/{}", patient.id);
      InsertAudit(tx, event);
      return patient;
    });
  }

  Result<Patient> GetPatient(std::int64_t patient_id) override {
    return Read<Patient>([&](SqlTx& tx) -> Result<Patient> {
      const auto rows = tx.Query(fmt::format("SELECT {} FROM patients WHERE id = ?", kPatientColumns), {patient_id});
      if (rows.empty()) return Fail(ErrorCode::NotFound, fmt::format("no patient {}", patient_id));
      return ReadPatient(rows[0]);
    });
  }

  Result<std::pair<Patient, std::vector<Entry>>> GetRecord(std::int64_t patient_id) override {
    using Record = std::pair<Patient, std::vector<Entry>>;
    return Read<Record>([&](SqlTx& tx) -> Result<Record> {
      const auto rows = tx.Query(fmt::format("SELECT {} FROM patients WHERE id = ?", kPatientColumns), {patient_id});
      if (rows.empty()) return Fail(ErrorCode::NotFound, fmt::format("no patient {}", patient_id));
      Record record{ReadPatient(rows[0]), {}};
      for (const SqlRow& row : tx.Query(fmt::format("SELECT {} FROM entries WHERE patient_id = ? AND deleted_at_ms IS NULL "
                                                    "ORDER BY section, sort_date, id",
                                                    kEntryColumns),
                                        {patient_id})) {
        record.second.push_back(ReadEntry(row));
      }
      return record;
    });
  }

  Result<Page<Patient>> ListPatients(std::int64_t clinic_id, std::optional<std::int64_t> after_id, int limit) override {
    const int page_size = ClampLimit(limit);
    return Read<Page<Patient>>([&](SqlTx& tx) -> Result<Page<Patient>> {
      Page<Patient> page;
      // One row more than asked tells whether another page follows.
      const auto rows = tx.Query(fmt::format("SELECT {} FROM patients WHERE clinic_id = ? AND id > ? ORDER BY id LIMIT ?", kPatientColumns),
                                 {clinic_id, after_id.value_or(0), std::int64_t{page_size + 1}});
      for (const SqlRow& row : rows) {
        if (static_cast<int>(page.items.size()) == page_size) {
          page.next_after = page.items.back().id;
          break;
        }
        page.items.push_back(ReadPatient(row));
      }
      return page;
    });
  }

  Result<Patient> UpdatePatient(std::int64_t patient_id, std::string_view label, const nlohmann::json& profile,
                                std::optional<std::int64_t> expected_version, const AuditEvent& audit) override {
    return Write<Patient>([&](SqlTx& tx) -> Result<Patient> {
      if (auto fresh = CheckVersion(tx, patient_id, expected_version); !fresh) return tl::unexpected(fresh.error());
      const auto rows = tx.Query(fmt::format("UPDATE patients SET label = ?, profile = ?, version = version + 1, updated_at_ms = ? "
                                             "WHERE id = ? RETURNING {}",
                                             kPatientColumns),
                                 {std::string(label), profile.dump(), NowMs(), patient_id});
      InsertAudit(tx, audit);
      return ReadPatient(rows.at(0));
    });
  }

  Result<std::vector<Entry>> ListEntries(std::int64_t patient_id, std::optional<std::string_view> section) override {
    return Read<std::vector<Entry>>([&](SqlTx& tx) -> Result<std::vector<Entry>> {
      std::vector<Entry> entries;
      const auto rows = section ? tx.Query(fmt::format("SELECT {} FROM entries WHERE patient_id = ? AND section = ? AND deleted_at_ms IS "
                                                       "NULL ORDER BY sort_date, id",
                                                       kEntryColumns),
                                           {patient_id, std::string(*section)})
                                : tx.Query(fmt::format("SELECT {} FROM entries WHERE patient_id = ? AND deleted_at_ms IS NULL "
                                                       "ORDER BY section, sort_date, id",
                                                       kEntryColumns),
                                           {patient_id});
      entries.reserve(rows.size());
      for (const SqlRow& row : rows) entries.push_back(ReadEntry(row));
      return entries;
    });
  }

  Result<Entry> GetEntry(std::int64_t patient_id, std::int64_t entry_id) override {
    return Read<Entry>([&](SqlTx& tx) -> Result<Entry> {
      const auto rows = tx.Query(
          fmt::format("SELECT {} FROM entries WHERE id = ? AND patient_id = ? AND deleted_at_ms IS NULL", kEntryColumns), {entry_id, patient_id});
      if (rows.empty()) return Fail(ErrorCode::NotFound, fmt::format("no entry {} in patient {}", entry_id, patient_id));
      return ReadEntry(rows[0]);
    });
  }

  Result<Entry> AddEntry(std::int64_t patient_id, const NewEntry& entry, std::optional<std::int64_t> created_by,
                         const AuditEvent& audit) override {
    if (!IsSection(entry.section)) return Fail(ErrorCode::InvalidInput, fmt::format("unknown record section \"{}\"", entry.section));
    return Write<Entry>([&](SqlTx& tx) -> Result<Entry> {
      if (tx.Query("SELECT id FROM patients WHERE id = ?", {patient_id}).empty()) {
        return Fail(ErrorCode::NotFound, fmt::format("no patient {}", patient_id));
      }
      const std::int64_t now = NowMs();
      Entry added = InsertEntry(tx, patient_id, entry, created_by, now);
      BumpVersion(tx, patient_id, now);
      AuditEvent event = audit;
      event.resource = fmt::format("patients/{}/{}/{}", patient_id, entry.section, added.id);
      InsertAudit(tx, event);
      return added;
    });
  }

  Result<std::vector<Entry>> AddEntries(std::int64_t patient_id, const std::vector<NewEntry>& entries, std::optional<std::int64_t> created_by,
                                        const AuditEvent& audit) override {
    for (const NewEntry& entry : entries) {
      if (!IsSection(entry.section)) return Fail(ErrorCode::InvalidInput, fmt::format("unknown record section \"{}\"", entry.section));
    }
    return Write<std::vector<Entry>>([&](SqlTx& tx) -> Result<std::vector<Entry>> {
      if (tx.Query("SELECT id FROM patients WHERE id = ?", {patient_id}).empty()) {
        return Fail(ErrorCode::NotFound, fmt::format("no patient {}", patient_id));
      }
      const std::int64_t now = NowMs();
      std::vector<Entry> added;
      for (const NewEntry& entry : entries) added.push_back(InsertEntry(tx, patient_id, entry, created_by, now));
      BumpVersion(tx, patient_id, now);
      InsertAudit(tx, audit);
      return added;
    });
  }

  Result<Patient> MergeIntoPatient(std::int64_t patient_id, const std::optional<nlohmann::json>& profile, const std::vector<NewEntry>& entries,
                                   std::optional<std::int64_t> expected_version, std::optional<std::int64_t> created_by,
                                   const AuditEvent& audit) override {
    for (const NewEntry& entry : entries) {
      if (!IsSection(entry.section)) return Fail(ErrorCode::InvalidInput, fmt::format("unknown record section \"{}\"", entry.section));
    }
    return Write<Patient>([&](SqlTx& tx) -> Result<Patient> {
      if (auto fresh = CheckVersion(tx, patient_id, expected_version); !fresh) return tl::unexpected(fresh.error());
      const std::int64_t now = NowMs();
      if (profile) tx.Exec("UPDATE patients SET profile = ? WHERE id = ?", {profile->dump(), patient_id});
      for (const NewEntry& entry : entries) InsertEntry(tx, patient_id, entry, created_by, now);
      BumpVersion(tx, patient_id, now);
      InsertAudit(tx, audit);
      const auto rows = tx.Query(fmt::format("SELECT {} FROM patients WHERE id = ?", kPatientColumns), {patient_id});
      return ReadPatient(rows.at(0));
    });
  }

  Result<Entry> UpdateEntry(std::int64_t patient_id, std::int64_t entry_id, const nlohmann::json& body, const AuditEvent& audit) override {
    return Write<Entry>([&](SqlTx& tx) -> Result<Entry> {
      const auto current = tx.Query("SELECT section FROM entries WHERE id = ? AND patient_id = ? AND deleted_at_ms IS NULL", {entry_id, patient_id});
      if (current.empty()) return Fail(ErrorCode::NotFound, fmt::format("no entry {} in patient {}", entry_id, patient_id));
      const std::int64_t now = NowMs();
      const auto rows = tx.Query(
          fmt::format("UPDATE entries SET body = ?, sort_date = ?, updated_at_ms = ? WHERE id = ? RETURNING {}", kEntryColumns),
          {body.dump(), SortDateOf(current[0].Text(0), body), now, entry_id});
      BumpVersion(tx, patient_id, now);
      InsertAudit(tx, audit);
      return ReadEntry(rows.at(0));
    });
  }

  Result<bool> DeleteEntry(std::int64_t patient_id, std::int64_t entry_id, const AuditEvent& audit) override {
    return Write<bool>([&](SqlTx& tx) -> Result<bool> {
      const std::int64_t now = NowMs();
      if (tx.Exec("UPDATE entries SET deleted_at_ms = ? WHERE id = ? AND patient_id = ? AND deleted_at_ms IS NULL", {now, entry_id, patient_id}) ==
          0) {
        return Fail(ErrorCode::NotFound, fmt::format("no entry {} in patient {}", entry_id, patient_id));
      }
      BumpVersion(tx, patient_id, now);
      InsertAudit(tx, audit);
      return true;
    });
  }

  Result<Invitation> CreateInvitation(std::int64_t patient_id, std::string_view token_hash, const std::vector<std::string>& instruments,
                                      std::int64_t created_by, std::int64_t expires_at_ms, const AuditEvent& audit) override {
    return Write<Invitation>([&](SqlTx& tx) -> Result<Invitation> {
      const auto rows = tx.Query(fmt::format("INSERT INTO invitations (token_hash, patient_id, instruments, created_by, created_at_ms, "
                                             "expires_at_ms) VALUES (?, ?, ?, ?, ?, ?) RETURNING {}",
                                             kInvitationColumns),
                                 {std::string(token_hash), patient_id, nlohmann::json(instruments).dump(), created_by, NowMs(), expires_at_ms});
      Invitation invitation = ReadInvitation(rows.at(0));
      AuditEvent event = audit;
      event.resource = fmt::format("patients/{}/invitations/{}", patient_id, invitation.id);
      InsertAudit(tx, event);
      return invitation;
    });
  }

  Result<std::optional<Invitation>> FindInvitation(std::string_view token_hash) override {
    return Read<std::optional<Invitation>>([&](SqlTx& tx) -> Result<std::optional<Invitation>> {
      const auto rows = tx.Query(fmt::format("SELECT {} FROM invitations WHERE token_hash = ?", kInvitationColumns), {std::string(token_hash)});
      if (rows.empty()) return std::optional<Invitation>();
      return std::optional<Invitation>(ReadInvitation(rows[0]));
    });
  }

  Result<std::vector<Invitation>> ListInvitations(std::int64_t patient_id) override {
    return Read<std::vector<Invitation>>([&](SqlTx& tx) -> Result<std::vector<Invitation>> {
      std::vector<Invitation> invitations;
      for (const SqlRow& row :
           tx.Query(fmt::format("SELECT {} FROM invitations WHERE patient_id = ? ORDER BY id DESC", kInvitationColumns), {patient_id})) {
        invitations.push_back(ReadInvitation(row));
      }
      return invitations;
    });
  }

  Result<bool> RevokeInvitation(std::int64_t patient_id, std::int64_t invitation_id, const AuditEvent& audit) override {
    return Write<bool>([&](SqlTx& tx) -> Result<bool> {
      if (tx.Exec("UPDATE invitations SET revoked_at_ms = ? WHERE id = ? AND patient_id = ? AND revoked_at_ms IS NULL AND used_at_ms IS NULL",
                  {NowMs(), invitation_id, patient_id}) == 0) {
        return Fail(ErrorCode::NotFound, fmt::format("no open invitation {} for patient {}", invitation_id, patient_id));
      }
      InsertAudit(tx, audit);
      return true;
    });
  }

  Result<std::vector<Entry>> RedeemInvitation(std::string_view token_hash, std::int64_t now_ms, const std::vector<NewEntry>& entries,
                                              const AuditEvent& audit) override {
    for (const NewEntry& entry : entries) {
      if (!IsSection(entry.section)) return Fail(ErrorCode::InvalidInput, fmt::format("unknown record section \"{}\"", entry.section));
    }
    return Write<std::vector<Entry>>([&](SqlTx& tx) -> Result<std::vector<Entry>> {
      // The conditional UPDATE is the one-time check: only one redemption can change the row.
      const auto rows = tx.Query(
          "UPDATE invitations SET used_at_ms = ? WHERE token_hash = ? AND used_at_ms IS NULL AND revoked_at_ms IS NULL AND expires_at_ms > ? "
          "RETURNING id, patient_id",
          {now_ms, std::string(token_hash), now_ms});
      if (rows.empty()) return Fail(ErrorCode::NotFound, "this link is not valid: it was used, revoked or has expired");
      const std::int64_t invitation_id = rows[0].Int(0);
      const std::int64_t patient_id = rows[0].Int(1);
      std::vector<Entry> added;
      for (const NewEntry& entry : entries) added.push_back(InsertEntry(tx, patient_id, entry, std::nullopt, now_ms));
      BumpVersion(tx, patient_id, now_ms);
      AuditEvent event = audit;
      event.patient_id = patient_id;
      event.actor = fmt::format("invitation:{}", invitation_id);
      event.resource = fmt::format("patients/{}/invitations/{}", patient_id, invitation_id);
      InsertAudit(tx, event);
      return added;
    });
  }

  Result<bool> AppendAudit(const std::vector<AuditEvent>& events) override {
    if (events.empty()) return true;
    return Write<bool>([&](SqlTx& tx) -> Result<bool> {
      for (const AuditEvent& event : events) InsertAudit(tx, event);
      return true;
    });
  }

  Result<Page<AuditEvent>> ListAudit(const AuditFilter& filter) override {
    const int page_size = ClampLimit(filter.limit);
    return Read<Page<AuditEvent>>([&](SqlTx& tx) -> Result<Page<AuditEvent>> {
      // Optional filters as "? IS NULL OR column = ?": one prepared statement for every combination.
      const auto rows = tx.Query(fmt::format("SELECT {} FROM audit_log WHERE id < ? "
                                             "AND (CAST(? AS BIGINT) IS NULL OR patient_id = CAST(? AS BIGINT)) "
                                             "AND (CAST(? AS BIGINT) IS NULL OR actor_user_id = CAST(? AS BIGINT)) "
                                             "ORDER BY id DESC LIMIT ?",
                                             kAuditColumns),
                                 {filter.before_id.value_or(std::numeric_limits<std::int64_t>::max()), Optional(filter.patient_id),
                                  Optional(filter.patient_id), Optional(filter.user_id), Optional(filter.user_id), std::int64_t{page_size + 1}});
      Page<AuditEvent> page;
      for (const SqlRow& row : rows) {
        if (static_cast<int>(page.items.size()) == page_size) {
          page.next_after = page.items.back().id;
          break;
        }
        page.items.push_back(ReadAudit(row));
      }
      return page;
    });
  }

 private:
  template <class T>
  Result<T> Transact(bool write, const std::function<Result<T>(SqlTx&)>& body) {
    std::optional<Result<T>> outcome;
    auto done = driver_->Transact(write, [&](SqlTx& tx) -> Result<bool> {
      outcome.emplace(body(tx));
      if (!*outcome) return tl::unexpected(outcome->error());
      return true;
    });
    if (!done) return tl::unexpected(done.error());
    return std::move(*outcome);
  }
  template <class T>
  Result<T> Read(const std::function<Result<T>(SqlTx&)>& body) {
    return Transact<T>(false, body);
  }
  template <class T>
  Result<T> Write(const std::function<Result<T>(SqlTx&)>& body) {
    return Transact<T>(true, body);
  }

  std::unique_ptr<detail::SqlDriver> driver_;
};

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::Admin: return "admin";
    case Role::Clinician: return "clinician";
    case Role::Patient: return "patient";
  }
  return "patient";
}

std::optional<Role> ParseRole(std::string_view name) {
  if (name == "admin") return Role::Admin;
  if (name == "clinician") return Role::Clinician;
  if (name == "patient") return Role::Patient;
  return std::nullopt;
}

bool IsSection(std::string_view name) { return std::find(std::begin(kSections), std::end(kSections), name) != std::end(kSections); }

std::string_view EntrySourceName(EntrySource source) {
  switch (source) {
    case EntrySource::Clinician: return "clinician";
    case EntrySource::SelfReport: return "self_report";
    case EntrySource::Import: return "import";
  }
  return "clinician";
}

std::string SortDateOf(std::string_view section, const nlohmann::json& body) {
  const char* key = (section == "medications" || section == "other_medications" || section == "procedures") ? "start" : "date";
  if (!body.is_object()) return {};
  const auto found = body.find(key);
  if (found == body.end() || !found->is_string()) return {};
  return found->get<std::string>();
}

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> migrations = [] {
    std::vector<Migration> list;
    for (const auto& [file, text] : detail::EmbeddedMigrationFiles()) {
      // "0001_initial.sql": the number is the version, the rest the name.
      const std::string name(file);
      const std::size_t underscore = name.find('_');
      const std::size_t dot = name.rfind('.');
      Migration migration;
      migration.version = std::stoi(name.substr(0, underscore));
      migration.name = name.substr(underscore + 1, dot - underscore - 1);
      migration.sql = std::string(text);
      list.push_back(std::move(migration));
    }
    std::sort(list.begin(), list.end(), [](const Migration& left, const Migration& right) { return left.version < right.version; });
    return list;
  }();
  return migrations;
}

std::string MigrationSqlFor(std::string_view sql, std::string_view dialect) {
  const std::string id_column = dialect == "sqlite" ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY";
  std::string out;
  std::string_view keep_dialect;  // Inside a dialect block: the block's dialect.
  std::size_t position = 0;
  while (position < sql.size()) {
    std::size_t end = sql.find('\n', position);
    if (end == std::string_view::npos) end = sql.size();
    const std::string_view line = sql.substr(position, end - position);
    position = end + 1;
    if (line.starts_with("--@end")) {
      keep_dialect = {};
      continue;
    }
    if (line.starts_with("--@")) {
      keep_dialect = line.substr(3);
      continue;
    }
    if (!keep_dialect.empty() && keep_dialect != dialect) continue;
    std::string text(line);
    for (std::size_t marker = text.find("@ID@"); marker != std::string::npos; marker = text.find("@ID@", marker)) {
      text.replace(marker, 4, id_column);
      marker += id_column.size();
    }
    out += text;
    out += '\n';
  }
  return out;
}

Result<std::unique_ptr<Store>> OpenStore(std::string_view url) {
  Result<std::unique_ptr<detail::SqlDriver>> driver = Fail(ErrorCode::InvalidInput, "", "--db");
  if (url.starts_with("sqlite:")) {
    driver = detail::OpenSqlite(url.substr(7));
  } else if (url.starts_with("postgresql://") || url.starts_with("postgres://")) {
    driver = detail::OpenPostgres(url);
  } else {
    return Fail(ErrorCode::InvalidInput, "unknown database URL (expected sqlite:PATH, sqlite::memory: or postgresql://...)", "--db");
  }
  if (!driver) return tl::unexpected(driver.error());
  auto store = std::make_unique<SqlStore>(std::move(*driver));
  auto migrated = store->Migrate();
  if (!migrated) return tl::unexpected(migrated.error());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace refract::store
