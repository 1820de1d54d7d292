// SPDX-License-Identifier: Apache-2.0
// Interaction check of a 15-drug regimen (built-in KB and interaction knowledge loaded beforehand).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "refract/app/app.h"
#include "refract/core/interactions.h"

namespace {

struct Fixture {
  refract::KnowledgeBase kb;
  refract::InteractionKnowledge knowledge;
  refract::Regimen regimen;
  refract::Date as_of;
};

const Fixture& Loaded() {
  static const Fixture* fixture = [] {
    auto kb = refract::app::LoadKb(std::nullopt);
    if (!kb) std::abort();
    auto* out = new Fixture{std::move(*kb), {}, {}, *refract::ParseDate("2026-11-22")};
    auto knowledge = refract::LoadInteractionKnowledge(out->kb);
    if (!knowledge) std::abort();
    out->knowledge = std::move(*knowledge);
    // A heavy but realistic TRD regimen: antidepressants, augmenters and medical co-medication.
    const std::vector<std::string> names = {"sertraline", "bupropion",  "aripiprazole", "lithium",   "lamotrigine",
                                            "trazodone",  "quetiapine", "tramadol",     "ibuprofen", "omeprazole",
                                            "warfarin",   "lisinopril", "hydrochlorothiazide", "ondansetron", "clarithromycin"};
    out->regimen = refract::RegimenFromNames(out->kb, names);
    out->regimen.patient.age_years = 70;
    const auto report = refract::CheckRegimen(out->knowledge, out->regimen, out->as_of);
    if (report.checked.size() != 15 || !report.unresolved.empty()) {
      std::fprintf(stderr, "bench regimen: %zu drugs checked, %zu unresolved\n", report.checked.size(), report.unresolved.size());
      std::abort();
    }
    return out;
  }();
  return *fixture;
}

void BM_CheckRegimen15(benchmark::State& state) {
  const Fixture& fixture = Loaded();
  std::size_t findings = 0;
  for (auto _ : state) {
    auto report = refract::CheckRegimen(fixture.knowledge, fixture.regimen, fixture.as_of);
    findings = report.findings.size();
    benchmark::DoNotOptimize(report);
  }
  state.counters["findings"] = static_cast<double>(findings);
}
BENCHMARK(BM_CheckRegimen15)->Unit(benchmark::kMicrosecond)->Repetitions(15)->ReportAggregatesOnly(true);

void BM_LoadInteractionKnowledge(benchmark::State& state) {
  const Fixture& fixture = Loaded();
  for (auto _ : state) {
    auto knowledge = refract::LoadInteractionKnowledge(fixture.kb);
    benchmark::DoNotOptimize(knowledge);
  }
}
BENCHMARK(BM_LoadInteractionKnowledge)->Unit(benchmark::kMicrosecond)->Repetitions(5)->ReportAggregatesOnly(true);

}  // namespace

BENCHMARK_MAIN();
