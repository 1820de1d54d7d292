// SPDX-License-Identifier: Apache-2.0
// Microbenchmarks of the assessment path (Google Benchmark).
//
// Targets (from the performance issue; not asserted here):
//   * one `assess` of a 10-trial patient with the KB preloaded, in-process: p50 under 50 us.
//     The project README reads this as Evaluate on a parsed record -> BM_Evaluate. The strict
//     reading (patient JSON text in, assessment JSON text out, as `assess --format json` does
//     after start-up) is BM_FullAssessToJson; BM_ParseAndEvaluate sits between the two.
//   * the whole CLI process (cold start, `refract assess one.json --format json`): under 10 ms.
//     Measured by bench/cli_cold_start.sh, not here; BM_LoadBuiltInKb and
//     BM_PatientParserConstruct are the start-up work every CLI process pays before assessing.
//
// Every benchmark runs kRepetitions repetitions and reports only the aggregates: mean, median,
// stddev, cv, plus p50 and p90 across repetitions. Each repetition also records the latency of
// every single call and reports its p50/p99 as the counters call_p50_us / call_p99_us (the
// "median" row of those counters is the median over repetitions). Benchmarks are measurements,
// never timed assertions: nothing here fails on a slow machine.
//
// The patient is built in this file as JSON text, so the benchmark does not depend on the
// examples/ directory: ten courses (antidepressants, combinations and augmentations) with dose
// steps, adherence, improvement or outcome, a current episode and an ECT course.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include "refract/app/app.h"
#include "refract/app/embedded.h"
#include "refract/core/assessment.h"
#include "refract/core/patient.h"
#include "refract/core/report.h"

