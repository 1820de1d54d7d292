// SPDX-License-Identifier: Apache-2.0
// In-process benchmark of the CDS Hooks order-select handler with a 20-medication prefetch (Google
// Benchmark): request text in, cards JSON out, as the HTTP adapter calls it. Per-call p50 and p99 are
// reported as counters. Figures, never assertions.
#include <algorithm>
#include <chrono>
#include <vector>

#include <benchmark/benchmark.h>

#include "bench_context.h"
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

void BM_OrderSelect20Medications(benchmark::State& state) {
  const auto& served = Shared();
  const std::string body = refract::bench::OrderSelectRequest().dump();
  const auto check = refract::cdshooks::CallService(served.context, refract::cdshooks::kOrderSelectService, body, "");
  if (check.status != 200 || check.body["cards"].empty()) {
    state.SkipWithError("the order-select request does not give cards");
    return;
  }
  std::vector<double> micros;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    auto response = refract::cdshooks::CallService(served.context, refract::cdshooks::kOrderSelectService, body, "");
    std::string text = response.body.dump();
    benchmark::DoNotOptimize(text);
    micros.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  Percentiles(state, micros);
  state.counters["cards"] = static_cast<double>(check.body["cards"].size());
}
BENCHMARK(BM_OrderSelect20Medications)->Unit(benchmark::kMicrosecond)->Repetitions(5)->ReportAggregatesOnly(true);

void BM_PatientView20Medications(benchmark::State& state) {
  const auto& served = Shared();
  nlohmann::json request = refract::bench::OrderSelectRequest();
  request["hook"] = "patient-view";
  request["context"].erase("selections");
  request["context"].erase("draftOrders");
  const std::string body = request.dump();
  std::vector<double> micros;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    auto response = refract::cdshooks::CallService(served.context, refract::cdshooks::kPatientViewService, body, "");
    std::string text = response.body.dump();
    benchmark::DoNotOptimize(text);
    micros.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  Percentiles(state, micros);
}
BENCHMARK(BM_PatientView20Medications)->Unit(benchmark::kMicrosecond)->Repetitions(5)->ReportAggregatesOnly(true);

}  // namespace

BENCHMARK_MAIN();
