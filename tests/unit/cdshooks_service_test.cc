// SPDX-License-Identifier: Apache-2.0
// CDS Hooks 2.0: discovery and hook responses checked against the spec's JSON shapes, the cards refract
// gives for the usual clinical situations, request errors, prefetch fallback, JWT, feedback, CORS and the
// HTTP adapter on 127.0.0.1.
#include <thread>

#include <gtest/gtest.h>
#include <httplib.h>

#include "../cdshooks/cdshooks_test_support.h"
#include "refract/cdshooks/fhir_api.h"
#include "refract/cdshooks/http.h"

namespace refract {
namespace {

using cdshooks_testing::Context;
using cdshooks_testing::ContractProblems;
using cdshooks_testing::DraftOrder;
using cdshooks_testing::PrefetchOf;
using cdshooks_testing::Record;
using cdshooks_testing::Request;

cdshooks::Response Call(const cdshooks::CdsHooksContext& context, std::string_view service, const nlohmann::json& request,
                        std::string_view authorization = {}) {
  return cdshooks::CallService(context, service, request.dump(), authorization);
}

std::vector<nlohmann::json> CardsWith(const cdshooks::Response& response, const std::string& topic) {
  std::vector<nlohmann::json> out;
  for (const auto& card : response.body.value("cards", nlohmann::json::array())) {
    if (card["source"]["topic"]["code"] == topic) out.push_back(card);
  }
  return out;
}

TEST(CdsHooksDiscovery, ListsThreeServicesWithPrefetchTemplates) {
  const auto context = Context();
  const auto response = cdshooks::Discovery(context, "");
  ASSERT_EQ(response.status, 200);
  const auto& services = response.body["services"];
  ASSERT_EQ(services.size(), 3U);
  std::set<std::string> hooks;
  for (const auto& service : services) {
    for (const char* key : {"hook", "id", "description", "title"}) EXPECT_TRUE(service[key].is_string()) << key;
    hooks.insert(service["hook"].get<std::string>());
    for (const auto& [key, query] : service["prefetch"].items()) {
      EXPECT_NE(query.get<std::string>().find("{{context.patientId}}"), std::string::npos) << key;
    }
  }
  EXPECT_EQ(hooks, (std::set<std::string>{"patient-view", "order-select", "order-sign"}));
}

TEST(CdsHooksPatientView, UsCorePrefetchGivesTrdCardSuicideAlertAndUnreadData) {
  const auto context = Context("2025-10-15");
  // The US Core bundle split as an EHR would answer the prefetch queries.
  const nlohmann::json bundle = fhir_testing::ReadJson(fhir_testing::SourceDir() / "tests" / "fhir" / "uscore-trd.bundle.json");
  nlohmann::json prefetch = nlohmann::json::object();
  for (const auto& entry : bundle["entry"]) {
    const std::string type = entry["resource"]["resourceType"];
    const std::string key = type == "Patient" ? "patient" : type == "Condition" ? "conditions" : type == "MedicationRequest" ? "medicationRequests"
                            : type.rfind("Medication", 0) == 0 ? "medicationStatements" : type == "QuestionnaireResponse" ? "questionnaireResponses"
                            : type == "Observation" ? "labs" : "";
    if (key.empty()) continue;
    if (key == "patient") {
      prefetch[key] = entry["resource"];
      continue;
    }
    if (!prefetch.contains(key)) prefetch[key] = {{"resourceType", "Bundle"}, {"type", "searchset"}, {"entry", nlohmann::json::array()}};
    prefetch[key]["entry"].push_back({{"fullUrl", entry["fullUrl"]}, {"resource", entry["resource"]}, {"search", {{"mode", "match"}}}});
  }
  prefetch["procedures"] = nullptr;  // Searched, nothing found.
  const auto response = Call(context, cdshooks::kPatientViewService, Request("patient-view", "p-1001", prefetch));
  ASSERT_EQ(response.status, 200) << response.body.dump();
  EXPECT_EQ(ContractProblems(response.body), std::vector<std::string>{});
  const auto& cards = response.body["cards"];
  EXPECT_EQ(cards[0]["indicator"], "critical");  // Most urgent first: the PHQ-9 item 9 answer.
  EXPECT_EQ(cards[0]["source"]["topic"]["display"], "suicide_risk");
  const auto trd = CardsWith(response, "trd-status");
  ASSERT_EQ(trd.size(), 1U);
  EXPECT_EQ(trd[0]["summary"], "TRD status indeterminate: 0 of 2 failed adequate trials; 4 more could count once data are recorded");
  const auto unread = CardsWith(response, "data-quality");
  ASSERT_EQ(unread.size(), 1U);
  EXPECT_EQ(unread[0]["summary"], "2 medication(s) not recognised: not assessed and not checked for interactions");
}

TEST(CdsHooksOrderSelect, CitalopramAboveTheCapSuggestsTheLowerDose) {
  const auto context = Context();
  const nlohmann::json record = Record({{"person", {{"age_years", 72}}}});
  const auto response = Call(context, cdshooks::kOrderSelectService,
                             Request("order-select", "p1", PrefetchOf(record), {DraftOrder("draft-1", "309314", 1)}, {"MedicationRequest/draft-1"}));
  ASSERT_EQ(response.status, 200) << response.body.dump();
  EXPECT_EQ(ContractProblems(response.body), std::vector<std::string>{});
  const auto caps = CardsWith(response, "dose-cap");
  ASSERT_EQ(caps.size(), 1U);
  EXPECT_EQ(caps[0]["indicator"], "warning");
  const auto& suggestion = caps[0]["suggestions"][0];
  EXPECT_EQ(suggestion["label"], "Change to citalopram 20 mg once daily");
  EXPECT_EQ(suggestion["isRecommended"], true);
  const auto& action = suggestion["actions"][0];
  EXPECT_EQ(action["type"], "update");
  EXPECT_EQ(action["resource"]["id"], "draft-1");
  EXPECT_EQ(action["resource"]["medicationCodeableConcept"]["coding"][0]["code"], "200371");  // citalopram 20 MG Oral Tablet
}

TEST(CdsHooksOrderSelect, MaoiTooSoonAfterFluoxetineIsCriticalWithCancelSuggestion) {
  const auto context = Context();
  const nlohmann::json record = Record({{"medications", nlohmann::json::parse(R"([{"drug":"fluoxetine","start":"2026-01-10","end":"2026-10-29",
                                          "doses":[{"from":"2026-01-10","mg_per_day":40}]}])")}});
  const auto response = Call(context, cdshooks::kOrderSelectService,
                             Request("order-select", "p1", PrefetchOf(record), {DraftOrder("maoi", "313447", 1)}, {"MedicationRequest/maoi"}));
  ASSERT_EQ(response.status, 200) << response.body.dump();
  EXPECT_EQ(ContractProblems(response.body), std::vector<std::string>{});
  const auto washouts = CardsWith(response, "washout");
  ASSERT_FALSE(washouts.empty());
  EXPECT_EQ(washouts[0]["indicator"], "critical");
  EXPECT_NE(washouts[0]["detail"].get<std::string>().find("**Earliest safe start:** 2026-12-03"), std::string::npos);
  const auto& cancel = washouts[0]["suggestions"].back();
  EXPECT_EQ(cancel["actions"][0]["type"], "delete");
  EXPECT_EQ(cancel["actions"][0]["resourceId"][0], "MedicationRequest/maoi");
}

TEST(CdsHooksOrderSelect, PgxGuidanceForTheSelectedDrug) {
  const auto context = Context();
  const nlohmann::json record = Record({{"genotypes", nlohmann::json::parse(R"([{"gene":"CYP2C19","diplotype":"*2/*2"}])")}});
  const auto response = Call(context, cdshooks::kOrderSelectService,
                             Request("order-select", "p1", PrefetchOf(record), {DraftOrder("cit", "200371", 1)}, {"MedicationRequest/cit"}));
  ASSERT_EQ(response.status, 200) << response.body.dump();
  EXPECT_EQ(ContractProblems(response.body), std::vector<std::string>{});
  const auto pgx = CardsWith(response, "pgx");
  ASSERT_FALSE(pgx.empty());
  EXPECT_EQ(pgx[0]["indicator"], "warning");
  EXPECT_TRUE(pgx[0]["summary"].get<std::string>().starts_with("citalopram and CYP2C19 poor"));
}

TEST(CdsHooksOrderSelect, ProposedDrugThatFailedAnAdequateTrialAndEsketamineEligibility) {
  const auto context = Context();
  const nlohmann::json record = Record({{"episode", {{"start", "2025-01-01"}}},
                                        {"medications", nlohmann::json::parse(R"([{"drug":"sertraline","start":"2025-01-10","end":"2025-04-30","adherence":"good",
                                          "doses":[{"from":"2025-01-10","mg_per_day":150}],"improvement":{"percent":10}}])")}});
  nlohmann::json esketamine = DraftOrder("esk", "2201623", 56, "mg");
  const auto response = Call(context, cdshooks::kOrderSelectService,
                             Request("order-select", "p1", PrefetchOf(record), {DraftOrder("ser", "312941", 1), esketamine},
                                     {"MedicationRequest/ser", "MedicationRequest/esk"}));
  ASSERT_EQ(response.status, 200) << response.body.dump();
  EXPECT_EQ(ContractProblems(response.body), std::vector<std::string>{});
  const auto failed = CardsWith(response, "prior-trial");
  ASSERT_EQ(failed.size(), 1U);
  EXPECT_EQ(failed[0]["summary"], "sertraline already failed an adequate trial (2025-01-10 to 2025-04-30, nonresponse)");
  const auto eligibility = CardsWith(response, "eligibility");
  ASSERT_EQ(eligibility.size(), 1U);
  EXPECT_EQ(eligibility[0]["indicator"], "warning");
  EXPECT_EQ(eligibility[0]["summary"], "Esketamine nasal spray: not eligible for this patient; TRD status does_not_meet (1 of 2 failed adequate trials)");
}

// The esketamine card carries the engine's eligibility of the esketamine option: its status, every
// reason with its rule, and the ranking sentence; warning when not eligible or deferred, info otherwise.
TEST(CdsHooksOrderSelect, EsketamineCardStatesTheOptionsEligibilityAndReasons) {
  const auto context = Context();
  const nlohmann::json one_failure = Record({{"person", {{"age_years", 45}}}, {"episode", {{"start", "2025-01-01"}}},
                                             {"medications", nlohmann::json::parse(R"([{"drug":"sertraline","start":"2025-01-10","end":"2025-04-30","adherence":"good",
                                               "doses":[{"from":"2025-01-10","mg_per_day":150}],"improvement":{"percent":10}}])")}});
  const nlohmann::json two_failures = Record({{"person", {{"age_years", 45}}}, {"episode", {{"start", "2025-01-01"}}},
                                              {"medications", nlohmann::json::parse(R"([{"drug":"sertraline","start":"2025-01-10","end":"2025-04-30","adherence":"good",
                                                "doses":[{"from":"2025-01-10","mg_per_day":150}],"improvement":{"percent":10}},
                                               {"drug":"venlafaxine","start":"2025-05-10","ongoing":true,"adherence":"good",
                                                "doses":[{"from":"2025-05-10","mg_per_day":225}],"improvement":{"percent":15}}])")}});
  const auto ask = [&](const nlohmann::json& record, std::string_view service, std::string_view hook) {
    const nlohmann::json request = hook == "order-select" ? Request(std::string(hook), "p1", PrefetchOf(record), {DraftOrder("esk", "2201623", 56, "mg")},
                                                                    {"MedicationRequest/esk"})
                                                          : Request(std::string(hook), "p1", PrefetchOf(record), {DraftOrder("esk", "2201623", 56, "mg")});
    const auto response = Call(context, service, request);
    EXPECT_EQ(response.status, 200) << response.body.dump();
    EXPECT_EQ(ContractProblems(response.body), std::vector<std::string>{});
    return response;
  };

  const auto not_yet = CardsWith(ask(one_failure, cdshooks::kOrderSelectService, "order-select"), "eligibility");
  ASSERT_EQ(not_yet.size(), 1U);
  EXPECT_EQ(not_yet[0]["indicator"], "warning");
  EXPECT_EQ(not_yet[0]["summary"], "Esketamine nasal spray: not eligible for this patient; TRD status does_not_meet (1 of 2 failed adequate trials)");
  const std::string why = not_yet[0]["detail"];
  EXPECT_NE(why.find("**Why**"), std::string::npos) << why;
  EXPECT_NE(why.find("Rule `"), std::string::npos) << why;
  EXPECT_NE(why.find("**Ranking:**"), std::string::npos) << why;
  EXPECT_NE(why.find("TRD status does_not_meet"), std::string::npos) << why;
  // At signature a card that argues against the order is still shown.
  EXPECT_EQ(CardsWith(ask(one_failure, cdshooks::kOrderSignService, "order-sign"), "eligibility").size(), 1U);

  const auto treatment_resistant = CardsWith(ask(two_failures, cdshooks::kOrderSelectService, "order-select"), "eligibility");
  ASSERT_EQ(treatment_resistant.size(), 1U);
  EXPECT_EQ(treatment_resistant[0]["indicator"], "info");
  EXPECT_EQ(treatment_resistant[0]["summary"], "Esketamine nasal spray: conditional for this patient; TRD status meets (2 of 2 failed adequate trials)");
  // Order-sign shows warnings and critical cards only.
  EXPECT_TRUE(CardsWith(ask(two_failures, cdshooks::kOrderSignService, "order-sign"), "eligibility").empty());
}

// Patient view: monitoring the engine planned for a current treatment, past its date with no result.
TEST(CdsHooksPatientView, OverdueMonitoringOfACurrentTreatmentGivesACard) {
  const auto context = Context("2026-11-22");
  const nlohmann::json lithium = nlohmann::json::parse(R"([{"drug":"sertraline","start":"2026-06-01","ongoing":true,"doses":[{"from":"2026-06-01","mg_per_day":150}]},
    {"drug":"lithium","start":"2026-11-01","ongoing":true,"role":"augmentation","doses":[{"from":"2026-11-01","mg_per_day":600}]}])");
  const auto view = [&](const nlohmann::json& record) {
    const auto response = Call(context, cdshooks::kPatientViewService, Request("patient-view", "p1", PrefetchOf(record)));
    EXPECT_EQ(response.status, 200) << response.body.dump();
    EXPECT_EQ(ContractProblems(response.body), std::vector<std::string>{});
    return CardsWith(response, "monitoring");
  };
  const auto overdue = view(Record({{"person", {{"age_years", 50}}}, {"medications", lithium}}));
  ASSERT_EQ(overdue.size(), 1U);
  EXPECT_EQ(overdue[0]["indicator"], "warning");
  EXPECT_EQ(overdue[0]["summary"], "Monitoring overdue: 2 check(s) past their date with no result recorded (lithium level)");
  const std::string detail = overdue[0]["detail"];
  EXPECT_NE(detail.find("2026-11-08 (day 7 of lithium from 2026-11-01)"), std::string::npos) << detail;
  EXPECT_NE(detail.find("monitoring.lithium"), std::string::npos) << detail;

  // With the levels recorded, nothing the record could show is overdue.
  const nlohmann::json levels = nlohmann::json::parse(R"([{"name":"lithium_level","value":0.6,"unit":"mmol/L","date":"2026-11-08"},
    {"name":"lithium_level","value":0.7,"unit":"mmol/L","date":"2026-11-15"}])");
  const auto recorded = view(Record({{"person", {{"age_years", 50}}}, {"medications", lithium}, {"labs", levels}}));
  for (const auto& card : recorded) EXPECT_EQ(card["indicator"], "info") << card.dump();
  // Without a current treatment that has a plan, no monitoring card.
  EXPECT_TRUE(view(Record({{"person", {{"age_years", 50}}}})).empty());
}

TEST(CdsHooksOrderSign, OnlyWarningsAndCriticalForEveryDraft) {
  const auto context = Context();
  const nlohmann::json record = Record({{"person", {{"age_years", 72}}}});
  const auto response = Call(context, cdshooks::kOrderSignService, Request("order-sign", "p1", PrefetchOf(record), {DraftOrder("d1", "309314", 1), DraftOrder("d2", "123", 1)}));
  ASSERT_EQ(response.status, 200) << response.body.dump();
  EXPECT_EQ(ContractProblems(response.body), std::vector<std::string>{});
  ASSERT_FALSE(response.body["cards"].empty());
  for (const auto& card : response.body["cards"]) EXPECT_NE(card["indicator"], "info") << card["summary"];
}

TEST(CdsHooksOrderSelect, UnknownDrugSaysItWasNotChecked) {
  const auto context = Context();
  const auto response = Call(context, cdshooks::kOrderSelectService,
                             Request("order-select", "p1", PrefetchOf(Record({})), {DraftOrder("x", "9999999", 1)}, {"MedicationRequest/x"}));
  ASSERT_EQ(response.status, 200);
  const auto unknown = CardsWith(response, "unknown-drug");
  ASSERT_EQ(unknown.size(), 1U);
  EXPECT_EQ(unknown[0]["summary"], "refract does not know RxNorm 9999999: no interaction, dose or PGx check");
}

TEST(CdsHooksRequests, SpecViolationsAreAnswered400WithTheReason) {
  const auto context = Context();
  const nlohmann::json good = Request("order-select", "p1", PrefetchOf(Record({})), {}, {});
  const auto expect = [&](nlohmann::json request, const std::string& message, std::string_view service = cdshooks::kOrderSelectService) {
    const auto response = Call(context, service, request);
    EXPECT_EQ(response.status, 400);
    EXPECT_EQ(response.body["error"], message);
  };
  expect(good, "service refract-trd-patient-view answers hook \"patient-view\", not \"order-select\"", cdshooks::kPatientViewService);
  auto request = good;
  request.erase("hookInstance");
  expect(request, "hookInstance is required (a UUID string)");
  request = good;
  request["context"].erase("patientId");
  expect(request, "context.patientId is required (a string)");
  request = good;
  request["context"].erase("draftOrders");
  expect(request, "context.draftOrders is required (a FHIR Bundle)");
  request = good;
  request["fhirAuthorization"] = {{"access_token", "t"}, {"token_type", "Bearer"}, {"scope", "patient/*.read"}, {"subject", "refract"}};
  expect(request, "fhirServer is required when fhirAuthorization is given");
  EXPECT_EQ(cdshooks::CallService(context, cdshooks::kOrderSelectService, "{not json", "").status, 400);
  EXPECT_EQ(Call(context, "no-such-service", good).status, 404);
}

class FakeFetcher : public cdshooks::FhirFetcher {
 public:
  explicit FakeFetcher(nlohmann::json data) : data_(std::move(data)) {}
  Result<nlohmann::json> Get(std::string_view server, std::string_view query, std::string_view token) override {
    queries.push_back(std::string(server) + " " + std::string(query) + " " + std::string(token));
    if (query.rfind("MedicationRequest", 0) == 0) return data_;
    return nlohmann::json(nullptr);
  }
  std::vector<std::string> queries;

 private:
  nlohmann::json data_;
};

TEST(CdsHooksPrefetch, MissingPrefetchIsReadFromTheFhirServerOrAnswered412) {
  auto context = Context();
  nlohmann::json request = Request("patient-view", "p1", nlohmann::json::object());
  request.erase("prefetch");
  const auto refused = Call(context, cdshooks::kPatientViewService, request);
  EXPECT_EQ(refused.status, 412);
  EXPECT_EQ(refused.body["error"], "prefetch \"medicationRequests\" is missing and the request names no fhirServer to read it from");
  nlohmann::json bundle = nlohmann::json::parse(R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"MedicationRequest","id":"m1",
    "status":"active","intent":"order","subject":{"reference":"Patient/p1"},"authoredOn":"2026-10-01",
    "medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"312941"}]},
    "dosageInstruction":[{"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}},"doseAndRate":[{"doseQuantity":{"value":1,"code":"{tbl}"}}]}]}}]})");
  FakeFetcher fetcher(bundle);
  context.fetcher = &fetcher;
  request["fhirServer"] = "https://ehr.example.org/fhir";
  request["fhirAuthorization"] = {{"access_token", "secret-token"}, {"token_type", "Bearer"}, {"expires_in", 300}, {"scope", "patient/*.read"}, {"subject", "refract"}};
  const auto response = Call(context, cdshooks::kPatientViewService, request);
  ASSERT_EQ(response.status, 200) << response.body.dump();
  EXPECT_EQ(fetcher.queries.size(), 10U);
  EXPECT_EQ(fetcher.queries[2], "https://ehr.example.org/fhir MedicationRequest?patient=p1 secret-token");
  EXPECT_NE(CardsWith(response, "trd-status")[0]["detail"].get<std::string>().find("sertraline"), std::string::npos);
}

TEST(CdsHooksSummary, ShortensToTheSpecLimitAtACharacterBoundary) {
  const std::string long_text(200, 'a');
  EXPECT_EQ(cdshooks::ShortenSummary(long_text).size(), 138U + 3U);  // 138 letters and "…" (3 bytes, 1 code unit)
  EXPECT_EQ(cdshooks::ShortenSummary("short"), "short");
  const std::string accented = std::string(138, 'a') + "\u00e9\u00e9";
  EXPECT_EQ(cdshooks_testing::Utf16Length(cdshooks::ShortenSummary(accented)), 139U);
}

// ---- JWT ----

struct Jwt {
  cdshooks_testing::KeyPair key;
  cdshooks::CdsHooksContext context;
};

Jwt JwtContext(const std::string& alg, bool jwk) {
  Jwt out{cdshooks_testing::MakeKey(alg), Context()};
  cdshooks::JwtConfig config;
  config.enabled = true;
  cdshooks::TrustedIssuer issuer;
  issuer.iss = "https://ehr.example.org";
  if (jwk) {
    issuer.jwks = {{"keys", nlohmann::json::array({cdshooks_testing::PublicJwk(out.key, "k1")})}};
  } else {
    issuer.public_keys_pem = {cdshooks_testing::PublicPem(out.key)};
  }
  config.issuers = {issuer};
  auto verifier = cdshooks::JwtVerifier::Create(config);
  EXPECT_TRUE(verifier) << (verifier ? "" : verifier.error().message);
  out.context.jwt = *verifier;
  return out;
}

std::string Bearer(const Jwt& jwt, nlohmann::json overrides = {}) {
  nlohmann::json payload{{"iss", "https://ehr.example.org"}, {"aud", "https://cds.example.org/cds-services"}, {"exp", 1795000000 + 300}, {"iat", 1795000000}, {"jti", "j-1"}};
  for (const auto& [key, value] : overrides.items()) payload[key] = value;
  return "Bearer " + cdshooks_testing::SignToken(jwt.key, {{"alg", jwt.key.alg}, {"typ", "JWT"}, {"kid", "k1"}}, payload);
}

TEST(CdsHooksJwt, Es384AndRs384TokensFromJwksAndPem) {
  for (const auto& [alg, jwk] : std::vector<std::pair<std::string, bool>>{{"ES384", true}, {"RS384", true}, {"ES256", false}, {"RS256", false}}) {
    SCOPED_TRACE(alg);
    const auto jwt = JwtContext(alg, jwk);
    EXPECT_EQ(cdshooks::Discovery(jwt.context, Bearer(jwt)).status, 200);
  }
}

TEST(CdsHooksJwt, RejectionsAre401WithTheReason) {
  const auto jwt = JwtContext("ES384", true);
  const auto denied = [&](const std::string& authorization) { return cdshooks::Discovery(jwt.context, authorization).body.value("error", ""); };
  EXPECT_EQ(denied(""), "missing Authorization: Bearer token");
  EXPECT_EQ(denied(Bearer(jwt, {{"exp", 1795000000 - 3600}})), "the JWT expired at 1794996400 (now 1795000000)");
  EXPECT_EQ(denied(Bearer(jwt, {{"aud", "https://elsewhere.example/cds-services"}, {"jti", "j-2"}})), "the JWT audience is not this service (https://cds.example.org/cds-services)");
  EXPECT_EQ(denied(Bearer(jwt, {{"iss", "https://stranger.example"}})), "issuer \"https://stranger.example\" is not trusted");
  const std::string token = Bearer(jwt, {{"jti", "j-3"}});
  EXPECT_EQ(cdshooks::Discovery(jwt.context, token).status, 200);
  EXPECT_EQ(denied(token), "the JWT jti \"j-3\" was already used");
  std::string tampered = Bearer(jwt, {{"jti", "j-4"}});
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(denied(tampered), "the JWT signature does not verify");
  const std::string none = "Bearer " + cdshooks::Base64UrlEncode(R"({"alg":"none"})") + "." + cdshooks::Base64UrlEncode(R"({"iss":"x"})") + ".";
  EXPECT_EQ(denied(none), "JWT algorithm \"none\" is not accepted (RS256, RS384, RS512, ES256, ES384, ES512)");
  // The service URL is the audience of a hook call.
  const auto call = Call(jwt.context, cdshooks::kPatientViewService, Request("patient-view", "p1", PrefetchOf(Record({}))),
                         Bearer(jwt, {{"aud", "https://cds.example.org/cds-services/refract-trd-patient-view"}, {"jti", "j-5"}}));
  EXPECT_EQ(call.status, 200) << call.body.dump();
}

// ---- feedback, CORS, HTTP ----

class Sink : public cdshooks::FeedbackSink {
 public:
  void Record(std::string_view service, const nlohmann::json& feedback) override { received.emplace_back(std::string(service), feedback); }
  std::vector<std::pair<std::string, nlohmann::json>> received;
};

TEST(CdsHooksFeedback, AcceptedAndOverriddenCardsAreRecorded) {
  auto context = Context();
  Sink sink;
  context.feedback = &sink;
  const std::string body = R"({"feedback":[{"card":"c1","outcome":"accepted","acceptedSuggestions":[{"id":"s1"}],"outcomeTimestamp":"2026-11-22T10:00:00Z"},
      {"card":"c2","outcome":"overridden","overrideReason":{"reason":{"code":"will-monitor","system":"https://refract.example/fhir/CodeSystem/override-reason"},
       "userComment":"ECG booked"},"outcomeTimestamp":"2026-11-22T10:01:00Z"}]})";
  EXPECT_EQ(cdshooks::Feedback(context, cdshooks::kOrderSelectService, body, "").status, 200);
  ASSERT_EQ(sink.received.size(), 2U);
  EXPECT_EQ(sink.received[1].second["overrideReason"]["userComment"], "ECG booked");
  const auto bad = cdshooks::Feedback(context, cdshooks::kOrderSelectService, R"({"feedback":[{"card":"c1","outcome":"ignored","outcomeTimestamp":"x"}]})", "");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"], "feedback[0].outcome must be accepted or overridden");
}

TEST(CdsHooksHttp, ServesDiscoveryHooksFeedbackAndCorsOnLoopback) {
  const auto context = Context();
  httplib::Server server;
  cdshooks::MountCdsHooks(server, context);
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread thread([&] { server.listen_after_bind(); });
  while (!server.is_running()) std::this_thread::yield();
  httplib::Client client("127.0.0.1", port);
  auto discovery = client.Get("/cds-services", {{"Origin", "https://ehr.example.org"}});
  ASSERT_TRUE(discovery);
  EXPECT_EQ(discovery->status, 200);
  EXPECT_EQ(discovery->get_header_value("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(discovery->get_header_value("Content-Type"), "application/json");
  auto preflight = client.Options("/cds-services/refract-trd-patient-view", {{"Origin", "https://ehr.example.org"}, {"Access-Control-Request-Method", "POST"}});
  ASSERT_TRUE(preflight);
  EXPECT_EQ(preflight->status, 204);
  EXPECT_EQ(preflight->get_header_value("Access-Control-Allow-Headers"), "Authorization, Content-Type");
  auto hook = client.Post("/cds-services/refract-trd-patient-view", Request("patient-view", "p1", PrefetchOf(Record({}))).dump(), "application/json");
  ASSERT_TRUE(hook);
  EXPECT_EQ(hook->status, 200);
  EXPECT_EQ(ContractProblems(nlohmann::json::parse(hook->body)), std::vector<std::string>{});
  auto feedback = client.Post("/cds-services/refract-trd-patient-view/feedback", R"({"feedback":[]})", "application/json");
  ASSERT_TRUE(feedback);
  EXPECT_EQ(feedback->status, 200);
  auto missing = client.Post("/cds-services/nope", "{}", "application/json");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  server.stop();
  thread.join();
}

}  // namespace
}  // namespace refract

namespace refract {
namespace {

TEST(FhirApi, ImportAssessAndExportThroughTheServerHandlers) {
  const auto context = cdshooks_testing::Context("2025-10-15");
  const std::string bundle = fhir_testing::ReadJson(fhir_testing::SourceDir() / "tests" / "fhir" / "uscore-trd.bundle.json").dump();
  const auto imported = cdshooks::FhirImport(context, bundle, "");
  ASSERT_EQ(imported.status, 200);
  EXPECT_EQ(imported.body["record"]["id"], "p-1001");
  EXPECT_EQ(imported.body["report"]["schema"], "refract.fhir-import-report/v1");
  const auto assessed = cdshooks::FhirAssess(context, bundle, "", "2025-10-15", "");
  ASSERT_EQ(assessed.status, 200);
  EXPECT_EQ(assessed.body["assessment"]["patient_id"], "p-1001");
  const auto exported = cdshooks::FhirExport(context, fhir_testing::ReadJson(fhir_testing::SourceDir() / "examples" / "bipolar-ii.json").dump(), "2026-11-01",
                                             "2026-11-01T00:00:00Z");
  ASSERT_EQ(exported.status, 200);
  EXPECT_EQ(exported.body["resourceType"], "Bundle");
  const auto bad = cdshooks::FhirImport(context, R"({"resourceType":"Observation"})", "");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["error"]["message"], "not a FHIR Bundle (resourceType is \"Observation\")");
  EXPECT_EQ(cdshooks::FhirAssess(context, bundle, "", "2025-13-01", "").status, 400);
}

}  // namespace
}  // namespace refract
