// SPDX-License-Identifier: Apache-2.0
// The clinic server tested in-process on 127.0.0.1 (port 0), against SQLite and PostgreSQL:
// set-up, sign-in, CSRF, roles and clinic scoping, the patient API, self-report links, the
// audit log, the error model, security headers and what the log may not contain.
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "../server/test_client.h"

namespace refract::server {
namespace {

using refract::testing::Answer;
using refract::testing::Browser;
using refract::testing::kSkipPostgres;
using refract::testing::PostgresUrl;
using refract::testing::TestServer;

constexpr const char* kAdminPassword = "correct horse battery";
constexpr const char* kClinicianPassword = "clinician password 1";

nlohmann::json Example(const std::string& name) {
  std::ifstream file(std::string(REFRACT_SOURCE_DIR) + "/examples/" + name + ".json");
  return nlohmann::json::parse(file);
}

nlohmann::json FhirBundle(const std::string& name) {
  std::ifstream file(std::string(REFRACT_SOURCE_DIR) + "/tests/fhir/" + name + ".bundle.json");
  return nlohmann::json::parse(file);
}

// The resource types of a Bundle, one per entry.
std::multiset<std::string> ResourceTypes(const nlohmann::json& bundle) {
  std::multiset<std::string> types;
  for (const auto& entry : bundle.value("entry", nlohmann::json::array())) types.insert(entry["resource"].value("resourceType", ""));
  return types;
}

class ServerApi : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "postgresql" && !PostgresUrl()) GTEST_SKIP() << kSkipPostgres;
    server_ = std::make_unique<TestServer>(GetParam());
    server_->Start();
    if (HasFatalFailure()) return;
    admin_ = std::make_unique<Browser>(server_->port());
  }

  // Set-up, a clinic with one clinician, and the admin signed in.
  void SetUpClinic() {
    const std::string token = server_->server().SetupToken();
    ASSERT_FALSE(token.empty());
    ASSERT_EQ(admin_->Post("/api/v1/setup", {{"token", token}, {"username", "admin"}, {"password", kAdminPassword}}).status, 201);
    ASSERT_EQ(admin_->Login("admin", kAdminPassword).status, 200);
    clinic_id_ = MakeClinic("North");
    clinician_ = MakeClinician("dr.north", clinic_id_);
  }

  std::int64_t MakeClinic(const std::string& name) {
    const Answer clinic = admin_->Post("/api/v1/clinics", {{"name", name}});
    EXPECT_EQ(clinic.status, 201) << clinic.body;
    return clinic.Json().value("id", std::int64_t{0});
  }

  std::unique_ptr<Browser> MakeClinician(const std::string& username, std::int64_t clinic_id) {
    const Answer user = admin_->Post("/api/v1/users", {{"username", username}, {"role", "clinician"}, {"clinic_id", clinic_id},
                                                       {"password", kClinicianPassword}});
    EXPECT_EQ(user.status, 201) << user.body;
    auto browser = std::make_unique<Browser>(server_->port());
    EXPECT_EQ(browser->Login(username, kClinicianPassword).status, 200);
    return browser;
  }

  std::int64_t AddPatient(Browser& browser, const std::string& example, const std::string& label = "") {
    const Answer created = browser.Post("/api/v1/patients", {{"record", Example(example)}, {"label", label}});
    EXPECT_EQ(created.status, 201) << created.body;
    return created.Json().value("/patient/id"_json_pointer, std::int64_t{0});
  }

  std::unique_ptr<TestServer> server_;
  std::unique_ptr<Browser> admin_;
  std::unique_ptr<Browser> clinician_;
  std::int64_t clinic_id_ = 0;
};

TEST_P(ServerApi, AnswersHealthWithVersions) {
  const Answer health = admin_->Get("/api/v1/health");
  ASSERT_EQ(health.status, 200);
  EXPECT_EQ(health.Json()["status"], "ok");
  EXPECT_EQ(health.Json()["database"], GetParam());
  EXPECT_EQ(health.Json()["setup_required"], true);
  EXPECT_GE(health.Json()["schema_version"].get<int>(), 1);
}

TEST_P(ServerApi, OpenApiDocumentsEveryRouteAndNothingElse) {
  const Answer document = admin_->Get("/api/v1/openapi.json");
  ASSERT_EQ(document.status, 200);
  nlohmann::json openapi = document.Json();
  ASSERT_TRUE(openapi.is_object()) << "openapi.json is not JSON";
  EXPECT_TRUE(openapi["openapi"].get<std::string>().starts_with("3.1"));
  std::set<std::string> documented;
  for (const auto& [path, operations] : openapi["paths"].items()) {
    for (const auto& [method, operation] : operations.items()) {
      if (method == "parameters") continue;
      std::string upper = method;
      for (char& character : upper) character = static_cast<char>(std::toupper(static_cast<unsigned char>(character)));
      documented.insert(upper + " /api/v1" + path);
      EXPECT_TRUE(operation.contains("responses")) << method << " " << path;
    }
  }
  std::set<std::string> served;
  for (const std::string& route : server_->server().Routes()) served.insert(route);
  for (const std::string& route : served) EXPECT_TRUE(documented.contains(route)) << "not documented: " << route;
  for (const std::string& route : documented) EXPECT_TRUE(served.contains(route)) << "documented but not served: " << route;
}

