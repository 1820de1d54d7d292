// SPDX-License-Identifier: Apache-2.0
/// Shared helpers of the FHIR and CDS Hooks tests: the built-in KB and its FHIR knowledge, the record
/// check used on import, JSON files and goldens (REFRACT_UPDATE_GOLDEN=1 rewrites them).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "refract/app/app.h"
#include "refract/fhir/import.h"
#include "refract/fhir/knowledge.h"

namespace refract::fhir_testing {

inline const std::filesystem::path& SourceDir() {
  static const std::filesystem::path dir = REFRACT_SOURCE_DIR;
  return dir;
}

/// The built-in KB (the FHIR code maps are KB data, so these tests use the real one).
inline const KnowledgeBase& Kb() {
  static const KnowledgeBase kb = [] {
    auto loaded = app::LoadKb(std::nullopt);
    if (!loaded) {
      std::fprintf(stderr, "built-in KB does not load: %s\n", loaded.error().message.c_str());
      std::abort();
    }
    return std::move(*loaded);
  }();
  return kb;
}

inline const fhir::FhirKnowledge& Fhir() {
  static const fhir::FhirKnowledge knowledge = [] {
    auto loaded = fhir::LoadFhirKnowledge(Kb());
    if (!loaded) {
      std::fprintf(stderr, "FHIR knowledge does not load: %s: %s\n", loaded.error().location.c_str(), loaded.error().message.c_str());
      std::abort();
    }
    return std::move(*loaded);
  }();
  return knowledge;
}

inline nlohmann::json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str());
}

/// Import options with the app's record check, as the command line uses them.
inline fhir::ImportOptions Options(const std::string& label, const std::string& patient_id = {}) {
  fhir::ImportOptions options;
  options.label = label;
  options.patient_id = patient_id;
  options.check = [label](const nlohmann::json& record) -> std::optional<Error> {
    auto parsed = app::Parser().Parse(Kb(), record, label);
    if (parsed) return std::nullopt;
    return parsed.error();
  };
  return options;
}

/// Compares with a golden JSON file under tests/fhir/expected/, or rewrites it when REFRACT_UPDATE_GOLDEN=1.
inline void ExpectGolden(const nlohmann::json& actual, const std::string& name) {
  const std::filesystem::path path = SourceDir() / "tests" / "fhir" / "expected" / name;
  const char* update = std::getenv("REFRACT_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << actual.dump(2) << "\n";
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(path)) << "missing golden " << path << " (run with REFRACT_UPDATE_GOLDEN=1)";
  const nlohmann::json expected = ReadJson(path);
  EXPECT_EQ(actual, expected) << "golden " << name << " differs; diff:\n" << nlohmann::json::diff(expected, actual).dump(2);
}

/// A bundle of one patient "p1" and the given resources (each gets subject Patient/p1).
inline nlohmann::json BundleOf(std::initializer_list<nlohmann::json> resources) {
  nlohmann::json entries = nlohmann::json::array({{{"resource", {{"resourceType", "Patient"}, {"id", "p1"}, {"gender", "female"}, {"birthDate", "1970-01-01"}}}}});
  for (nlohmann::json resource : resources) {
    if (resource.value("resourceType", "") == "AllergyIntolerance") {
      resource["patient"] = {{"reference", "Patient/p1"}};
    } else {
      resource["subject"] = {{"reference", "Patient/p1"}};
    }
    entries.push_back({{"resource", resource}});
  }
  return {{"resourceType", "Bundle"}, {"type", "collection"}, {"entry", entries}};
}

/// Every issue message of a report, "entry N: level: message", for compact assertions.
inline std::vector<std::string> Messages(const fhir::ImportReport& report) {
  std::vector<std::string> out;
  for (const fhir::ResourceResult& result : report.resources) {
    for (const fhir::ImportIssue& issue : result.issues) {
      out.push_back("entry " + std::to_string(result.entry) + ": " + std::string(fhir::IssueLevelName(issue.level)) + ": " + issue.message);
    }
  }
  return out;
}

}  // namespace refract::fhir_testing
