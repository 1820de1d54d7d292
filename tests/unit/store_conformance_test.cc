// SPDX-License-Identifier: Apache-2.0
// The store's behaviour, run against SQLite (:memory:) and a real PostgreSQL: migrations,
// users and sessions, patients and entries, invitations, the audit log and its append-only rule.
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include "../server/test_databases.h"
#include "refract/store/store.h"

namespace refract::store {
namespace {

using refract::testing::kSkipPostgres;
using refract::testing::PostgresUrl;
using refract::testing::TestDatabase;

AuditEvent Event(std::string action, std::string resource = "test") {
  AuditEvent event;
  event.at_ms = 1700000000000;
  event.actor = "tester";
  event.action = std::move(action);
  event.resource = std::move(resource);
  event.remote_addr = "127.0.0.1";
  return event;
}

class StoreConformance : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql" && !PostgresUrl()) GTEST_SKIP() << kSkipPostgres;
    database_ = std::make_unique<TestDatabase>(GetParam());
    store_ = &database_->Open();
  }

  std::int64_t MakeClinic(const std::string& name = "North") {
    auto clinic = store_->CreateClinic(name, Event("create", "clinics"));
    EXPECT_TRUE(clinic);
    return clinic->id;
  }

  Patient MakePatient(std::int64_t clinic_id, const std::string& record_id = "p-1") {
    std::vector<NewEntry> entries{
        {"medications", {{"drug", "sertraline"}, {"start", "2025-04-01"}, {"id", "course-1"}}, EntrySource::Import},
        {"scales", {{"scale", "phq9"}, {"date", "2025-05-01"}, {"items", {1, 1, 1, 1, 1, 1, 1, 1, 0}}}, EntrySource::Import},
        {"scales", {{"scale", "phq9"}, {"date", "2025-04-01"}, {"items", {2, 2, 2, 2, 2, 2, 2, 2, 0}}}, EntrySource::Import},
    };
    auto patient = store_->CreatePatient(clinic_id, record_id, "Ms A", {{"person", {{"sex", "female"}}}}, entries, std::nullopt,
                                         Event("create", "patients"));
    EXPECT_TRUE(patient) << (patient ? "" : patient.error().message);
    return *patient;
  }

  std::unique_ptr<TestDatabase> database_;
  Store* store_ = nullptr;
};

TEST_P(StoreConformance, AppliesEveryMigration) {
  auto version = store_->SchemaVersion();
  ASSERT_TRUE(version);
  EXPECT_EQ(*version, Migrations().back().version);
  EXPECT_EQ(store_->Dialect(), GetParam());
  auto integrity = store_->IntegrityCheck();
  ASSERT_TRUE(integrity);
  EXPECT_EQ(*integrity, "ok");
}

TEST_P(StoreConformance, CreatesAndFindsUsers) {
  const std::int64_t clinic = MakeClinic();
  auto user = store_->CreateUser(NewUser{"dr.grey", "$argon2id$hash", Role::Clinician, clinic, std::nullopt}, Event("create", "users"));
  ASSERT_TRUE(user) << user.error().message;
  EXPECT_EQ(user->username, "dr.grey");
  EXPECT_EQ(user->role, Role::Clinician);
  EXPECT_EQ(user->clinic_id, clinic);
  EXPECT_FALSE(user->disabled);

  auto taken = store_->CreateUser(NewUser{"dr.grey", "x", Role::Admin, std::nullopt, std::nullopt}, Event("create", "users"));
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, ErrorCode::InvalidInput);
  EXPECT_EQ(taken.error().message, "the username \"dr.grey\" is taken");

  auto found = store_->FindUserByName("dr.grey");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->id, user->id);
  auto missing = store_->FindUserByName("nobody");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
  auto count = store_->CountUsers();
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, 1);
}