TEST_P(ServerApi, FirstRunSetUpNeedsTheTokenOnce) {
  const std::string token = server_->server().SetupToken();
  ASSERT_EQ(token.size(), 32U);
  const Answer wrong = admin_->Post("/api/v1/setup", {{"token", "nope"}, {"username", "admin"}, {"password", kAdminPassword}});
  EXPECT_EQ(wrong.status, 403);
  EXPECT_EQ(wrong.ErrorCode(), "invalid_token");
  const Answer weak = admin_->Post("/api/v1/setup", {{"token", token}, {"username", "admin"}, {"password", "short"}});
  EXPECT_EQ(weak.status, 422);
  EXPECT_EQ(weak.Json()["error"]["message"], "the password is too short: at least 12 characters");
  ASSERT_EQ(admin_->Post("/api/v1/setup", {{"token", token}, {"username", "admin"}, {"password", kAdminPassword}}).status, 201);
  const Answer again = admin_->Post("/api/v1/setup", {{"token", token}, {"username", "admin2"}, {"password", kAdminPassword}});
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.ErrorCode(), "already_set_up");
  EXPECT_TRUE(server_->server().SetupToken().empty());
  EXPECT_EQ(admin_->Get("/api/v1/setup").Json()["required"], false);
}

TEST_P(ServerApi, SignInSetsAHardenedCookieAndRateLimitsFailures) {
  SetUpClinic();
  Browser browser(server_->port());
  const Answer unknown = browser.Login("nobody", "whatever password");
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(unknown.ErrorCode(), "invalid_credentials");
  const Answer ok = browser.Login("dr.north", kClinicianPassword);
  ASSERT_EQ(ok.status, 200);
  const std::string cookie = ok.Header("Set-Cookie");
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(cookie.find("Path=/"), std::string::npos);
  EXPECT_EQ(ok.Json()["user"]["role"], "clinician");
  EXPECT_FALSE(ok.Json()["user"].contains("password_hash"));
  EXPECT_EQ(browser.Get("/api/v1/session").Json()["user"]["username"], "dr.north");

  Browser attacker(server_->port());
  for (int attempt = 0; attempt < 5; ++attempt) EXPECT_EQ(attacker.Login("dr.north", "wrong password!").status, 401);
  const Answer blocked = attacker.Login("dr.north", kClinicianPassword);
  EXPECT_EQ(blocked.status, 429);
  EXPECT_EQ(blocked.ErrorCode(), "rate_limited");
  EXPECT_FALSE(blocked.Header("Retry-After").empty());

  ASSERT_EQ(browser.Delete("/api/v1/session").status, 204);
  EXPECT_EQ(browser.Get("/api/v1/session").status, 401);
}

TEST_P(ServerApi, WritesNeedTheCsrfTokenAndTheSameOrigin) {
  SetUpClinic();
  clinician_->ForgetCsrf();
  const Answer no_token = clinician_->Post("/api/v1/patients", {{"record", Example("too-short-trial")}});
  EXPECT_EQ(no_token.status, 403);
  EXPECT_EQ(no_token.ErrorCode(), "csrf_failed");
  const Answer foreign = admin_->Post("/api/v1/clinics", {{"name", "Evil"}}, {{"Origin", "https://evil.example"}});
  EXPECT_EQ(foreign.status, 403);
  EXPECT_EQ(foreign.ErrorCode(), "csrf_failed");
  const Answer form = admin_->Send("POST", "/api/v1/clinics", "name=Evil", {}, "application/x-www-form-urlencoded");
  EXPECT_EQ(form.status, 415);
}

TEST_P(ServerApi, RolesSeeOnlyTheirRoutes) {
  SetUpClinic();
  EXPECT_EQ(clinician_->Get("/api/v1/users").status, 403);
  EXPECT_EQ(clinician_->Get("/api/v1/audit").status, 403);
  const Answer admin_patients = admin_->Get("/api/v1/patients");
  EXPECT_EQ(admin_patients.status, 403);
  EXPECT_EQ(admin_patients.Json()["error"]["message"], "this needs the clinician role");
  Browser anonymous(server_->port());
  EXPECT_EQ(anonymous.Get("/api/v1/patients").status, 401);
}

TEST_P(ServerApi, AClinicianSeesOnlyTheirClinicsPatients) {
  SetUpClinic();
  const std::int64_t patient = AddPatient(*clinician_, "escitalopram-faded");
  auto other = MakeClinician("dr.south", MakeClinic("South"));
  const Answer hidden = other->Get(fmt::format("/api/v1/patients/{}", patient));
  EXPECT_EQ(hidden.status, 404);
  EXPECT_EQ(other->Get(fmt::format("/api/v1/patients/{}/assessment", patient)).status, 404);
  EXPECT_EQ(other->Post(fmt::format("/api/v1/patients/{}/labs", patient), {{"name", "tsh"}, {"value", 1}, {"date", "2025-01-01"}}).status, 404);
  EXPECT_TRUE(other->Get("/api/v1/patients").Json()["items"].empty());
  // The refused attempts are in the audit log.
  const Answer audit = admin_->Get(fmt::format("/api/v1/audit?patient_id={}", patient));
  int refused = 0;
  const nlohmann::json events = audit.Json()["items"];
  for (const auto& event : events) {
    if (event["actor"] == "dr.south") {
      EXPECT_EQ(event["outcome"], "not_found");
      ++refused;
    }
  }
  EXPECT_EQ(refused, 3);
}

