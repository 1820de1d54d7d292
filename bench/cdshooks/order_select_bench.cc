// SPDX-License-Identifier: Apache-2.0
// In-process benchmark of the CDS Hooks order-select handler with a 20-medication prefetch (Google
// Benchmark): request text in, cards JSON out, as the HTTP adapter calls it, with the assessment memo
// of `refract serve`, for a new patient at every call and for the same patient again. Per-call p50 and
// p99 are reported as counters. Figures, never assertions.
#include <algorithm>
#include <chrono>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_context.h"
#include "refract/cdshooks/json_text.h"
#include "order_select_request.h"

namespace {

const refract::bench::Served& Shared() {
  static const auto served = refract::bench::LoadServed();
  return *served;
}

void Percentiles(benchmark::State& state, std::vector<double>& micros) {
  if (micros.empty()) return;
  std::sort(micros.begin(), micros.end());
  state.counters["call_p50_us"] = micros[micros.size() / 2];
  state.counters["call_p99_us"] = micros[std::min(micros.size() - 1, micros.size() * 99 / 100)];
}

// Calls for `patients` patients in turn: with more patients than the memo holds (256) every call is
// the first for its patient (import, assessment and the order); with one, every call after the first
// is the EHR firing order-select again for the same patient (the order only).
void OrderSelect(benchmark::State& state, int patients) {
  const auto& served = Shared();
  const std::vector<std::string> bodies = refract::bench::OrderSelectBodies(patients);
  const auto check = refract::cdshooks::CallService(served.context, refract::cdshooks::kOrderSelectService, bodies.front(), "");
  if (check.status != 200 || check.body["cards"].empty()) {
    state.SkipWithError("the order-select request does not give cards");
    return;
  }
  const auto before = served.context.memo->counts();
  std::vector<double> micros;
  std::size_t next = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    auto response = refract::cdshooks::CallService(served.context, refract::cdshooks::kOrderSelectService, bodies[next], "");
    std::string text = refract::cdshooks::JsonText(response.body);  // as the HTTP adapter writes it
    benchmark::DoNotOptimize(text);
    micros.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
    next = (next + 1) % bodies.size();
  }
  Percentiles(state, micros);
  const auto after = served.context.memo->counts();
  state.counters["memo_hits"] = static_cast<double>(after.hits - before.hits);
  state.counters["memo_misses"] = static_cast<double>(after.misses - before.misses);
  state.counters["cards"] = static_cast<double>(check.body["cards"].size());
}

void BM_OrderSelect20MedicationsNewPatient(benchmark::State& state) { OrderSelect(state, 1000); }
BENCHMARK(BM_OrderSelect20MedicationsNewPatient)->Unit(benchmark::kMicrosecond)->Repetitions(5)->ReportAggregatesOnly(true);

void BM_OrderSelect20MedicationsSamePatient(benchmark::State& state) { OrderSelect(state, 1); }
BENCHMARK(BM_OrderSelect20MedicationsSamePatient)->Unit(benchmark::kMicrosecond)->Repetitions(5)->ReportAggregatesOnly(true);

void BM_PatientView20Medications(benchmark::State& state) {
  const auto& served = Shared();
  nlohmann::json request = refract::bench::OrderSelectRequest();
  request["hook"] = "patient-view";
  request["context"].erase("selections");
  request["context"].erase("draftOrders");
  const std::string body = request.dump();
  auto context = served.context;
  context.memo = nullptr;  // every call assessed afresh, as the first view of a chart is
  std::vector<double> micros;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    auto response = refract::cdshooks::CallService(context, refract::cdshooks::kPatientViewService, body, "");
    std::string text = refract::cdshooks::JsonText(response.body);  // as the HTTP adapter writes it
    benchmark::DoNotOptimize(text);
    micros.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  Percentiles(state, micros);
}
BENCHMARK(BM_PatientView20Medications)->Unit(benchmark::kMicrosecond)->Repetitions(5)->ReportAggregatesOnly(true);

}  // namespace

BENCHMARK_MAIN();