namespace {

constexpr int kRepetitions = 15;

// A patient with ten courses in one long current episode, then ECT.
constexpr const char* kTenTrialPatient = R"json({
  "schema": "refract.patient/v1",
  "id": "bench-ten-trials",
  "description": "Benchmark record: ten antidepressant and augmentation courses in one episode, then ECT.",
  "person": { "birth_date": "1975-03-14", "sex": "male" },
  "episode": { "start": "2023-01-09", "severity": "severe", "psychotic_features": false, "episode_number": 2 },
  "history": {
    "bipolar": false, "mania_or_hypomania": false, "psychosis": false, "suicide_attempts": 1,
    "last_suicide_attempt": "2023-06-02", "substance_use": "past", "family_history_bipolar": false,
    "previous_episodes": 1,
    "psychotherapy": [ { "kind": "cbt", "start": "2023-02-01", "end": "2023-06-30", "sessions": 16, "outcome": "partial" } ]
  },
  "diagnoses": [
    { "kind": "mdd", "code": { "system": "ICD-10-CM", "code": "F33.2" }, "onset": "2015-05-01", "status": "active" },
    { "kind": "gad", "status": "active" }
  ],
  "medications": [
    { "id": "ser", "drug": "sertraline", "role": "monotherapy", "start": "2023-01-16", "end": "2023-04-30",
      "doses": [ { "from": "2023-01-16", "mg_per_day": 50 }, { "from": "2023-01-30", "mg_per_day": 100 },
                 { "from": "2023-02-27", "mg_per_day": 150 } ],
      "adherence": "good", "adherence_percent": 92,
      "improvement": { "percent": 15, "rated_by": "clinician", "date": "2023-04-25" },
      "stop_reason": "ineffective", "dose_optimized": true },
    { "id": "ven", "drug": "Effexor XR", "start": "2023-05-08", "end": "2023-10-15",
      "doses": [ { "from": "2023-05-08", "mg_per_day": 75 }, { "from": "2023-05-22", "mg_per_day": 150 },
                 { "from": "2023-06-19", "mg_per_day": 225 } ],
      "adherence": "good",
      "improvement": { "percent": 25, "rated_by": "clinician", "date": "2023-10-10" },
      "stop_reason": "ineffective", "dose_optimized": true, "duration_optimized": true },
    { "id": "bup", "drug": "bupropion", "role": "combination", "augments": "ven", "start": "2023-08-01", "end": "2023-10-15",
      "doses": [ { "from": "2023-08-01", "mg_per_day": 150 }, { "from": "2023-08-15", "mg_per_day": 300 } ],
      "adherence": "partial", "adherence_percent": 70,
      "improvement": { "percent": 20, "rated_by": "patient", "date": "2023-10-10" },
      "stop_reason": "ineffective" },
    { "id": "mir", "drug": "mirtazapine", "start": "2023-10-23", "end": "2024-02-28",
      "doses": [ { "from": "2023-10-23", "mg_per_day": 15 }, { "from": "2023-11-06", "mg_per_day": 30 },
                 { "from": "2023-12-04", "mg_per_day": 45 } ],
      "adherence": "good", "outcome": "nonresponse", "stop_reason": "ineffective" },
    { "id": "ari", "drug": "aripiprazole", "role": "augmentation", "augments": "mir", "start": "2023-12-11", "end": "2024-02-28",
      "doses": [ { "from": "2023-12-11", "mg_per_day": 2 }, { "from": "2023-12-25", "mg_per_day": 5 } ],
      "adherence": "good", "outcome": "intolerance", "stop_reason": "side_effects", "side_effects": [ "akathisia" ] },
    { "id": "nor", "drug": "nortriptyline", "start": "2024-03-11", "end": "2024-08-31",
      "doses": [ { "from": "2024-03-11", "mg_per_day": 25 }, { "from": "2024-03-25", "mg_per_day": 75 },
                 { "from": "2024-04-15", "mg_per_day": 100 } ],
      "adherence": "good",
      "improvement": { "percent": 30, "rated_by": "clinician", "date": "2024-08-26" },
      "stop_reason": "ineffective", "duration_optimized": true },
    { "id": "li", "drug": "lithium carbonate", "role": "augmentation", "augments": "nor", "start": "2024-05-06", "end": "2024-08-31",
      "doses": [ { "from": "2024-05-06", "mg_per_day": 600 }, { "from": "2024-05-20", "mg_per_day": 900 } ],
      "adherence": "good",
      "improvement": { "percent": 10, "rated_by": "clinician", "date": "2024-08-26" },
      "stop_reason": "ineffective" },
    { "id": "vor", "drug": "vortioxetine", "start": "2024-09-09", "end": "2025-01-31",
      "doses": [ { "from": "2024-09-09", "mg_per_day": 10 }, { "from": "2024-09-23", "mg_per_day": 20 } ],
      "improvement": { "percent": 20, "rated_by": "patient", "date": "2025-01-27" },
      "stop_reason": "ineffective" },
    { "id": "t3", "drug": "liothyronine", "role": "augmentation", "augments": "vor", "start": "2024-11-04", "end": "2025-01-31",
      "doses": [ { "from": "2024-11-04", "mg_per_day": 0.025 }, { "from": "2024-11-18", "mg_per_day": 0.05 } ],
      "adherence": "good", "outcome": "nonresponse", "stop_reason": "ineffective" },
    { "id": "tcp", "drug": "tranylcypromine", "start": "2025-02-24", "end": "2025-09-30",
      "doses": [ { "from": "2025-02-24", "mg_per_day": 20 }, { "from": "2025-03-10", "mg_per_day": 40 },
                 { "from": "2025-04-07", "mg_per_day": 60 } ],
      "adherence": "good", "adherence_percent": 95,
      "improvement": { "percent": 35, "rated_by": "clinician", "date": "2025-09-25" },
      "stop_reason": "ineffective", "dose_optimized": true }
  ],
  "procedures": [
    { "kind": "ect", "start": "2025-10-13", "end": "2025-12-05", "sessions": 16, "laterality": "right_unilateral",
      "protocol": "ultrabrief pulse, 6x seizure threshold", "outcome": "partial",
      "improvement": { "percent": 40, "rated_by": "clinician", "date": "2025-12-05" }, "episode": "current" }
  ],
  "scales": [
    { "scale": "madrs", "date": "2025-10-10", "total": 36, "rater": "clinician" },
    { "scale": "phq9", "date": "2025-12-05", "items": [2, 2, 1, 2, 1, 2, 1, 1, 0], "rater": "self" }
  ],
  "labs": [ { "name": "tsh", "value": 2.4, "unit": "mIU/L", "date": "2025-10-01" } ]
})json";