TEST_P(ServerApi, CreatesAPatientAndAssessesIt) {
  SetUpClinic();
  const std::int64_t patient = AddPatient(*clinician_, "escitalopram-faded", "Ms E");
  const Answer list = clinician_->Get("/api/v1/patients");
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.Json()["items"].size(), 1U);
  EXPECT_EQ(list.Json()["items"][0]["label"], "Ms E");
  EXPECT_EQ(list.Json()["items"][0]["trd_status"], "meets");

  const Answer assessment = clinician_->Get(fmt::format("/api/v1/patients/{}/assessment", patient));
  ASSERT_EQ(assessment.status, 200) << assessment.body;
  EXPECT_EQ(assessment.Json()["assessment"]["schema"], "refract.assessment/v1");
  EXPECT_EQ(assessment.Json()["assessment"]["as_of"], "2026-11-22");
  EXPECT_EQ(assessment.Json()["assessment"]["trd"]["status"], "meets");
  EXPECT_TRUE(assessment.Json()["timeline"].contains("$schema"));

  const Answer record = clinician_->Get(fmt::format("/api/v1/patients/{}", patient));
  ASSERT_EQ(record.status, 200);
  EXPECT_EQ(record.Json()["record"]["id"], "example-escitalopram-faded");
  EXPECT_EQ(record.Json()["entries"]["medications"].size(), 3U);
  EXPECT_EQ(record.Json()["entries"]["scores"].size(), Example("escitalopram-faded")["scales"].size());

  const Answer duplicate = clinician_->Post("/api/v1/patients", {{"record", Example("escitalopram-faded")}});
  EXPECT_EQ(duplicate.status, 422);
  EXPECT_EQ(duplicate.Json()["error"]["message"], "a patient with record id \"example-escitalopram-faded\" exists in this clinic");

  const Answer text = clinician_->Get(fmt::format("/api/v1/patients/{}/report?format=text", patient));
  ASSERT_EQ(text.status, 200);
  EXPECT_TRUE(text.Header("Content-Type").starts_with("text/plain"));
  const Answer html = clinician_->Get(fmt::format("/api/v1/patients/{}/report", patient));
  ASSERT_EQ(html.status, 200);
  EXPECT_EQ(html.body.find("<script"), std::string::npos);
  EXPECT_EQ(html.headers.count("Content-Security-Policy"), 1U);
  EXPECT_EQ(html.Header("Content-Security-Policy"), "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'");
}