TEST_P(StoreConformance, SchemaRejectsAClinicianWithoutClinic) {
  auto user = store_->CreateUser(NewUser{"lost", "x", Role::Clinician, std::nullopt, std::nullopt}, Event("create", "users"));
  ASSERT_FALSE(user);
  EXPECT_EQ(user.error().code, ErrorCode::Storage);
  EXPECT_TRUE(user.error().message.starts_with("storage: ")) << user.error().message;
}

TEST_P(StoreConformance, SessionsExpireAndEndWithTheUser) {
  auto user = store_->CreateUser(NewUser{"admin", "x", Role::Admin, std::nullopt, std::nullopt}, Event("create", "users"));
  ASSERT_TRUE(user);
  ASSERT_TRUE(store_->CreateSession(Session{"hash-1", user->id, "csrf-1", 1000, 5000}));
  auto found = store_->FindSession("hash-1", 2000);
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->first.csrf_token, "csrf-1");
  EXPECT_EQ((*found)->second.username, "admin");
  auto expired = store_->FindSession("hash-1", 5000);
  ASSERT_TRUE(expired);
  EXPECT_FALSE(*expired);

  ASSERT_TRUE(store_->SetUserDisabled(user->id, true, Event("disable")));
  auto after_disable = store_->FindSession("hash-1", 2000);
  ASSERT_TRUE(after_disable);
  EXPECT_FALSE(*after_disable);

  ASSERT_TRUE(store_->CreateSession(Session{"hash-2", user->id, "csrf-2", 1000, 5000}));
  auto removed = store_->DeleteExpiredSessions(6000);
  ASSERT_TRUE(removed);
  EXPECT_EQ(*removed, 1);
}

TEST_P(StoreConformance, StoresAPatientWithEntriesInRecordOrder) {
  const std::int64_t clinic = MakeClinic();
  const Patient patient = MakePatient(clinic);
  EXPECT_EQ(patient.record_id, "p-1");
  EXPECT_EQ(patient.version, 1);
  EXPECT_EQ(patient.profile["person"]["sex"], "female");

  auto record = store_->GetRecord(patient.id);
  ASSERT_TRUE(record);
  ASSERT_EQ(record->second.size(), 3U);
  EXPECT_EQ(record->second[0].section, "medications");
  // Scales come in date order whatever the insertion order.
  EXPECT_EQ(record->second[1].sort_date, "2025-04-01");
  EXPECT_EQ(record->second[2].sort_date, "2025-05-01");
  EXPECT_EQ(record->second[1].body["items"][0], 2);

  auto duplicate = store_->CreatePatient(clinic, "p-1", "", nlohmann::json::object(), {}, std::nullopt, Event("create"));
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().message, "a patient with record id \"p-1\" exists in this clinic");
  // The same record id in another clinic is another patient.
  EXPECT_TRUE(store_->CreatePatient(MakeClinic("South"), "p-1", "", nlohmann::json::object(), {}, std::nullopt, Event("create")));
}

TEST_P(StoreConformance, EveryWriteBumpsTheVersion) {
  const Patient patient = MakePatient(MakeClinic());
  auto added = store_->AddEntry(patient.id, NewEntry{"labs", {{"name", "tsh"}, {"value", 2.1}, {"date", "2025-06-01"}}, EntrySource::Clinician},
                                std::nullopt, Event("create"));
  ASSERT_TRUE(added);
  EXPECT_EQ(added->sort_date, "2025-06-01");
  EXPECT_EQ(store_->GetPatient(patient.id)->version, 2);

  auto updated = store_->UpdateEntry(patient.id, added->id, {{"name", "tsh"}, {"value", 2.4}, {"date", "2025-06-02"}}, Event("update"));
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->sort_date, "2025-06-02");
  EXPECT_EQ(store_->GetPatient(patient.id)->version, 3);

  ASSERT_TRUE(store_->DeleteEntry(patient.id, added->id, Event("delete")));
  EXPECT_EQ(store_->GetPatient(patient.id)->version, 4);
  auto gone = store_->GetEntry(patient.id, added->id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().code, ErrorCode::NotFound);
  auto again = store_->DeleteEntry(patient.id, added->id, Event("delete"));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::NotFound);

  auto stale = store_->UpdatePatient(patient.id, "Ms A", nlohmann::json::object(), 1, Event("update"));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().message, "the record changed since version 1 (now 4); reload it and try again");
  auto fresh = store_->UpdatePatient(patient.id, "Ms B", nlohmann::json::object(), 4, Event("update"));
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->label, "Ms B");
  EXPECT_EQ(fresh->version, 5);
}