constexpr const char* kAsOf = "2026-11-22";
constexpr const char* kLabel = "bench-ten-trials.json";

// Everything loaded once, outside every timing loop.
struct Fixture {
  refract::KnowledgeBase kb;
  const refract::PatientParser* parser = nullptr;
  nlohmann::json json;
  refract::PatientRecord record;
  refract::EvaluateOptions options;
};

Fixture* g_fixture = nullptr;

[[noreturn]] void Die(const std::string& what, const refract::Error& error) {
  std::fprintf(stderr, "refract_bench: %s: %s%s%s\n", what.c_str(), error.location.c_str(), error.location.empty() ? "" : ": ",
               error.message.c_str());
  std::exit(1);
}

void SetUpFixture() {
  auto kb = refract::app::LoadKb(std::nullopt);
  if (!kb) Die("loading the built-in KB", kb.error());
  g_fixture = new Fixture{std::move(*kb), &refract::app::Parser(), nlohmann::json::parse(kTenTrialPatient), {}, {}};
  g_fixture->options.as_of = *refract::ParseDate(kAsOf);
  auto record = g_fixture->parser->Parse(g_fixture->kb, g_fixture->json, kLabel);
  if (!record) Die("parsing the benchmark patient", record.error());
  g_fixture->record = std::move(*record);
  // Sanity check: the benchmark must measure a real, successful ten-trial assessment.
  auto assessment = refract::Evaluate(g_fixture->kb, g_fixture->record, g_fixture->options);
  if (!assessment) Die("assessing the benchmark patient", assessment.error());
  if (assessment->trials.size() != 10 || assessment->procedures.size() != 1) {
    std::fprintf(stderr, "refract_bench: expected 10 trials and 1 procedure, got %zu and %zu\n", assessment->trials.size(),
                 assessment->procedures.size());
    std::exit(1);
  }
  std::fprintf(stderr, "refract_bench: patient with %zu trials, %zu procedure; TRD %s; Thase-Rush stage %d; kb %s\n",
               assessment->trials.size(), assessment->procedures.size(),
               std::string(refract::TrdStatusName(assessment->trd.status)).c_str(), assessment->thase_rush.stage,
               assessment->kb_version.c_str());
}

double Percentile(std::vector<double>& values, double fraction) {
  if (values.empty()) return 0;
  const auto rank = static_cast<std::size_t>(fraction * static_cast<double>(values.size() - 1) + 0.5);
  std::nth_element(values.begin(), values.begin() + static_cast<long>(rank), values.end());
  return values[rank];
}

// Percentile statistics across repetitions (each repetition's value is its mean per iteration).
double P50(const std::vector<double>& values) {
  std::vector<double> copy = values;
  return Percentile(copy, 0.50);
}
double P90(const std::vector<double>& values) {
  std::vector<double> copy = values;
  return Percentile(copy, 0.90);
}

// Times each call of `body` on its own, so the per-call p50/p99 are visible as counters.
// Two steady_clock reads per call (~50 ns) are noise next to the work measured here.
template <class Body>
void RunTimed(benchmark::State& state, Body&& body) {
  std::vector<double> latencies_us;
  latencies_us.reserve(1 << 16);
  for (auto _ : state) {
    const auto begin = std::chrono::steady_clock::now();
    body();
    const auto end = std::chrono::steady_clock::now();
    if (latencies_us.size() < latencies_us.capacity()) {
      latencies_us.push_back(std::chrono::duration<double, std::micro>(end - begin).count());
    }
  }
  state.counters["call_p50_us"] = Percentile(latencies_us, 0.50);
  state.counters["call_p99_us"] = Percentile(latencies_us, 0.99);
}

// Evaluate only, on a record parsed beforehand.
void BM_Evaluate(benchmark::State& state) {
  const Fixture& fx = *g_fixture;
  RunTimed(state, [&] {
    auto assessment = refract::Evaluate(fx.kb, fx.record, fx.options);
    benchmark::DoNotOptimize(assessment);
  });
}