TEST_P(ServerApi, EntriesAreValidatedAndChangeTheAssessment) {
  SetUpClinic();
  const std::int64_t patient = AddPatient(*clinician_, "too-short-trial");
  const std::string base = fmt::format("/api/v1/patients/{}", patient);
  const int before = clinician_->Get(base).Json()["patient"]["version"];

  const Answer misspelt = clinician_->Post(base + "/medications", {{"drug", "sertralinx"}, {"start", "2026-01-05"}});
  EXPECT_EQ(misspelt.status, 422);
  EXPECT_EQ(misspelt.Json()["error"]["location"], "body#/drug");
  EXPECT_NE(misspelt.Json()["error"]["message"].get<std::string>().find("did you mean \"sertraline\""), std::string::npos)
      << misspelt.body;

  const Answer bad_item = clinician_->Post(base + "/scores", {{"scale", "phq9"}, {"date", "2026-02-01"}, {"items", {1, 1, 1, 1, 1, 1, 1, 7, 0}}});
  EXPECT_EQ(bad_item.status, 422);
  EXPECT_TRUE(bad_item.Json()["error"]["location"].get<std::string>().starts_with("body#/items")) << bad_item.body;

  const Answer course = clinician_->Post(base + "/medications", {{"drug", "sertraline"}, {"start", "2026-01-05"}, {"ongoing", true},
                                                                 {"doses", {{{"from", "2026-01-05"}, {"mg_per_day", 50}}}}});
  ASSERT_EQ(course.status, 201) << course.body;
  EXPECT_TRUE(course.Json()["body"]["id"].get<std::string>().starts_with("course-"));
  const std::int64_t course_id = course.Json()["id"];
  const Answer dose = clinician_->Post(fmt::format("{}/medications/{}/doses", base, course_id), {{"from", "2026-02-02"}, {"mg_per_day", 100}});
  ASSERT_EQ(dose.status, 201) << dose.body;
  EXPECT_EQ(dose.Json()["body"]["doses"].size(), 2U);
  const Answer early = clinician_->Post(fmt::format("{}/medications/{}/doses", base, course_id), {{"from", "2025-01-01"}, {"mg_per_day", 100}});
  EXPECT_EQ(early.status, 422) << early.body;

  const Answer score = clinician_->Post(base + "/scores", {{"scale", "phq9"}, {"date", "2026-02-01"}, {"items", {2, 2, 1, 2, 1, 1, 1, 0, 0}}});
  ASSERT_EQ(score.status, 201) << score.body;
  const Answer genotype = clinician_->Post(base + "/genotypes", {{"gene", "CYP2C19"}, {"diplotype", "*1/*2"}, {"date", "2026-01-10"}});
  ASSERT_EQ(genotype.status, 201) << genotype.body;
  const Answer lab = clinician_->Post(base + "/labs", {{"name", "tsh"}, {"value", 2.0}, {"unit", "mIU/L"}, {"date", "2026-01-10"}});
  ASSERT_EQ(lab.status, 201) << lab.body;
  const Answer procedure = clinician_->Post(base + "/procedures", {{"kind", "tms"}, {"start", "2026-03-01"}, {"sessions", 30}});
  ASSERT_EQ(procedure.status, 201) << procedure.body;

  const Answer after = clinician_->Get(base);
  EXPECT_EQ(after.Json()["patient"]["version"].get<int>(), before + 6);
  const Answer scores = clinician_->Get(base + "/scores?limit=1");
  ASSERT_EQ(scores.status, 200);
  EXPECT_EQ(scores.Json()["items"].size(), 1U);
  EXPECT_FALSE(scores.Json()["next_after"].is_null());

  nlohmann::json assessment = clinician_->Get(base + "/assessment").Json()["assessment"];
  bool found_course = false;
  for (const auto& trial : assessment["trials"]) found_course = found_course || trial.dump().find("sertraline") != std::string::npos;
  EXPECT_TRUE(found_course);

  ASSERT_EQ(clinician_->Delete(fmt::format("{}/labs/{}", base, lab.Json()["id"].get<std::int64_t>())).status, 204);
  EXPECT_EQ(clinician_->Get(fmt::format("{}/labs/{}", base, lab.Json()["id"].get<std::int64_t>())).status, 404);
  EXPECT_EQ(clinician_->Get(base + "/nonsense").status, 404);
}

TEST_P(ServerApi, WhatIfShowsTheInteractionsOfAnAddition) {
  SetUpClinic();
  const std::int64_t patient = AddPatient(*clinician_, "escitalopram-faded");
  const Answer what_if = clinician_->Post(fmt::format("/api/v1/patients/{}/interactions/what-if", patient), {{"add", {{{"drug", "lithium"}}}}});
  ASSERT_EQ(what_if.status, 200) << what_if.body;
  EXPECT_EQ(what_if.Json()["proposed"][0]["drug"], "drug.lithium");
  EXPECT_TRUE(what_if.Json()["what_if"].contains("interactions"));
  const Answer unknown = clinician_->Post(fmt::format("/api/v1/patients/{}/interactions/what-if", patient), {{"add", {{{"drug", "lithiumx"}}}}});
  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(unknown.Json()["error"]["location"], "body.add[0].drug");
}

TEST_P(ServerApi, ErrorsAreJsonWithStableCodes) {
  SetUpClinic();
  const Answer syntax = clinician_->Send("POST", "/api/v1/patients", "{\"record\": ");
  EXPECT_EQ(syntax.status, 400);
  EXPECT_EQ(syntax.ErrorCode(), "invalid_json");
  EXPECT_EQ(clinician_->Get("/api/v1/nothing-here").ErrorCode(), "not_found");
  const Answer method = clinician_->Send("PUT", "/api/v1/patients", "{}");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.ErrorCode(), "method_not_allowed");
  const Answer huge = clinician_->Send("POST", "/api/v1/patients", std::string(2 * 1024 * 1024, ' '));
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(huge.ErrorCode(), "payload_too_large");
  EXPECT_EQ(clinician_->Get("/api/v1/patients?limit=0").ErrorCode(), "invalid_parameter");
  EXPECT_EQ(clinician_->Get("/api/v1/patients/abc").status, 404);
}

TEST_P(ServerApi, EveryAnswerCarriesSecurityHeaders) {
  for (const char* path : {"/api/v1/health", "/", "/r", "/nothing"}) {
    const Answer answer = admin_->Get(path);
    const std::string policy = answer.Header("Content-Security-Policy");
    EXPECT_NE(policy.find("script-src 'self'"), std::string::npos) << path;
    EXPECT_EQ(policy.find("unsafe-inline"), std::string::npos) << path;
    EXPECT_EQ(answer.Header("X-Content-Type-Options"), "nosniff") << path;
    EXPECT_EQ(answer.Header("X-Frame-Options"), "DENY") << path;
    EXPECT_EQ(answer.Header("Referrer-Policy"), "no-referrer") << path;
  }
  EXPECT_EQ(admin_->Get("/api/v1/health").Header("Cache-Control"), "no-store");
  const Answer page = admin_->Get("/");
  EXPECT_EQ(page.status, 200);
  EXPECT_NE(page.body.find("<div id=\"app\""), std::string::npos);
}

