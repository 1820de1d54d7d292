// SPDX-License-Identifier: Apache-2.0
// Pharmacogenomic VCF calling throughput (Google Benchmark): samples called per second, on one core.
//
// Target (issue 4, not asserted): at least 10,000 samples per second per core for a multi-sample
// VCF restricted to the three genes' positions. PharmCAT's published figure is 1.2-5.9 s per sample.
//
// The VCF is synthetic and generated here at start-up (never committed): every CPIC definition
// position of CYP2C19 (34) and CYP2B6 (47), plus 156 records in the CYP2D6 region of chr22 (as in
// PharmCAT's position file; refract parses and skips them because CYP2D6 is an outside call).
// Genotypes are drawn with a fixed seed from named alleles at realistic frequencies, unphased, so
// heterozygous samples exercise the phasing search. Sizes: 1,000, 5,000 and 20,000 samples.
//
// Benchmarks (each iteration processes the whole file; items = samples):
//   BM_VcfEndToEnd/N        open, parse (htslib), read genotypes, call every sample: the `refract pgx --vcf` work
//   BM_VcfEndToEndBgzip/N   the same from a bgzip-compressed file
//   BM_VcfRead/N            htslib parsing and genotype extraction only
//   BM_CallSamples/N        named-allele matching of genotypes already read
// Counter `samples_per_s` (and items_per_second) is samples per CPU-second of the single thread,
// i.e. per core; wall time is printed beside it and equals CPU time on an idle machine.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <htslib/bgzf.h>
#include <unistd.h>

#include "refract/app/app.h"
#include "refract/core/pgx.h"
#include "refract/vcf/pgx_vcf.h"

