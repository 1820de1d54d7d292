// SPDX-License-Identifier: Apache-2.0
// The CDS Hooks assessment memo: a call answered from it gets exactly the cards a recomputation gives,
// it is used only for a complete, byte-identical prefetch of the same patient and date, and the
// scanner that sets the prefetch text aside finds the member or declines. Also: a critical alert of the
// record leads the cards of an order hook.
#include <thread>

#include <gtest/gtest.h>

#include "../cdshooks/cdshooks_test_support.h"

namespace refract {
namespace {

using cdshooks_testing::Context;
using cdshooks_testing::ContractProblems;
using cdshooks_testing::DraftOrder;
using cdshooks_testing::PrefetchOf;
using cdshooks_testing::Record;
using cdshooks_testing::Request;

// Every key the services ask for: an EHR that prefetched all of them (null where it found nothing).
nlohmann::json Complete(nlohmann::json prefetch) {
  for (const char* key : {"patient", "conditions", "medicationRequests", "medicationStatements", "surveys", "labs", "vitals", "questionnaireResponses",
                          "procedures", "allergies"}) {
    if (!prefetch.contains(key)) prefetch[key] = nullptr;
  }
  return prefetch;
}

nlohmann::json TrdRecord() {
  return Record({{"person", {{"age_years", 67}}},
                 {"episode", {{"start", "2025-01-01"}}},
                 {"medications", nlohmann::json::parse(R"([
                    {"drug":"sertraline","start":"2025-01-10","end":"2025-04-30","adherence":"good","doses":[{"from":"2025-01-10","mg_per_day":150}],"improvement":{"percent":10}},
                    {"drug":"venlafaxine","start":"2025-05-10","end":"2025-09-30","adherence":"good","doses":[{"from":"2025-05-10","mg_per_day":225}],"improvement":{"percent":15}},
                    {"drug":"trazodone","start":"2025-10-01","ongoing":true,"doses":[{"from":"2025-10-01","mg_per_day":50}]}])")},
                 {"other_medications", nlohmann::json::parse(R"([{"drug":"tramadol","mg_per_day":100,"kind":"prescription","start":"2026-09-01"}])")}});
}

struct Calls {
  cdshooks::CdsHooksContext plain = Context();
  cdshooks::CdsHooksContext memo = [] {
    auto context = Context();
    context.memo = std::make_shared<cdshooks::AssessmentMemo>(8);
    return context;
  }();
};

TEST(CdsHooksMemo, AnswersFromTheMemoAreTheAnswersOfARecomputation) {
  Calls calls;
  const nlohmann::json prefetch = Complete(PrefetchOf(TrdRecord()));
  const std::vector<std::pair<std::string_view, nlohmann::json>> requests = {
      {cdshooks::kOrderSelectService, Request("order-select", "p1", prefetch, {DraftOrder("cit", "309314", 1)}, {"MedicationRequest/cit"})},
      {cdshooks::kOrderSelectService, Request("order-select", "p1", prefetch, {DraftOrder("esk", "2201623", 56, "mg")}, {"MedicationRequest/esk"})},
      {cdshooks::kOrderSignService, Request("order-sign", "p1", prefetch, {DraftOrder("cit", "309314", 1), DraftOrder("ser", "312941", 1)})},
      {cdshooks::kPatientViewService, Request("patient-view", "p1", prefetch)},
  };
  for (int round = 0; round < 2; ++round) {
    for (const auto& [service, request] : requests) {
      const auto recomputed = cdshooks::CallService(calls.plain, service, request.dump(), "");
      const auto remembered = cdshooks::CallService(calls.memo, service, request.dump(), "");
      ASSERT_EQ(recomputed.status, 200) << recomputed.body.dump();
      EXPECT_EQ(ContractProblems(remembered.body), std::vector<std::string>{});
      EXPECT_FALSE(remembered.body["cards"].empty()) << service;
      EXPECT_EQ(remembered.status, recomputed.status);
      EXPECT_EQ(remembered.body.dump(2), recomputed.body.dump(2)) << service << " round " << round;
    }
  }
  // Order-select of citalopram and order-sign assess without what next (one entry), esketamine and
  // patient-view with it (another): the first call of each misses, every later one hits.
  const auto counts = calls.memo.memo->counts();
  EXPECT_EQ(counts.entries, 2U);
  EXPECT_EQ(counts.misses, 2U);
  EXPECT_EQ(counts.hits, 6U);
}

TEST(CdsHooksMemo, KeyedByPatientDateAndTheExactPrefetch) {
  Calls calls;
  const nlohmann::json prefetch = Complete(PrefetchOf(TrdRecord()));
  const auto order = [&](const std::string& patient_id, const nlohmann::json& data) {
    return cdshooks::CallService(calls.memo, cdshooks::kOrderSelectService,
                                 Request("order-select", patient_id, data, {DraftOrder("cit", "309314", 1)}, {"MedicationRequest/cit"}).dump(), "");
  };
  ASSERT_EQ(order("p1", prefetch).status, 200);
  // The same prefetch under another patient id is not answered from the entry of p1: it is refused,
  // as without the memo, because the prefetched Patient is not p2.
  const auto other = order("p2", prefetch);
  EXPECT_EQ(other.status, 400) << other.body.dump();
  EXPECT_EQ(other.body, cdshooks::CallService(calls.plain, cdshooks::kOrderSelectService,
                                              Request("order-select", "p2", prefetch, {DraftOrder("cit", "309314", 1)}, {"MedicationRequest/cit"}).dump(), "")
                            .body);
  EXPECT_EQ(calls.memo.memo->counts().misses, 2U);
  // A changed prefetch (the tramadol stopped) is assessed afresh and gives other cards.
  nlohmann::json record = TrdRecord();
  record.erase("other_medications");
  const auto changed = order("p1", Complete(PrefetchOf(record)));
  ASSERT_EQ(changed.status, 200);
  EXPECT_EQ(calls.memo.memo->counts().misses, 3U);
  EXPECT_EQ(changed.body.dump().find("tramadol"), std::string::npos);
  EXPECT_NE(order("p1", prefetch).body.dump().find("tramadol"), std::string::npos);
  EXPECT_EQ(calls.memo.memo->counts().hits, 1U);
  // The next day is another assessment date.
  auto tomorrow = Context("2026-11-23");
  tomorrow.memo = calls.memo.memo;
  ASSERT_EQ(cdshooks::CallService(tomorrow, cdshooks::kOrderSelectService,
                                  Request("order-select", "p1", prefetch, {DraftOrder("cit", "309314", 1)}, {"MedicationRequest/cit"}).dump(), "")
                .status,
            200);
  EXPECT_EQ(calls.memo.memo->counts().misses, 4U);
  EXPECT_EQ(calls.memo.memo->counts().hits, 1U);
}

TEST(CdsHooksMemo, IncompletePrefetchIsNeverRemembered) {
  Calls calls;
  nlohmann::json prefetch = PrefetchOf(TrdRecord());  // no "labs", "vitals", ...: a FHIR server could be asked
  ASSERT_FALSE(prefetch.contains("labs"));
  const std::string body = Request("order-select", "p1", prefetch, {DraftOrder("cit", "309314", 1)}, {"MedicationRequest/cit"}).dump();
  for (int call = 0; call < 3; ++call) {
    const auto response = cdshooks::CallService(calls.memo, cdshooks::kOrderSelectService, body, "");
    ASSERT_EQ(response.status, 200);
    EXPECT_EQ(response.body.dump(), cdshooks::CallService(calls.plain, cdshooks::kOrderSelectService, body, "").body.dump());
  }
  EXPECT_EQ(calls.memo.memo->counts().entries, 0U);
  EXPECT_EQ(calls.memo.memo->counts().hits, 0U);
}

TEST(CdsHooksMemo, BadRequestsAreAnsweredAsWithoutIt) {
  Calls calls;
  const nlohmann::json good = Request("order-select", "p1", Complete(PrefetchOf(TrdRecord())), {DraftOrder("cit", "309314", 1)}, {"MedicationRequest/cit"});
  std::string broken_prefetch = good.dump();
  broken_prefetch.replace(broken_prefetch.find("\"prefetch\":{") + 12, 0, "]");
  nlohmann::json not_object = good;
  not_object["prefetch"] = nlohmann::json::array();
  nlohmann::json no_patient = good;
  no_patient["context"].erase("patientId");
  for (const std::string& body : {broken_prefetch, not_object.dump(), no_patient.dump(), good.dump() + "x", std::string("{\"prefetch\":{}}")}) {
    const auto plain = cdshooks::CallService(calls.plain, cdshooks::kOrderSelectService, body, "");
    const auto memo = cdshooks::CallService(calls.memo, cdshooks::kOrderSelectService, body, "");
    EXPECT_EQ(plain.status, 400) << body.substr(0, 80);
    EXPECT_EQ(memo.status, plain.status) << body.substr(0, 80);
    EXPECT_EQ(memo.body, plain.body) << body.substr(0, 80);
  }
  EXPECT_EQ(calls.memo.memo->counts().entries, 0U);
}

// Serving threads share the memo; a small one evicts entries other threads are still using.
TEST(CdsHooksMemo, ThreadsSharingASmallMemoGetTheAnswersOfARecomputation) {
  Calls calls;
  calls.memo.memo = std::make_shared<cdshooks::AssessmentMemo>(2);
  std::vector<std::string> bodies;
  std::vector<std::string> expected;
  for (int variant = 0; variant < 3; ++variant) {
    nlohmann::json record = TrdRecord();
    record["person"]["age_years"] = 60 + variant * 5;
    bodies.push_back(Request("order-select", "p1", Complete(PrefetchOf(record)), {DraftOrder("cit", "309314", 1)}, {"MedicationRequest/cit"}).dump());
    expected.push_back(cdshooks::CallService(calls.plain, cdshooks::kOrderSelectService, bodies.back(), "").body.dump());
  }
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t thread_idx = 0; thread_idx < mismatches.size(); ++thread_idx) {
    threads.emplace_back([&, thread_idx] {
      for (std::size_t call = 0; call < 12; ++call) {
        const std::size_t variant = (call + thread_idx) % bodies.size();
        const auto response = cdshooks::CallService(calls.memo, cdshooks::kOrderSelectService, bodies[variant], "");
        if (response.status != 200 || response.body.dump() != expected[variant]) ++mismatches[thread_idx];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
  const auto counts = calls.memo.memo->counts();
  EXPECT_EQ(counts.hits + counts.misses, 48U);
  EXPECT_LE(counts.entries, 2U);
}

TEST(CdsHooksMemo, LeastRecentlyUsedEntriesGoFirst) {
  cdshooks::AssessmentMemo memo(2);
  memo.Store("a", std::make_shared<int>(1));
  memo.Store("b", std::make_shared<int>(2));
  ASSERT_NE(memo.Find("a"), nullptr);  // "a" is now the most recent
  memo.Store("c", std::make_shared<int>(3));
  EXPECT_EQ(memo.Find("b"), nullptr);
  ASSERT_NE(memo.Find("a"), nullptr);
  ASSERT_NE(memo.Find("c"), nullptr);
  EXPECT_EQ(*std::static_pointer_cast<const int>(memo.Find("c")), 3);
  EXPECT_EQ(memo.counts().entries, 2U);
  cdshooks::AssessmentMemo none(0);
  none.Store("a", std::make_shared<int>(1));
  EXPECT_EQ(none.Find("a"), nullptr);
}

TEST(CdsHooksMemo, ScannerFindsTheMemberOrDeclines) {
  const auto split = [](std::string_view text) { return cdshooks::SplitTopLevelMember(text, "prefetch"); };
  const auto first = split(R"( {"prefetch" : {"a":"}\"{","b":[1,{"c":null}]} , "hook":"x"} )");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->value, R"({"a":"}\"{","b":[1,{"c":null}]})");
  EXPECT_EQ(nlohmann::json::parse(first->rest), nlohmann::json::parse(R"({"hook":"x"})"));
  const auto middle = split(R"({"hook":"x","prefetch":{},"context":{"prefetch":1}})");
  ASSERT_TRUE(middle);
  EXPECT_EQ(middle->value, "{}");
  EXPECT_EQ(nlohmann::json::parse(middle->rest), nlohmann::json::parse(R"({"hook":"x","context":{"prefetch":1}})"));
  const auto last = split(R"({"hook":"x", "prefetch":null})");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->value, "null");
  EXPECT_EQ(last->rest, R"({"hook":"x"})");
  const auto only = split(R"({"prefetch":[]})");
  ASSERT_TRUE(only);
  EXPECT_EQ(only->rest, "{}");
  EXPECT_FALSE(split(R"({"hook":"x"})"));                             // missing
  EXPECT_FALSE(split(R"({"prefetch":{},"prefetch":{}})"));            // repeated
  EXPECT_FALSE(split(R"({"pre\u0066etch":{}})"));                     // escaped key
  EXPECT_FALSE(split(R"({"prefetch":{"a":[}]}})"));                   // mismatched nesting
  EXPECT_FALSE(split(R"({"prefetch":{"a":"unterminated})"));          // ends early
  EXPECT_FALSE(split(R"([{"prefetch":{}}])"));                        // not an object
  EXPECT_FALSE(split(""));
}

TEST(CdsHooksOrderHooks, ACriticalAlertOfTheRecordLeadsTheCards) {
  const auto context = Context();
  nlohmann::json record = TrdRecord();
  record["scales"] = nlohmann::json::parse(R"([{"scale":"phq9","date":"2026-11-20","items":[2,2,2,2,2,2,2,2,2]}])");
  for (const auto& [service, hook] : {std::pair{cdshooks::kOrderSelectService, "order-select"}, std::pair{cdshooks::kOrderSignService, "order-sign"}}) {
    const auto response = cdshooks::CallService(
        context, service, Request(hook, "p1", PrefetchOf(record), {DraftOrder("cit", "309314", 1)}, {"MedicationRequest/cit"}).dump(), "");
    ASSERT_EQ(response.status, 200) << response.body.dump();
    EXPECT_EQ(ContractProblems(response.body), std::vector<std::string>{});
    const auto& cards = response.body["cards"];
    ASSERT_FALSE(cards.empty());
    EXPECT_EQ(cards[0]["indicator"], "critical") << hook;
    EXPECT_EQ(cards[0]["source"]["topic"]["display"], "suicide_risk") << hook;
  }
}

}  // namespace
}  // namespace refract