TEST_P(ServerApi, ASelfReportLinkWorksOnceWithoutAnAccount) {
  SetUpClinic();
  const std::int64_t patient = AddPatient(*clinician_, "escitalopram-faded");
  const Answer invitation = clinician_->Post(fmt::format("/api/v1/patients/{}/invitations", patient),
                                             {{"instruments", {"phq9", "daily_log"}}, {"expires_in_hours", 24}});
  ASSERT_EQ(invitation.status, 201) << invitation.body;
  const std::string token = invitation.Json()["token"];
  EXPECT_NE(invitation.Json()["url"].get<std::string>().find("/r#" + token), std::string::npos);

  Browser phone(server_->port());
  const httplib::Headers authorization{{"Authorization", "Invitation " + token}};
  EXPECT_EQ(phone.Get("/api/v1/self-report").status, 401);
  EXPECT_EQ(phone.Get("/api/v1/self-report", {{"Authorization", "Invitation wrong"}}).ErrorCode(), "invalid_link");
  const Answer form = phone.Get("/api/v1/self-report", authorization);
  ASSERT_EQ(form.status, 200) << form.body;
  EXPECT_EQ(form.Json()["instruments"][0]["id"], "phq9");
  EXPECT_GE(form.Json()["instruments"][0]["items"].size(), 9U);
  EXPECT_FALSE(form.Json()["instruments"][0]["items"][0]["text"].get<std::string>().empty());
  EXPECT_EQ(form.Json()["instruments"][1]["id"], "daily_log");
  EXPECT_FALSE(form.Json()["crisis"].is_null());
  EXPECT_FALSE(form.body.find("escitalopram") != std::string::npos) << "the form shows no record content";

  const Answer not_allowed = phone.Post("/api/v1/self-report", {{"scales", {{{"scale", "gad7"}, {"items", {0, 0, 0, 0, 0, 0, 0}}}}}}, authorization);
  EXPECT_EQ(not_allowed.status, 422);
  const nlohmann::json answers{{"scales", {{{"scale", "phq9"}, {"items", {2, 2, 2, 2, 1, 1, 1, 1, 1}}}}}, {"daily_log", {{"mood", 3}, {"sleep_hours", 5.5}}}};
  const Answer saved = phone.Post("/api/v1/self-report", answers, authorization);
  ASSERT_EQ(saved.status, 201) << saved.body;
  EXPECT_EQ(saved.Json()["saved"], 2);
  EXPECT_FALSE(saved.Json()["crisis"].is_null()) << "item 9 above 0 shows the crisis line";
  const Answer twice = phone.Post("/api/v1/self-report", answers, authorization);
  EXPECT_EQ(twice.status, 410);
  EXPECT_EQ(twice.ErrorCode(), "link_used");

  nlohmann::json record = clinician_->Get(fmt::format("/api/v1/patients/{}", patient)).Json();
  int self_reports = 0;
  for (const auto& entry : record["entries"]["scores"]) self_reports += entry["source"] == "self_report" ? 1 : 0;
  EXPECT_EQ(self_reports, 1);
  const auto invitations = clinician_->Get(fmt::format("/api/v1/patients/{}/invitations", patient)).Json()["items"];
  EXPECT_EQ(invitations[0]["status"], "used");
  EXPECT_FALSE(invitations[0].contains("token"));
}

TEST_P(ServerApi, APatientWritesOnlyTheirOwnSelfReports) {
  SetUpClinic();
  const std::int64_t own = AddPatient(*clinician_, "escitalopram-faded");
  const std::int64_t other = AddPatient(*clinician_, "too-short-trial");
  const Answer account = admin_->Post("/api/v1/users", {{"username", "pat"}, {"role", "patient"}, {"patient_id", own}});
  ASSERT_EQ(account.status, 201) << account.body;
  const std::string password = account.Json()["password"];
  EXPECT_GE(password.size(), 12U);
  Browser patient(server_->port());
  ASSERT_EQ(patient.Login("pat", password).status, 200);
  EXPECT_EQ(patient.Get(fmt::format("/api/v1/patients/{}", other)).status, 403);
  EXPECT_EQ(patient.Get(fmt::format("/api/v1/patients/{}", own)).status, 403);
  EXPECT_EQ(patient.Get("/api/v1/patients").status, 403);
  ASSERT_EQ(patient.Get("/api/v1/me/self-report-form").status, 200);
  const Answer saved = patient.Post("/api/v1/me/self-reports", {{"scales", {{{"scale", "gad7"}, {"items", {1, 1, 1, 1, 0, 0, 0}}}}}});
  ASSERT_EQ(saved.status, 201) << saved.body;
  EXPECT_FALSE(saved.Json().contains("crisis"));
  const Answer mine = patient.Get("/api/v1/me/self-reports");
  ASSERT_EQ(mine.status, 200);
  ASSERT_EQ(mine.Json()["items"].size(), 1U);
  EXPECT_EQ(mine.Json()["items"][0]["body"]["scale"], "gad7");
}