TEST_P(StoreConformance, MergesProfileAndEntriesInOneVersionOrNothing) {
  const Patient patient = MakePatient(MakeClinic());
  const std::vector<NewEntry> entries{{"labs", {{"name", "tsh"}, {"value", 2.1}, {"date", "2025-06-01"}}, EntrySource::Import},
                                      {"labs", {{"name", "sodium"}, {"value", 139}, {"date", "2025-06-01"}}, EntrySource::Import}};
  const nlohmann::json profile{{"person", {{"sex", "female"}, {"birth_date", "1980-01-01"}}}};
  auto stale = store_->MergeIntoPatient(patient.id, profile, entries, patient.version + 1, std::nullopt, Event("import"));
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().location, "body.version");
  EXPECT_EQ(store_->ListEntries(patient.id, "labs")->size(), 0U) << "a refused merge writes nothing";
  auto merged = store_->MergeIntoPatient(patient.id, profile, entries, patient.version, std::nullopt, Event("import", "patients/1/fhir/import"));
  ASSERT_TRUE(merged) << merged.error().message;
  EXPECT_EQ(merged->version, patient.version + 1);
  EXPECT_EQ(merged->profile, profile);
  const auto labs = store_->ListEntries(patient.id, "labs");
  ASSERT_EQ(labs->size(), 2U);
  EXPECT_EQ((*labs)[0].source, EntrySource::Import);
  auto entries_only = store_->MergeIntoPatient(patient.id, std::nullopt, {entries[0]}, std::nullopt, std::nullopt, Event("import"));
  ASSERT_TRUE(entries_only);
  EXPECT_EQ(entries_only->profile, profile) << "no profile given: the profile stays";
  EXPECT_EQ(entries_only->version, patient.version + 2);
  auto unknown = store_->MergeIntoPatient(patient.id + 1000, std::nullopt, entries, std::nullopt, std::nullopt, Event("import"));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, ErrorCode::NotFound);
}

TEST_P(StoreConformance, PaginatesPatientsOfOneClinic) {
  const std::int64_t north = MakeClinic("North");
  const std::int64_t south = MakeClinic("South");
  for (int patient_idx = 0; patient_idx < 5; ++patient_idx) MakePatient(north, fmt::format("n-{}", patient_idx));
  MakePatient(south, "s-0");
  auto first = store_->ListPatients(north, std::nullopt, 2);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->items.size(), 2U);
  ASSERT_TRUE(first->next_after);
  auto second = store_->ListPatients(north, first->next_after, 2);
  ASSERT_TRUE(second);
  auto third = store_->ListPatients(north, second->next_after, 2);
  ASSERT_TRUE(third);
  ASSERT_EQ(third->items.size(), 1U);
  EXPECT_FALSE(third->next_after);
  EXPECT_EQ(third->items[0].record_id, "n-4");
}

