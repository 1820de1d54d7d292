// SPDX-License-Identifier: Apache-2.0
// Runs every pharmacogenomic golden case under tests/pgx: genotype, phenoconversion, history and
// VCF cases. Each case asserts its own facts (`expect`, JSON pointers whose segments may select an
// array element by a field, e.g. /drugs/[drug_name=citalopram]/cpic/0/strength) and is compared
// with its golden output (.out.json, .out.txt or .out.tsv). REFRACT_UPDATE_GOLDEN=1 rewrites goldens.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <htslib/bgzf.h>

#include "refract/app/app.h"
#include "refract/core/interactions.h"
#include "refract/core/pgx.h"
#include "refract/core/report.h"
#include "refract/vcf/pgx_vcf.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kSource = REFRACT_SOURCE_DIR;
const fs::path kCases = kSource / "tests" / "pgx";

const refract::KnowledgeBase& Kb() {
  static const refract::KnowledgeBase kb = [] {
    auto files = refract::app::ReadKbDirectory(kSource / "kb");
    auto loaded = refract::LoadKnowledgeBase(*files, "kb");
    if (!loaded) {
      std::fprintf(stderr, "kb/ does not load: %s\n", loaded.error().message.c_str());
      std::abort();
    }
    return std::move(*loaded);
  }();
  return kb;
}

const refract::PgxKnowledge& Pgx() {
  static const refract::PgxKnowledge knowledge = [] {
    auto loaded = refract::LoadPgxKnowledge(Kb());
    if (!loaded) std::abort();
    return std::move(*loaded);
  }();
  return knowledge;
}