TEST_P(ServerApi, TheAuditLogRecordsReadsAndWritesWithoutClinicalContent) {
  SetUpClinic();
  const std::int64_t patient = AddPatient(*clinician_, "escitalopram-faded");
  ASSERT_EQ(clinician_->Get(fmt::format("/api/v1/patients/{}/assessment", patient)).status, 200);
  ASSERT_EQ(clinician_->Post(fmt::format("/api/v1/patients/{}/labs", patient), {{"name", "tsh"}, {"value", 3.0}, {"date", "2025-11-01"}}).status, 201);
  const Answer audit = admin_->Get(fmt::format("/api/v1/audit?patient_id={}", patient));
  ASSERT_EQ(audit.status, 200);
  std::set<std::string> actions;
  const nlohmann::json events = audit.Json()["items"];
  for (const auto& event : events) {
    actions.insert(event["action"].get<std::string>() + " " + event["resource"].get<std::string>());
    EXPECT_EQ(event["remote_addr"], "127.0.0.1");
    EXPECT_EQ(event["actor"], "dr.north");
  }
  EXPECT_TRUE(actions.contains(fmt::format("create patients/{}", patient)));
  EXPECT_TRUE(actions.contains(fmt::format("read patients/{}/assessment", patient)));
  bool lab_write = false;
  for (const std::string& action : actions) lab_write = lab_write || action.starts_with(fmt::format("create patients/{}/labs/", patient));
  EXPECT_TRUE(lab_write);
  EXPECT_EQ(audit.body.find("escitalopram"), std::string::npos);
  EXPECT_EQ(audit.body.find("tsh"), std::string::npos);
}

TEST_P(ServerApi, TheLogHoldsNoPatientData) {
  SetUpClinic();
  const std::int64_t patient = AddPatient(*clinician_, "escitalopram-faded");
  (void)clinician_->Get(fmt::format("/api/v1/patients/{}/assessment", patient));
  (void)clinician_->Post(fmt::format("/api/v1/patients/{}/medications", patient), {{"drug", "sertralinx"}, {"start", "2026-01-05"}});
  (void)clinician_->Send("POST", "/api/v1/patients", "{\"record\": {\"id\": \"MRN-SECRET-42\"");
  const std::string log = server_->Log();
  EXPECT_NE(log.find("GET /api/v1/patients/{patient_id}/assessment 200"), std::string::npos) << log;
  for (const char* secret : {"escitalopram", "sertralinx", "MRN-SECRET-42", "example-escitalopram-faded", "1982-04-17"}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in the log:\n" << log;
  }
}

TEST_P(ServerApi, AFhirBundleBecomesAPatientAndExportsBackAsABundle) {
  SetUpClinic();
  const Answer imported = clinician_->Send("POST", "/api/v1/fhir/import?label=Ms%20F", FhirBundle("uscore-trd").dump(), {}, "application/fhir+json");
  ASSERT_EQ(imported.status, 201) << imported.body;
  const nlohmann::json answer = imported.Json();
  EXPECT_EQ(answer["report"]["schema"], "refract.fhir-import-report/v1");
  EXPECT_GT(answer["report"]["summary"]["imported"].get<int>(), 0);
  EXPECT_EQ(answer["patient"]["label"], "Ms F");
  const std::int64_t patient = answer["patient"]["id"];
  EXPECT_EQ(imported.Header("Location"), fmt::format("/api/v1/patients/{}", patient));

  const nlohmann::json record = clinician_->Get(fmt::format("/api/v1/patients/{}", patient)).Json();
  ASSERT_FALSE(record["entries"]["medications"].empty()) << record.dump();
  for (const auto& entry : record["entries"]["medications"]) EXPECT_EQ(entry["source"], "import");
  const Answer assessment = clinician_->Get(fmt::format("/api/v1/patients/{}/assessment", patient));
  ASSERT_EQ(assessment.status, 200) << assessment.body;
  EXPECT_FALSE(assessment.Json()["assessment"]["trd"]["status"].get<std::string>().empty());

  // The same bundle again names the record id the clinic already has.
  const Answer again = clinician_->Send("POST", "/api/v1/fhir/import", FhirBundle("uscore-trd").dump(), {}, "application/fhir+json");
  EXPECT_EQ(again.status, 422);
  EXPECT_EQ(again.ErrorCode(), "invalid_input");

  const Answer exported = clinician_->Get(fmt::format("/api/v1/patients/{}/fhir", patient));
  ASSERT_EQ(exported.status, 200) << exported.body;
  EXPECT_TRUE(exported.Header("Content-Type").starts_with("application/fhir+json"));
  const nlohmann::json bundle = exported.Json();
  EXPECT_EQ(bundle["resourceType"], "Bundle");
  EXPECT_EQ(bundle["type"], "collection");
  const auto types = ResourceTypes(bundle);
  EXPECT_EQ(types.count("Patient"), 1U);
  EXPECT_GE(types.count("MedicationStatement"), 1U);
  EXPECT_EQ(types.count("Provenance"), 1U);
  EXPECT_GE(types.count("Observation"), 1U);

  const nlohmann::json record_only = clinician_->Get(fmt::format("/api/v1/patients/{}/fhir?content=record&bundle_type=transaction", patient)).Json();
  EXPECT_EQ(record_only["type"], "transaction");
  EXPECT_EQ(ResourceTypes(record_only).count("Provenance"), 0U);
  EXPECT_EQ(clinician_->Get(fmt::format("/api/v1/patients/{}/fhir?content=everything", patient)).ErrorCode(), "invalid_parameter");

  const Answer audit = admin_->Get(fmt::format("/api/v1/audit?patient_id={}", patient));
  std::set<std::string> actions;
  const nlohmann::json events = audit.Json()["items"];
  for (const auto& event : events) actions.insert(event["action"].get<std::string>() + " " + event["resource"].get<std::string>());
  EXPECT_TRUE(actions.contains(fmt::format("import patients/{}", patient))) << audit.body;
  EXPECT_TRUE(actions.contains(fmt::format("read patients/{}/fhir", patient))) << audit.body;
}