TEST_P(StoreConformance, InvitationsAreUsedOnce) {
  const std::int64_t clinic = MakeClinic();
  const Patient patient = MakePatient(clinic);
  auto clinician = store_->CreateUser(NewUser{"c", "x", Role::Clinician, clinic, std::nullopt}, Event("create"));
  ASSERT_TRUE(clinician);
  auto invitation = store_->CreateInvitation(patient.id, "token-hash", {"phq9", "daily_log"}, clinician->id, 10000, Event("create"));
  ASSERT_TRUE(invitation);
  EXPECT_EQ(invitation->instruments, (std::vector<std::string>{"phq9", "daily_log"}));
  const std::vector<NewEntry> entries{{"daily_log", {{"date", "2025-06-01"}, {"mood", 4}}, EntrySource::SelfReport}};

  auto expired = store_->RedeemInvitation("token-hash", 10000, entries, Event("redeem"));
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, ErrorCode::NotFound);

  auto used = store_->RedeemInvitation("token-hash", 9000, entries, Event("redeem"));
  ASSERT_TRUE(used) << used.error().message;
  ASSERT_EQ(used->size(), 1U);
  EXPECT_EQ((*used)[0].source, EntrySource::SelfReport);
  auto twice = store_->RedeemInvitation("token-hash", 9001, entries, Event("redeem"));
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().message, "this link is not valid: it was used, revoked or has expired");

  auto found = store_->FindInvitation("token-hash");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->used_at_ms, 9000);
  auto revoke_used = store_->RevokeInvitation(patient.id, (*found)->id, Event("revoke"));
  EXPECT_FALSE(revoke_used);
}