// The TRD core only (trials, TRD status, staging, measurement): no regimen check, PGx or next steps,
// as population screening runs it.
void BM_EvaluateCore(benchmark::State& state) {
  const Fixture& fx = *g_fixture;
  refract::EvaluateOptions options = fx.options;
  options.regimen_and_genotypes = false;
  options.next_steps = false;
  RunTimed(state, [&] {
    auto assessment = refract::Evaluate(fx.kb, fx.record, options);
    benchmark::DoNotOptimize(assessment);
  });
}

// Everything but the next steps (what `assess --without-next-steps` computes).
void BM_EvaluateWithoutNextSteps(benchmark::State& state) {
  const Fixture& fx = *g_fixture;
  refract::EvaluateOptions options = fx.options;
  options.next_steps = false;
  RunTimed(state, [&] {
    auto assessment = refract::Evaluate(fx.kb, fx.record, options);
    benchmark::DoNotOptimize(assessment);
  });
}

// JSON already parsed: schema validation and reading the record, then Evaluate.
void BM_ParseAndEvaluate(benchmark::State& state) {
  const Fixture& fx = *g_fixture;
  RunTimed(state, [&] {
    auto record = fx.parser->Parse(fx.kb, fx.json, kLabel);
    auto assessment = refract::Evaluate(fx.kb, *record, fx.options);
    benchmark::DoNotOptimize(assessment);
  });
}

// What one in-process `assess --format json` does with the KB preloaded: text in, text out.
void BM_FullAssessToJson(benchmark::State& state) {
  const Fixture& fx = *g_fixture;
  const std::string text = kTenTrialPatient;
  std::size_t bytes = 0;
  RunTimed(state, [&] {
    auto json = refract::app::ParseJsonText(text, kLabel);
    auto record = fx.parser->Parse(fx.kb, *json, kLabel);
    auto assessment = refract::Evaluate(fx.kb, *record, fx.options);
    const std::string out = refract::AssessmentToJson(*assessment, refract::app::Engine()).dump(2);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  });
  state.counters["output_bytes"] = static_cast<double>(bytes);
}

// Loading the built-in KB: parse, schema-check and index every embedded file. Paid once per
// CLI process.
void BM_LoadBuiltInKb(benchmark::State& state) {
  RunTimed(state, [&] {
    auto kb = refract::app::LoadKb(std::nullopt);
    benchmark::DoNotOptimize(kb);
  });
}

// Building the patient parser from the embedded schema (app::Parser() does this once per
// process). Also paid once per CLI process.
void BM_PatientParserConstruct(benchmark::State& state) {
  const std::string_view schema = refract::embedded::PatientSchema();
  RunTimed(state, [&] {
    refract::PatientParser parser(nlohmann::json::parse(schema));
    benchmark::DoNotOptimize(parser);
  });
}

void Register() {
  const auto configure = [](benchmark::internal::Benchmark* bench) {
    bench->Repetitions(kRepetitions)
        ->ReportAggregatesOnly(true)
        ->ComputeStatistics("p50", P50)
        ->ComputeStatistics("p90", P90)
        ->Unit(benchmark::kMicrosecond);
  };
  configure(benchmark::RegisterBenchmark("BM_EvaluateCore", BM_EvaluateCore));
  configure(benchmark::RegisterBenchmark("BM_EvaluateWithoutNextSteps", BM_EvaluateWithoutNextSteps));
  configure(benchmark::RegisterBenchmark("BM_Evaluate", BM_Evaluate));
  configure(benchmark::RegisterBenchmark("BM_ParseAndEvaluate", BM_ParseAndEvaluate));
  configure(benchmark::RegisterBenchmark("BM_FullAssessToJson", BM_FullAssessToJson));
  configure(benchmark::RegisterBenchmark("BM_LoadBuiltInKb", BM_LoadBuiltInKb));
  configure(benchmark::RegisterBenchmark("BM_PatientParserConstruct", BM_PatientParserConstruct));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SetUpFixture();
  Register();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  delete g_fixture;
  return 0;
}