TEST_P(ServerApi, ImportingABundleIntoAPatientAddsOnlyWhatIsNew) {
  SetUpClinic();
  const std::int64_t patient = AddPatient(*clinician_, "escitalopram-faded");
  const std::string base = fmt::format("/api/v1/patients/{}", patient);
  const nlohmann::json before = clinician_->Get(base).Json();

  // The patient's own export read back adds nothing: every entry is already there.
  const nlohmann::json own = clinician_->Get(base + "/fhir?content=record").Json();
  const Answer same = clinician_->Send("POST", base + "/fhir/import", own.dump(), {}, "application/fhir+json");
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_TRUE(same.Json()["added"].empty()) << same.body;
  EXPECT_GT(same.Json()["duplicates"].get<int>(), 0);
  EXPECT_EQ(same.Json()["patient"]["version"], before["patient"]["version"]);

  // Another system's bundle adds its courses and scores to the record, as imported entries.
  const Answer merged = clinician_->Post(base + "/fhir/import", FhirBundle("uscore-trd"));
  ASSERT_EQ(merged.status, 200) << merged.body;
  const nlohmann::json added = merged.Json()["added"];
  EXPECT_GT(added.value("medications", 0), 0) << merged.body;
  EXPECT_GT(merged.Json()["patient"]["version"].get<int>(), before["patient"]["version"].get<int>());
  const nlohmann::json after = clinician_->Get(base).Json();
  EXPECT_EQ(after["record"]["id"], "example-escitalopram-faded") << "the stored record keeps its id";
  EXPECT_EQ(after["entries"]["medications"].size(), before["entries"]["medications"].size() + added.value("medications", 0));
  std::set<std::string> course_ids;
  for (const auto& entry : after["entries"]["medications"]) {
    if (!entry["body"].contains("id")) continue;
    EXPECT_TRUE(course_ids.insert(entry["body"]["id"].get<std::string>()).second) << "course ids stay unique";
  }
  ASSERT_EQ(clinician_->Get(base + "/assessment").status, 200);

  // Imported twice, the second time adds nothing.
  const Answer twice = clinician_->Post(base + "/fhir/import", FhirBundle("uscore-trd"));
  ASSERT_EQ(twice.status, 200) << twice.body;
  EXPECT_TRUE(twice.Json()["added"].empty()) << twice.body;
  EXPECT_EQ(twice.Json()["patient"]["version"], merged.Json()["patient"]["version"]);

  // The merge is one write with one audit record; the imports that added nothing are audited as reads.
  const Answer audit = admin_->Get(fmt::format("/api/v1/audit?patient_id={}", patient));
  const nlohmann::json events = audit.Json()["items"];
  int imports = 0;
  int reads = 0;
  for (const auto& event : events) {
    if (event["resource"] != fmt::format("patients/{}/fhir/import", patient)) continue;
    imports += event["action"] == "import" ? 1 : 0;
    reads += event["action"] == "read" ? 1 : 0;
  }
  EXPECT_EQ(imports, 1) << audit.body;
  EXPECT_EQ(reads, 2) << audit.body;
}

TEST_P(ServerApi, AFhirBundleIsAssessedWithoutBeingStored) {
  SetUpClinic();
  const Answer assessed = clinician_->Post("/api/v1/fhir/assess?as_of=2026-06-01", FhirBundle("uscore-trd"));
  ASSERT_EQ(assessed.status, 200) << assessed.body;
  const nlohmann::json answer = assessed.Json();
  EXPECT_EQ(answer["assessment"]["schema"], "refract.assessment/v1");
  EXPECT_EQ(answer["assessment"]["as_of"], "2026-06-01");
  EXPECT_EQ(answer["record"]["schema"], "refract.patient/v1");
  EXPECT_EQ(answer["report"]["schema"], "refract.fhir-import-report/v1");
  EXPECT_TRUE(answer["timeline"].contains("$schema"));
  EXPECT_TRUE(clinician_->Get("/api/v1/patients").Json()["items"].empty()) << "nothing is stored";

  const Answer not_json = clinician_->Send("POST", "/api/v1/fhir/assess", "{\"resourceType\": ", {}, "application/fhir+json");
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(not_json.ErrorCode(), "invalid_json");
  const Answer not_bundle = clinician_->Post("/api/v1/fhir/assess", {{"resourceType", "Patient"}});
  EXPECT_EQ(not_bundle.status, 422) << not_bundle.body;
  EXPECT_EQ(not_bundle.ErrorCode(), "invalid_input");
  EXPECT_EQ(clinician_->Post("/api/v1/fhir/assess?as_of=June", FhirBundle("uscore-trd")).ErrorCode(), "invalid_parameter");
  const Answer form = clinician_->Send("POST", "/api/v1/fhir/assess", "resourceType=Bundle", {}, "application/x-www-form-urlencoded");
  EXPECT_EQ(form.status, 415);
}