TEST_P(StoreConformance, ConcurrentRedemptionsSucceedOnce) {
  const std::int64_t clinic = MakeClinic();
  const Patient patient = MakePatient(clinic);
  auto clinician = store_->CreateUser(NewUser{"c", "x", Role::Clinician, clinic, std::nullopt}, Event("create"));
  ASSERT_TRUE(store_->CreateInvitation(patient.id, "race", {"daily_log"}, clinician->id, 10000, Event("create")));
  std::atomic<int> successes{0};
  std::vector<std::thread> threads;
  for (int thread_idx = 0; thread_idx < 8; ++thread_idx) {
    threads.emplace_back([&] {
      auto used = store_->RedeemInvitation("race", 5000, {{"daily_log", {{"date", "2025-06-01"}}, EntrySource::SelfReport}}, Event("redeem"));
      if (used) ++successes;
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(successes.load(), 1);
  EXPECT_EQ(store_->ListEntries(patient.id, std::string_view("daily_log"))->size(), 1U);
}

TEST_P(StoreConformance, AuditLogIsAppendOnlyAndNewestFirst) {
  const Patient patient = MakePatient(MakeClinic());
  AuditEvent read = Event("read", "patients/1");
  read.patient_id = patient.id;
  ASSERT_TRUE(store_->AppendAudit({read, read}));
  AuditFilter filter;
  filter.patient_id = patient.id;
  auto page = store_->ListAudit(filter);
  ASSERT_TRUE(page);
  // The patient's creation and the two reads.
  ASSERT_EQ(page->items.size(), 3U);
  EXPECT_GT(page->items[0].id, page->items[1].id);
  EXPECT_EQ(page->items[0].action, "read");
  EXPECT_EQ(page->items[2].action, "create");
  filter.limit = 1;
  auto first = store_->ListAudit(filter);
  ASSERT_TRUE(first && first->next_after);
  filter.before_id = first->next_after;
  auto next = store_->ListAudit(filter);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->items[0].id, page->items[1].id);
}

TEST_P(StoreConformance, ListsNoEventsOfOtherPatients) {
  const std::int64_t clinic = MakeClinic();
  const Patient first = MakePatient(clinic, "a");
  const Patient second = MakePatient(clinic, "b");
  AuditFilter filter;
  filter.patient_id = second.id;
  auto page = store_->ListAudit(filter);
  ASSERT_TRUE(page);
  for (const AuditEvent& event : page->items) EXPECT_EQ(event.patient_id, second.id);
  EXPECT_NE(first.id, second.id);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreConformance, ::testing::Values("sqlite"));
INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformance, ::testing::Values("postgresql"));

TEST(SqliteAuditLog, RejectsUpdateAndDelete) {
  const auto path = std::filesystem::temp_directory_path() / fmt::format("refract-audit-{}.db", ::getpid());
  {
    auto store = OpenStore("sqlite:" + path.string());
    ASSERT_TRUE(store);
    ASSERT_TRUE((*store)->AppendAudit({Event("read")}));
  }
  {
    SQLite::Database database(path.string(), SQLite::OPEN_READWRITE);
    EXPECT_THROW(database.exec("UPDATE audit_log SET actor = 'someone else'"), SQLite::Exception);
    EXPECT_THROW(database.exec("DELETE FROM audit_log"), SQLite::Exception);
    SQLite::Statement count(database, "SELECT COUNT(*) FROM audit_log");
    ASSERT_TRUE(count.executeStep());
    EXPECT_EQ(count.getColumn(0).getInt(), 1);
  }
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
}

TEST(PostgresAuditLog, RejectsUpdateDeleteAndTruncate) {
  if (!PostgresUrl()) GTEST_SKIP() << kSkipPostgres;
  TestDatabase database("postgresql");
  Store& store = database.Open();
  ASSERT_TRUE(store.AppendAudit({Event("read")}));
  pqxx::connection connection(database.url());
  for (const char* statement : {"UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log", "TRUNCATE audit_log"}) {
    pqxx::work work(connection);
    EXPECT_THROW(work.exec(statement), pqxx::sql_error) << statement;
  }
  pqxx::work work(connection);
  EXPECT_EQ(work.exec("SELECT COUNT(*) FROM audit_log")[0][0].as<int>(), 1);
}

TEST(Migrations, AreNumberedFromOneWithoutGaps) {
  const auto& migrations = Migrations();
  ASSERT_FALSE(migrations.empty());
  for (std::size_t migration_idx = 0; migration_idx < migrations.size(); ++migration_idx) {
    EXPECT_EQ(migrations[migration_idx].version, static_cast<int>(migration_idx) + 1);
  }
  EXPECT_EQ(migrations.front().name, "initial");
}

TEST(Migrations, KeepOnlyTheirDialectsBlocks) {
  const std::string sql = "CREATE TABLE t (id @ID@);\n--@sqlite\nSQLITE ONLY;\n--@end\n--@postgresql\nPG ONLY;\n--@end\nBOTH;\n";
  const std::string sqlite = MigrationSqlFor(sql, "sqlite");
  EXPECT_NE(sqlite.find("INTEGER PRIMARY KEY AUTOINCREMENT"), std::string::npos);
  EXPECT_NE(sqlite.find("SQLITE ONLY"), std::string::npos);
  EXPECT_EQ(sqlite.find("PG ONLY"), std::string::npos);
  EXPECT_NE(sqlite.find("BOTH"), std::string::npos);
  const std::string postgres = MigrationSqlFor(sql, "postgresql");
  EXPECT_NE(postgres.find("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"), std::string::npos);
  EXPECT_EQ(postgres.find("SQLITE ONLY"), std::string::npos);
  EXPECT_NE(postgres.find("PG ONLY"), std::string::npos);
}

TEST(OpenStore, RejectsAnUnknownScheme) {
  auto store = OpenStore("mysql://localhost/x");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::InvalidInput);
  EXPECT_EQ(store.error().message, "unknown database URL (expected sqlite:PATH, sqlite::memory: or postgresql://...)");
}

TEST(SortDate, UsesStartForCoursesAndDateOtherwise) {
  EXPECT_EQ(SortDateOf("medications", {{"start", "2025-01-02"}}), "2025-01-02");
  EXPECT_EQ(SortDateOf("labs", {{"date", "2025-01-03"}}), "2025-01-03");
  EXPECT_EQ(SortDateOf("labs", {{"start", "2025-01-03"}}), "");
}

}  // namespace
}  // namespace refract::store
