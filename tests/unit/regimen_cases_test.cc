// SPDX-License-Identifier: Apache-2.0
// Golden regimens (tests/regimens/*.json): each names a regimen or patient, an optional drug to add,
// and the findings the real KB must give (rule, severity, drugs, and optionally timing, code and
// earliest start). "exact" cases allow no other finding; "expect_absent" lists false-positive traps.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "refract/app/app.h"
#include "refract/core/interactions.h"

namespace refract {
namespace {

struct Loaded {
  KnowledgeBase kb;
  InteractionKnowledge knowledge;
};

const Loaded& Built() {
  static const Loaded* loaded = [] {
    auto kb = app::LoadKb(std::nullopt);
    if (!kb) {
      std::fprintf(stderr, "built-in KB does not load: %s\n", kb.error().message.c_str());
      std::abort();
    }
    auto* out = new Loaded{std::move(*kb), {}};
    auto knowledge = LoadInteractionKnowledge(out->kb);
    if (!knowledge) {
      std::fprintf(stderr, "interaction knowledge does not load: %s: %s\n", knowledge.error().location.c_str(), knowledge.error().message.c_str());
      std::abort();
    }
    out->knowledge = std::move(*knowledge);
    return out;
  }();
  return *loaded;
}

std::vector<std::filesystem::path> CaseFiles() {
  std::vector<std::filesystem::path> out;
  const std::filesystem::path dir = std::filesystem::path(REFRACT_SOURCE_DIR) / "tests" / "regimens";
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> DrugIds(const InteractionFinding& finding) {
  std::vector<std::string> ids;
  for (const InvolvedDrug& drug : finding.drugs) ids.push_back(drug.drug_id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

bool Matches(const nlohmann::json& want, const InteractionFinding& finding) {
  if (want.contains("rule") && want["rule"] != finding.rule) return false;
  if (want.contains("severity") && want["severity"] != InteractionSeverityName(finding.severity)) return false;
  if (want.contains("category") && want["category"] != finding.category) return false;
  if (want.contains("timing") && want["timing"] != InteractionTimingName(finding.timing)) return false;
  if (want.contains("code") && want["code"] != finding.code) return false;
  if (want.contains("earliest_start") && (!finding.earliest_start || want["earliest_start"] != FormatDate(*finding.earliest_start))) return false;
  if (want.contains("drugs")) {
    auto ids = want["drugs"].get<std::vector<std::string>>();
    std::sort(ids.begin(), ids.end());
    if (ids != DrugIds(finding)) return false;
  }
  return true;
}

std::string Describe(const InteractionReport& report) {
  std::ostringstream out;
  for (const InteractionFinding& finding : report.findings) {
    out << "  " << finding.rule << " " << InteractionSeverityName(finding.severity) << " " << InteractionTimingName(finding.timing) << " [";
    for (const std::string& id : DrugIds(finding)) out << id << " ";
    out << "] " << finding.message << "\n";
  }
  return out.str();
}

class RegimenCase : public ::testing::TestWithParam<std::filesystem::path> {};

nlohmann::json ReadCase(const std::filesystem::path& path) {
  std::ifstream stream(path);
  return nlohmann::json::parse(stream, nullptr, false);
}

// The regimen of a case: the patient's, then listed drugs, then the proposed addition.
Regimen CaseRegimen(const Loaded& loaded, const nlohmann::json& doc, Date as_of) {
  Regimen regimen;
  if (doc.contains("patient")) {
    auto patient = app::Parser().Parse(loaded.kb, doc["patient"], "patient");
    EXPECT_TRUE(patient) << (patient ? "" : patient.error().location + ": " + patient.error().message);
    if (patient) regimen = RegimenFromPatient(loaded.kb, *patient, as_of);
  }
  if (doc.contains("drugs")) {
    const auto names = doc["drugs"].get<std::vector<std::string>>();
    Regimen listed = RegimenFromNames(loaded.kb, names);
    regimen.entries.insert(regimen.entries.end(), listed.entries.begin(), listed.entries.end());
  }
  if (doc.contains("adding")) {
    auto drug = loaded.kb.ResolveDrug(doc["adding"].get<std::string>());
    EXPECT_TRUE(drug) << (drug ? "" : drug.error().message);
    std::optional<double> dose;
    if (doc.contains("adding_dose_mg_per_day")) dose = doc["adding_dose_mg_per_day"].get<double>();
    if (drug) AddProposed(regimen, **drug, doc["adding"].get<std::string>(), dose);
  }
  return regimen;
}

TEST_P(RegimenCase, GivesExpectedFindings) {
  const Loaded& loaded = Built();
  const auto doc = ReadCase(GetParam());
  ASSERT_FALSE(doc.is_discarded()) << GetParam();
  ASSERT_TRUE(doc.contains("description") && doc.contains("expect") && doc.contains("as_of")) << "a case needs description, as_of and expect";
  const auto as_of = ParseDate(doc["as_of"].get<std::string>());
  ASSERT_TRUE(as_of);
  const Regimen regimen = CaseRegimen(loaded, doc, *as_of);
  const InteractionReport report = CheckRegimen(loaded.knowledge, regimen, *as_of);
  const std::string got = Describe(report);
  for (const auto& want : doc["expect"]) {
    const bool found = std::any_of(report.findings.begin(), report.findings.end(), [&](const InteractionFinding& finding) { return Matches(want, finding); });
    EXPECT_TRUE(found) << "missing " << want.dump() << "\ngot:\n" << got;
  }
  if (doc.value("exact", false)) {
    EXPECT_EQ(report.findings.size(), doc["expect"].size()) << "got:\n" << got;
  }
  for (const auto& trap : doc.value("expect_absent", nlohmann::json::array())) {
    const bool found = std::any_of(report.findings.begin(), report.findings.end(), [&](const InteractionFinding& finding) { return Matches(trap, finding); });
    EXPECT_FALSE(found) << "false positive " << trap.dump() << "\ngot:\n" << got;
  }
  std::vector<std::string> unresolved;
  for (const UnresolvedDrug& drug : report.unresolved) unresolved.push_back(drug.input_name);
  EXPECT_EQ(unresolved, doc.value("unresolved", std::vector<std::string>{}));
  for (const InteractionFinding& finding : report.findings) {
    EXPECT_FALSE(finding.rule.empty());
    EXPECT_FALSE(finding.sources.empty()) << finding.rule << " names no source";
    EXPECT_FALSE(finding.action.empty()) << finding.rule << " says nothing to do";
    for (const std::string& source : finding.sources) EXPECT_NE(loaded.kb.FindSource(source), nullptr) << source;
  }
}

// Everything a finding says, for comparing two checks.
std::string Full(const InteractionFinding& finding) {
  nlohmann::json drugs = nlohmann::json::array();
  for (const InvolvedDrug& drug : finding.drugs) drugs.push_back({drug.drug_id, drug.input_name, drug.origin, drug.proposed});
  return nlohmann::json{{"rule", finding.rule},
                        {"code", finding.code},
                        {"severity", InteractionSeverityName(finding.severity)},
                        {"timing", InteractionTimingName(finding.timing)},
                        {"message", finding.message},
                        {"action", finding.action},
                        {"factors", finding.factors},
                        {"notes", finding.notes},
                        {"sources", finding.sources},
                        {"limit", finding.limit_mg_per_day ? *finding.limit_mg_per_day : -1.0},
                        {"earliest_start", finding.earliest_start ? FormatDate(*finding.earliest_start) : ""},
                        {"drugs", drugs}}
      .dump();
}

std::vector<std::string> Involving(const InteractionReport& report, bool dose_caps_only) {
  std::vector<std::string> out;
  for (const InteractionFinding& finding : report.findings) {
    const bool proposed = std::any_of(finding.drugs.begin(), finding.drugs.end(), [](const InvolvedDrug& drug) { return drug.proposed; });
    if (proposed && (!dose_caps_only || finding.code == "dose_cap")) out.push_back(Full(finding));
  }
  return out;
}

// The narrow checks (what-if of an addition, dose caps of an addition) give exactly the findings of
// the full check that name a proposed drug: for every case, with each of its drugs in turn proposed.
TEST_P(RegimenCase, NarrowScopesGiveTheFullChecksFindings) {
  const Loaded& loaded = Built();
  const auto doc = ReadCase(GetParam());
  ASSERT_FALSE(doc.is_discarded());
  const auto as_of = ParseDate(doc["as_of"].get<std::string>());
  ASSERT_TRUE(as_of);
  const Regimen regimen = CaseRegimen(loaded, doc, *as_of);
  for (std::size_t entry_idx = 0; entry_idx < regimen.entries.size(); ++entry_idx) {
    const RegimenEntry& entry = regimen.entries[entry_idx];
    if (entry.drug == nullptr) continue;
    Regimen variant = regimen;
    if (!entry.proposed) {
      variant.entries.erase(variant.entries.begin() + static_cast<std::ptrdiff_t>(entry_idx));
      AddProposed(variant, *entry.drug, entry.input_name, entry.mg_per_day ? entry.mg_per_day : std::optional<double>(400.0));
    }
    const InteractionReport full = CheckRegimen(loaded.knowledge, variant, *as_of);
    const InteractionReport proposed = CheckRegimen(loaded.knowledge, variant, *as_of, CheckScope::ProposedOnly);
    const InteractionReport caps = CheckRegimen(loaded.knowledge, variant, *as_of, CheckScope::ProposedDoseCaps);
    EXPECT_EQ(Involving(proposed, false), Involving(full, false)) << entry.input_name << " proposed";
    EXPECT_EQ(Involving(caps, true), Involving(full, true)) << entry.input_name << " proposed";
    EXPECT_EQ(caps.findings.size(), Involving(caps, true).size()) << "dose caps only";
  }
}

std::string CaseName(const ::testing::TestParamInfo<std::filesystem::path>& info) {
  std::string name = info.param.stem().string();
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Regimens, RegimenCase, ::testing::ValuesIn(CaseFiles()), CaseName);

TEST(RegimenCases, AtLeastFiftyWithTraps) {
  const auto files = CaseFiles();
  EXPECT_GE(files.size(), 50U);
  int traps = 0;
  for (const auto& path : files) {
    std::ifstream stream(path);
    const auto doc = nlohmann::json::parse(stream, nullptr, false);
    if (doc.value("expect_absent", nlohmann::json::array()).size() > 0 || (doc.value("exact", false) && doc["expect"].empty())) ++traps;
  }
  EXPECT_GE(traps, 10);
}

}  // namespace
}  // namespace refract