TEST_P(ServerApi, FhirRoutesFollowRolesClinicsAndCsrf) {
  SetUpClinic();
  const std::int64_t patient = AddPatient(*clinician_, "escitalopram-faded");
  const std::string base = fmt::format("/api/v1/patients/{}", patient);
  const nlohmann::json bundle = FhirBundle("uscore-trd");

  const Answer account = admin_->Post("/api/v1/users", {{"username", "pat"}, {"role", "patient"}, {"patient_id", patient}});
  ASSERT_EQ(account.status, 201) << account.body;
  Browser patient_user(server_->port());
  ASSERT_EQ(patient_user.Login("pat", account.Json()["password"].get<std::string>()).status, 200);
  EXPECT_EQ(patient_user.Post("/api/v1/fhir/import", bundle).status, 403);
  EXPECT_EQ(patient_user.Post("/api/v1/fhir/assess", bundle).status, 403);
  EXPECT_EQ(patient_user.Post(base + "/fhir/import", bundle).status, 403);
  const Answer own_export = patient_user.Get(base + "/fhir");
  EXPECT_EQ(own_export.status, 403);
  EXPECT_EQ(own_export.Json()["error"]["message"], "this needs the clinician role");
  EXPECT_EQ(admin_->Get(base + "/fhir").status, 403);
  Browser anonymous(server_->port());
  EXPECT_EQ(anonymous.Get(base + "/fhir").status, 401);
  EXPECT_EQ(anonymous.Post("/api/v1/fhir/assess", bundle).status, 401);

  auto other = MakeClinician("dr.south", MakeClinic("South"));
  EXPECT_EQ(other->Get(base + "/fhir").status, 404);
  EXPECT_EQ(other->Post(base + "/fhir/import", bundle).status, 404);

  clinician_->ForgetCsrf();
  const Answer no_token = clinician_->Post("/api/v1/fhir/import", bundle);
  EXPECT_EQ(no_token.status, 403);
  EXPECT_EQ(no_token.ErrorCode(), "csrf_failed");
  EXPECT_EQ(clinician_->Post(base + "/fhir/import", bundle).ErrorCode(), "csrf_failed");

  const Answer audit = admin_->Get(fmt::format("/api/v1/audit?patient_id={}", patient));
  int denied = 0;
  int not_found = 0;
  const nlohmann::json events = audit.Json()["items"];
  for (const auto& event : events) {
    denied += event["outcome"] == "denied" ? 1 : 0;
    not_found += event["actor"] == "dr.south" && event["outcome"] == "not_found" ? 1 : 0;
  }
  EXPECT_EQ(denied, 3) << "the patient's two attempts and the admin's";
  EXPECT_EQ(not_found, 2);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, ServerApi, ::testing::Values("sqlite"));
INSTANTIATE_TEST_SUITE_P(Postgres, ServerApi, ::testing::Values("postgresql"));

TEST(Security, HashesVerifyAndTokensDiffer) {
  auto hash = HashPassword("a long enough password", PasswordCost{1024, 1, 1});
  ASSERT_TRUE(hash);
  EXPECT_TRUE(hash->starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
  EXPECT_TRUE(VerifyPassword("a long enough password", *hash));
  EXPECT_FALSE(VerifyPassword("a long enough passworD", *hash));
  EXPECT_FALSE(VerifyPassword("anything", "not a hash"));
  EXPECT_NE(RandomToken(), RandomToken());
  EXPECT_EQ(RandomToken(32).size(), 43U);
  EXPECT_EQ(RandomPassword(20).size(), 20U);
  EXPECT_EQ(TokenHash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(ConstantTimeEquals("same", "same"));
  EXPECT_FALSE(ConstantTimeEquals("same", "sane"));
}

TEST(Security, RateLimiterBlocksThenForgets) {
  RateLimiter limiter(3, std::chrono::seconds(60));
  for (int attempt = 0; attempt < 3; ++attempt) {
    EXPECT_EQ(limiter.RetryAfterSeconds("k", 1000), 0);
    limiter.RecordFailure("k", 1000);
  }
  EXPECT_EQ(limiter.RetryAfterSeconds("k", 1000), 60);
  EXPECT_EQ(limiter.RetryAfterSeconds("other", 1000), 0);
  EXPECT_EQ(limiter.RetryAfterSeconds("k", 61000), 0);
  limiter.RecordFailure("j", 0);
  limiter.Reset("j");
  EXPECT_EQ(limiter.RetryAfterSeconds("j", 0), 0);
}

}  // namespace
}  // namespace refract::server