namespace {

const refract::KnowledgeBase& Kb() {
  static const refract::KnowledgeBase kb = [] {
    auto loaded = refract::app::LoadKb(std::nullopt);
    if (!loaded) {
      std::fprintf(stderr, "built-in KB does not load: %s\n", loaded.error().message.c_str());
      std::exit(1);
    }
    return std::move(*loaded);
  }();
  return kb;
}

const refract::PgxKnowledge& Pgx() {
  static const refract::PgxKnowledge knowledge = [] {
    auto loaded = refract::LoadPgxKnowledge(Kb());
    if (!loaded) std::exit(1);
    return std::move(*loaded);
  }();
  return knowledge;
}

// Haplotype frequencies used to draw synthetic samples (rough population figures; only the
// workload depends on them).
const std::map<std::string, std::vector<std::pair<std::string, double>>>& Frequencies() {
  static const std::map<std::string, std::vector<std::pair<std::string, double>>> table = {
      {"CYP2C19", {{"*1", 0.55}, {"*2", 0.15}, {"*17", 0.2}, {"*38", 0.04}, {"*3", 0.02}, {"*9", 0.01}, {"*4", 0.01}, {"*35", 0.01}, {"*8", 0.01}}},
      {"CYP2B6", {{"*1", 0.55}, {"*6", 0.25}, {"*4", 0.05}, {"*9", 0.03}, {"*5", 0.05}, {"*18", 0.04}, {"*22", 0.03}}}};
  return table;
}

// Bases one named allele carries at every definition position (IUPAC: first allowed base).
std::vector<char> Haplotype(const refract::PgxDefinition& definition, const std::string& name) {
  std::vector<char> out;
  for (const auto& allele : definition.alleles) {
    if (allele.name != name) continue;
    for (const refract::BaseMask mask : allele.masks) {
      for (const char base : {'A', 'C', 'G', 'T'}) {
        if ((mask & refract::BaseMaskOf(base)) != 0) {
          out.push_back(base);
          break;
        }
      }
    }
  }
  return out;
}

std::string MakeVcf(int samples) {
  std::mt19937 random(20261122);
  std::string text =
      "##fileformat=VCFv4.2\n##FILTER=<ID=PASS,Description=\"All filters passed\">\n"
      "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
      "##contig=<ID=chr10,length=133797422>\n##contig=<ID=chr19,length=58617616>\n##contig=<ID=chr22,length=50818468>\n"
      "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT";
  for (int sample = 0; sample < samples; ++sample) text += "\tS" + std::to_string(sample);
  text += "\n";
  for (const char* gene : {"CYP2C19", "CYP2B6"}) {
    const refract::PgxDefinition& definition = *Pgx().FindDefinition(gene);
    const auto& frequencies = Frequencies().at(gene);
    std::vector<double> weights;
    std::vector<std::vector<char>> haplotypes;
    for (const auto& [name, weight] : frequencies) {
      weights.push_back(weight);
      haplotypes.push_back(Haplotype(definition, name));
    }
    std::discrete_distribution<std::size_t> draw(weights.begin(), weights.end());
    std::vector<std::pair<std::size_t, std::size_t>> diplotypes;
    for (int sample = 0; sample < samples; ++sample) diplotypes.emplace_back(draw(random), draw(random));
    for (std::size_t position_idx = 0; position_idx < definition.positions.size(); ++position_idx) {
      const auto& position = definition.positions[position_idx];
      std::string alts;
      for (const char alt : position.alts) alts += std::string(alts.empty() ? "" : ",") + alt;
      text += definition.chromosome + "\t" + std::to_string(position.position) + "\t.\t" + position.ref + "\t" + alts + "\t.\tPASS\t.\tGT";
      auto index_of = [&](char base) {
        if (base == position.ref) return 0;
        return static_cast<int>(position.alts.find(base)) + 1;
      };
      for (const auto& [first, second] : diplotypes) {
        text += "\t" + std::to_string(index_of(haplotypes[first][position_idx])) + "/" + std::to_string(index_of(haplotypes[second][position_idx]));
      }
      text += "\n";
    }
  }
  // CYP2D6 region records: parsed, then skipped (CYP2D6 is an outside call).
  std::uniform_int_distribution<int> genotype(0, 2);
  for (int record = 0; record < 156; ++record) {
    text += "chr22\t" + std::to_string(42126000 + record * 37) + "\t.\tC\tT\t.\tPASS\t.\tGT";
    for (int sample = 0; sample < samples; ++sample) {
      const int value = genotype(random);
      text += value == 0 ? "\t0/0" : value == 1 ? "\t0/1" : "\t1/1";
    }
    text += "\n";
  }
  return text;
}

// The synthetic files, written once per size to the temporary directory and removed at exit.
struct SyntheticFiles {
  std::map<int, std::filesystem::path> plain;
  std::map<int, std::filesystem::path> bgzip;
  ~SyntheticFiles() {
    for (const auto& [samples, path] : plain) std::filesystem::remove(path);
    for (const auto& [samples, path] : bgzip) std::filesystem::remove(path);
  }
};

SyntheticFiles& Files() {
  static SyntheticFiles files;
  return files;
}

const std::filesystem::path& FileFor(int samples, bool compressed) {
  auto& cache = compressed ? Files().bgzip : Files().plain;
  const auto found = cache.find(samples);
  if (found != cache.end()) return found->second;
  const std::string text = MakeVcf(samples);
  const auto path = std::filesystem::temp_directory_path() /
                    ("refract-pgx-bench-" + std::to_string(::getpid()) + "-" + std::to_string(samples) + (compressed ? ".vcf.gz" : ".vcf"));
  if (compressed) {
    BGZF* file = bgzf_open(path.c_str(), "w");
    if (file == nullptr || bgzf_write(file, text.data(), text.size()) < 0 || bgzf_close(file) != 0) std::exit(1);
  } else {
    std::ofstream(path) << text;
  }
  return cache.emplace(samples, path).first->second;
}

void Report(benchmark::State& state, int samples) {
  state.SetItemsProcessed(state.iterations() * samples);
  state.counters["samples_per_s"] = benchmark::Counter(static_cast<double>(samples), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["file_MB"] = static_cast<double>(std::filesystem::file_size(FileFor(samples, false))) / 1e6;
}

void Check(const refract::vcf::VcfCallReport& report, int samples) {
  if (report.samples.size() != static_cast<std::size_t>(samples) || report.records_used != 81) {
    std::fprintf(stderr, "unexpected report: %zu samples, %llu records used\n", report.samples.size(),
                 static_cast<unsigned long long>(report.records_used));
    std::exit(1);
  }
}

void BM_VcfEndToEnd(benchmark::State& state) {
  const int samples = static_cast<int>(state.range(0));
  const auto& path = FileFor(samples, false);
  for (auto _ : state) {
    auto report = refract::vcf::CallVcf(Pgx(), path, {});
    if (!report) state.SkipWithError(report.error().message.c_str());
    benchmark::DoNotOptimize(report);
    if (report) Check(*report, samples);
  }
  Report(state, samples);
}

void BM_VcfEndToEndBgzip(benchmark::State& state) {
  const int samples = static_cast<int>(state.range(0));
  const auto& path = FileFor(samples, true);
  for (auto _ : state) {
    auto report = refract::vcf::CallVcf(Pgx(), path, {});
    if (!report) state.SkipWithError(report.error().message.c_str());
    benchmark::DoNotOptimize(report);
  }
  Report(state, samples);
}

void BM_VcfRead(benchmark::State& state) {
  const int samples = static_cast<int>(state.range(0));
  const auto& path = FileFor(samples, false);
  for (auto _ : state) {
    auto genotypes = refract::vcf::ReadVcfGenotypes(Pgx(), path, {});
    if (!genotypes) state.SkipWithError(genotypes.error().message.c_str());
    benchmark::DoNotOptimize(genotypes);
  }
  Report(state, samples);
}

void BM_CallSamples(benchmark::State& state) {
  const int samples = static_cast<int>(state.range(0));
  auto genotypes = refract::vcf::ReadVcfGenotypes(Pgx(), FileFor(samples, false), {});
  if (!genotypes) {
    state.SkipWithError(genotypes.error().message.c_str());
    return;
  }
  for (auto _ : state) {
    auto report = refract::vcf::CallSamples(Pgx(), *genotypes);
    benchmark::DoNotOptimize(report);
  }
  Report(state, samples);
}

BENCHMARK(BM_VcfEndToEnd)->Arg(1000)->Arg(5000)->Arg(20000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_VcfEndToEndBgzip)->Arg(5000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_VcfRead)->Arg(5000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_CallSamples)->Arg(5000)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