std::vector<std::string> CaseFiles() {
  std::vector<std::string> out;
  if (!fs::exists(kCases)) return out;
  for (const auto& entry : fs::recursive_directory_iterator(kCases)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > 8 && name.substr(name.size() - 8) == ".in.json") out.push_back(fs::relative(entry.path(), kCases).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadText(const fs::path& path) {
  std::ifstream stream(path);
  std::ostringstream buffer;
  buffer << stream.rdbuf();
  return buffer.str();
}

void ReplaceAll(std::string& text, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
}

// Versions, digests and temporary paths change; goldens hold placeholders.
std::string Normalise(std::string text, const std::vector<std::pair<std::string, std::string>>& paths) {
  for (const auto& [from, to] : paths) ReplaceAll(text, from, to);
  ReplaceAll(text, refract::app::Engine().version, "<engine>");
  ReplaceAll(text, Kb().digest(), "<kb-digest>");
  ReplaceAll(text, "KB " + Kb().version(), "KB <kb>");
  ReplaceAll(text, "\"kb_version\": \"" + Kb().version() + "\"", "\"kb_version\": \"<kb>\"");
  return text;
}

refract::GenotypeEntry Genotype(const json& entry, int index) {
  refract::GenotypeEntry out;
  out.input_index = index;
  out.gene = entry.value("gene", "");
  out.diplotype = entry.value("diplotype", "");
  out.phenotype = entry.value("phenotype", "");
  if (entry.contains("activity_score")) out.activity_score = entry["activity_score"].get<double>();
  return out;
}

refract::Result<std::vector<refract::PhenoconversionInput>> Inhibitors(const json& input) {
  std::vector<refract::PhenoconversionInput> out;
  for (const auto& entry : input.value("inhibitors", json::array())) {
    auto drug = Kb().ResolveDrug(entry.at("drug").get<std::string>());
    if (!drug) return tl::unexpected<refract::Error>(drug.error());
    const auto strength = refract::ParseInhibitorStrength(entry.at("strength").get<std::string>());
    out.push_back(refract::PhenoconversionInput{(*drug)->id, entry.at("enzyme").get<std::string>(), *strength, {}});
  }
  if (input.contains("with")) {
    std::vector<std::string> ids;
    for (const auto& name : input["with"]) {
      auto drug = Kb().ResolveDrug(name.get<std::string>());
      if (!drug) return tl::unexpected<refract::Error>(drug.error());
      ids.push_back((*drug)->id);
    }
    auto interactions = refract::LoadInteractionKnowledge(Kb());
    if (!interactions) return tl::unexpected<refract::Error>(interactions.error());
    for (const auto& inhibition : refract::InhibitionsBy(*interactions, ids)) {
      const auto strength = inhibition.strength == refract::PerpetratorStrength::Strong     ? refract::InhibitorStrength::Strong
                            : inhibition.strength == refract::PerpetratorStrength::Moderate ? refract::InhibitorStrength::Moderate
                                                                                            : refract::InhibitorStrength::Weak;
      out.push_back(refract::PhenoconversionInput{inhibition.drug_id, inhibition.enzyme, strength, inhibition.sources});
    }
  }
  return out;
}

struct CaseOutput {
  json document;     ///< JSON form (always produced, for `expect`).
  std::string text;  ///< The rendering compared with the golden.
  std::string extension;
};

CaseOutput ErrorOutput(const refract::Error& error) {
  json document = refract::ErrorToJson(error);
  return CaseOutput{document, document.dump(2) + "\n", "json"};
}

CaseOutput RunCase(const json& input, const fs::path& directory, std::vector<std::pair<std::string, std::string>>& paths) {
  const auto& engine = refract::app::Engine();
  const std::string format = input.value("format", "json");
  auto inhibitors = Inhibitors(input);
  if (!inhibitors) return ErrorOutput(inhibitors.error());

  if (input.contains("vcf")) {
    fs::path vcf = directory / input["vcf"].get<std::string>();
    fs::path temporary;
    paths.emplace_back(directory.string() + "/", "");
    if (input.value("bgzip", false)) {
      temporary = fs::temp_directory_path() / ("refract-case-" + input["vcf"].get<std::string>() + ".gz");
      const std::string content = ReadText(vcf);
      BGZF* file = bgzf_open(temporary.c_str(), "w");
      if (file == nullptr || bgzf_write(file, content.data(), content.size()) < 0 || bgzf_close(file) != 0) ADD_FAILURE() << "bgzip failed";
      paths.emplace_back(temporary.string(), input["vcf"].get<std::string>() + ".gz");
      vcf = temporary;
    }
    auto calls = refract::vcf::CallVcf(Pgx(), vcf, refract::vcf::VcfOptions{input.value("sample", "")});
    if (!temporary.empty()) fs::remove(temporary);
    if (!calls) return ErrorOutput(calls.error());
    json document = refract::vcf::VcfCallsToJson(*calls, Pgx(), Kb(), engine);
    std::string text = refract::vcf::VcfCallsToText(*calls, Pgx(), Kb(), engine);
    if (calls->samples.size() == 1) {
      std::vector<refract::GeneResult> genes;
      for (const auto& call : calls->samples.front().calls) genes.push_back(refract::GeneResultFromCall(Pgx(), call));
      const auto outside = input.value("outside", json::array());
      for (std::size_t index = 0; index < outside.size(); ++index) {
        auto result = refract::InterpretGenotype(Pgx(), Genotype(outside[index], static_cast<int>(index)), "outside");
        if (!result) return ErrorOutput(result.error());
        genes.insert(genes.begin(), std::move(*result));
      }
      const refract::PgxReport report = refract::AssessGeneResults(Pgx(), Kb(), std::move(genes), *inhibitors, {});
      document["report"] = refract::PgxToJson(report, Kb(), engine);
      text += "\n" + refract::PgxToText(report, Kb(), engine);
    }
    if (format == "text") return CaseOutput{document, text, "txt"};
    if (format == "tsv") return CaseOutput{document, refract::vcf::VcfCallsToTsv(*calls), "tsv"};
    return CaseOutput{document, document.dump(2) + "\n", "json"};
  }

  std::vector<refract::GenotypeEntry> genotypes;
  std::vector<refract::TrialAssessment> trials;
  if (input.contains("patient")) {
    auto patient = refract::app::Parser().Parse(Kb(), input["patient"], "patient");
    if (!patient) return ErrorOutput(patient.error());
    refract::EvaluateOptions options;
    options.as_of = *refract::ParseDate(input.at("as_of").get<std::string>());
    auto assessment = refract::Evaluate(Kb(), *patient, options);
    if (!assessment) return ErrorOutput(assessment.error());
    trials = assessment->trials;
    genotypes = patient->genotypes;
  }
  const auto entries = input.value("genotypes", json::array());
  for (std::size_t index = 0; index < entries.size(); ++index) genotypes.push_back(Genotype(entries[index], static_cast<int>(index)));
  auto report = refract::AssessPgx(Pgx(), Kb(), genotypes, *inhibitors, trials);
  if (!report) return ErrorOutput(report.error());
  json document = refract::PgxToJson(*report, Kb(), engine);
  if (format == "text") return CaseOutput{document, refract::PgxToText(*report, Kb(), engine), "txt"};
  if (format == "tsv") return CaseOutput{document, refract::PgxToTsv(*report), "tsv"};
  return CaseOutput{document, document.dump(2) + "\n", "json"};
}

// Resolves "/drugs/[drug_name=citalopram]/cpic/0/strength" in a document.
const json* Resolve(const json& document, const std::string& pointer) {
  const json* node = &document;
  std::stringstream segments(pointer.substr(1));
  std::string segment;
  while (std::getline(segments, segment, '/')) {
    if (segment.size() > 2 && segment.front() == '[' && segment.back() == ']') {
      const std::size_t equals = segment.find('=');
      const std::string key = segment.substr(1, equals - 1);
      const std::string value = segment.substr(equals + 1, segment.size() - equals - 2);
      if (!node->is_array()) return nullptr;
      const json* found = nullptr;
      for (const json& item : *node) {
        if (item.is_object() && item.contains(key) && item[key].is_string() && item[key] == value) found = &item;
      }
      if (found == nullptr) return nullptr;
      node = found;
      continue;
    }
    if (node->is_array()) {
      const std::size_t index = std::stoul(segment);
      if (index >= node->size()) return nullptr;
      node = &(*node)[index];
    } else if (node->is_object() && node->contains(segment)) {
      node = &(*node)[segment];
    } else {
      return nullptr;
    }
  }
  return node;
}

class PgxCase : public testing::TestWithParam<std::string> {};

TEST_P(PgxCase, MatchesGoldenAndExpectations) {
  const fs::path in_path = kCases / GetParam();
  const json input = json::parse(ReadText(in_path));
  ASSERT_TRUE(input.contains("description")) << "every case says what it proves";
  std::vector<std::pair<std::string, std::string>> paths;
  const CaseOutput output = RunCase(input, in_path.parent_path(), paths);
  const json document = json::parse(Normalise(output.document.dump(), paths));

  if (input.contains("expect_error")) {
    ASSERT_TRUE(document.contains("error")) << "expected an error, got " << document.dump(2).substr(0, 400);
    for (const auto& [key, value] : input["expect_error"].items()) EXPECT_EQ(document["error"][key], value) << "error " << key;
  } else {
    ASSERT_FALSE(document.contains("error")) << document.dump(2);
    ASSERT_TRUE(input.contains("expect")) << "every case asserts its own facts";
    for (const auto& [pointer, value] : input["expect"].items()) {
      const json* found = Resolve(document, pointer);
      ASSERT_NE(found, nullptr) << "output has no " << pointer;
      EXPECT_EQ(*found, value) << "at " << pointer;
    }
  }

  const std::string stem = in_path.filename().string().substr(0, in_path.filename().string().size() - 8);
  const fs::path out_path = in_path.parent_path() / (stem + ".out." + output.extension);
  const std::string rendered = Normalise(output.text, paths);
  const char* update = std::getenv("REFRACT_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(out_path) << rendered;
    return;
  }
  ASSERT_TRUE(fs::exists(out_path)) << out_path << " is missing: run REFRACT_UPDATE_GOLDEN=1 ctest -R PgxCase and review the diff";
  const std::string golden = ReadText(out_path);
  if (golden == rendered) return;
  std::istringstream golden_lines(golden);
  std::istringstream rendered_lines(rendered);
  std::string golden_line;
  std::string rendered_line;
  int line = 0;
  while (true) {
    ++line;
    const bool more_golden = static_cast<bool>(std::getline(golden_lines, golden_line));
    const bool more_rendered = static_cast<bool>(std::getline(rendered_lines, rendered_line));
    if (!more_golden && !more_rendered) break;
    if (golden_line != rendered_line || more_golden != more_rendered) break;
  }
  ADD_FAILURE() << "golden differs: " << out_path.string() << " line " << line << "\n  golden: " << golden_line << "\n  now:    " << rendered_line
                << "\n(REFRACT_UPDATE_GOLDEN=1 ctest -R PgxCase rewrites goldens; review the diff)";
}

std::string CaseName(const testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (const char character : info.param.substr(0, info.param.size() - 8)) {
    name.push_back(std::isalnum(static_cast<unsigned char>(character)) != 0 ? character : '_');
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Pgx, PgxCase, testing::ValuesIn(CaseFiles()), CaseName);

}  // namespace
