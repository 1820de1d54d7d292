// SPDX-License-Identifier: Apache-2.0
// Observations and QuestionnaireResponses -> scales, labs, vitals and genotypes; procedure courses.
#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "fhir_json.h"
#include "import_internal.h"
#include "refract/core/pgx.h"
#include "refract/core/text.h"

namespace refract::fhir {
namespace {

constexpr std::string_view kOrdinalValue = "http://hl7.org/fhir/StructureDefinition/ordinalValue";
constexpr std::string_view kItemWeight = "http://hl7.org/fhir/StructureDefinition/itemWeight";

// A number from valueQuantity, valueInteger, valueDecimal or a numeric valueString ("12").
std::optional<double> NumericValue(const nlohmann::json& holder, std::string* seen) {
  if (const nlohmann::json* quantity = Find(holder, "valueQuantity")) return OptNumber(*quantity, "value");
  for (const char* key : {"valueInteger", "valueDecimal"}) {
    if (const auto value = OptNumber(holder, key)) return value;
  }
  const std::string text = Str(holder, "valueString");
  if (text.empty()) return std::nullopt;
  if (seen != nullptr) *seen = text;
  std::size_t used = 0;
  try {
    const double value = std::stod(text, &used);
    while (used < text.size() && std::isspace(static_cast<unsigned char>(text[used])) != 0) ++used;
    if (used == text.size()) return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
  return std::nullopt;
}

bool IsWholeNumber(double value) { return value == static_cast<double>(static_cast<long long>(value)); }

std::string StripSlash(std::string text) {
  if (!text.empty() && text.front() == '/') text.erase(0, 1);
  return text;
}

}  // namespace

ScaleDraft& Importer::Draft(const std::string& scale_id, Date date) {
  auto [it, inserted] = drafts_.try_emplace({scale_id, static_cast<long>(date.days.time_since_epoch().count())});
  if (inserted) {
    it->second.scale_id = scale_id;
    it->second.date = date;
  }
  return it->second;
}

std::optional<int> Importer::ItemValue(std::size_t resource, const FhirScale& scale, std::size_t item_idx, const nlohmann::json& holder,
                                       std::string_view path) {
  const ScaleItem& item = scale.definition.items[item_idx];
  const nlohmann::json* coding = Find(holder, "valueCoding");
  if (const nlohmann::json* codeable = Find(holder, "valueCodeableConcept"); coding == nullptr && codeable != nullptr && !Codings(*codeable).empty()) {
    coding = Codings(*codeable).front();
  }
  if (coding != nullptr) {
    for (const nlohmann::json* holder_of_weight : {coding, &holder}) {
      for (std::string_view url : {kOrdinalValue, kItemWeight}) {
        if (const nlohmann::json* weight = FindExtension(*holder_of_weight, url)) {
          if (const auto value = OptNumber(*weight, "valueDecimal"); value && IsWholeNumber(*value)) return static_cast<int>(*value);
        }
      }
    }
    if (auto score = knowledge.AnswerScore(scale.definition.id, item.label, Str(*coding, "system"), Str(*coding, "code"))) return score;
    Issue(resource, item.scored ? IssueLevel::Error : IssueLevel::Warning, "unknown_code",
          fmt::format("answer {}|{} to item {} of {} has no ordinalValue and is in no KB answer list: item left unanswered", Str(*coding, "system"),
                      Str(*coding, "code"), item.label, scale.definition.short_name),
          Where(resource, path));
    return std::nullopt;
  }
  std::string text;
  const auto number = NumericValue(holder, &text);
  if (!number || !IsWholeNumber(*number)) {
    Issue(resource, IssueLevel::Error, "invalid",
          fmt::format("item {} of {} has no whole-number answer{}", item.label, scale.definition.short_name, text.empty() ? "" : fmt::format(" (\"{}\")", text)),
          Where(resource, path));
    return std::nullopt;
  }
  return static_cast<int>(*number);
}

void Importer::ReadScaleObservation(std::size_t resource, const nlohmann::json& observation, const FhirScale& scale, std::optional<std::size_t> item) {
  std::optional<FhirDate> date;
  for (const char* key : {"effectiveDateTime", "effectiveInstant", "issued"}) {
    if (const nlohmann::json* value = Find(observation, key)) {
      date = ReadDate(resource, *value, std::string("/") + key);
      break;
    }
  }
  if (!date) {
    if (const nlohmann::json* period = Find(observation, "effectivePeriod"); period != nullptr && Find(*period, "start") != nullptr) {
      date = ReadDate(resource, *Find(*period, "start"), "/effectivePeriod/start");
    }
  }
  if (!date) {
    report_.resources[resource].outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "no_date", fmt::format("{} result has no effective date", scale.definition.short_name), Where(resource, "/effectiveDateTime"));
    return;
  }
  ScaleDraft& draft = Draft(scale.definition.id, date->date);
  if (const auto* name = FindExtension(observation, ExtensionUrl(kExtScaleName))) draft.name = Str(*name, "valueString");
  for (const auto& performer : Array(observation, "performer")) {
    const std::string type = ReferencedType(resource, performer);
    if (type == "Patient") draft.rater = "self";
    if (type == "Practitioner" || type == "PractitionerRole" || Str(performer, "display") == "clinician") draft.rater = "clinician";
  }
  bool used = false;
  const auto take_total = [&](const nlohmann::json& holder, std::string_view path) {
    std::string text;
    const auto total = NumericValue(holder, &text);
    if (!total) {
      Issue(resource, IssueLevel::Error, "invalid", fmt::format("{} total is not a number{}", scale.definition.short_name, text.empty() ? "" : fmt::format(" (\"{}\")", text)),
            Where(resource, path));
      return;
    }
    draft.totals_seen.emplace_back(resource, *total);
    if (!draft.total) draft.total = total;
    used = true;
  };
  if (item) {
    if (const auto value = ItemValue(resource, scale, *item, observation, "")) {
      draft.items[*item] = *value;
      used = true;
    }
  } else if (Find(observation, "valueQuantity") != nullptr || Find(observation, "valueInteger") != nullptr || Find(observation, "valueString") != nullptr ||
             Find(observation, "valueDecimal") != nullptr) {
    take_total(observation, "");
  }
  const nlohmann::json& components = Array(observation, "component");
  for (std::size_t component_idx = 0; component_idx < components.size(); ++component_idx) {
    const nlohmann::json& component = components[component_idx];
    const nlohmann::json* code = Find(component, "code");
    if (code == nullptr) continue;
    const std::string path = fmt::format("/component/{}", component_idx);
    if (const nlohmann::json* loinc = CodingWithSystem(*code, kLoinc)) {
      const std::string value = Str(*loinc, "code");
      if (value == scale.definition.loinc_total) {
        take_total(component, path);
        continue;
      }
      if (const auto found = scale.item_by_loinc.find(value); found != scale.item_by_loinc.end()) {
        if (const auto score = ItemValue(resource, scale, found->second, component, path)) {
          draft.items[found->second] = *score;
          used = true;
        }
        continue;
      }
    }
    Issue(resource, IssueLevel::Warning, "unknown_code", fmt::format("component {} is not an item of {}: skipped", ConceptText(*code), scale.definition.short_name),
          Where(resource, path));
  }
  if (used) {
    draft.resources.insert(resource);
  } else if (Array(observation, "hasMember").empty()) {
    report_.resources[resource].outcome = ResourceOutcome::NotImported;
  } else {
    // A panel whose items are separate Observations: they are read on their own.
    draft.resources.insert(resource);
  }
}

void Importer::ReadObservation(std::size_t resource) {
  const nlohmann::json& observation = *resources_[resource].resource;
  ResourceResult& result = report_.resources[resource];
  const std::string status = Str(observation, "status");
  if (status == "cancelled" || status == "entered-in-error" || status == "registered") {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Info, "status", fmt::format("status {}: no result", status), Where(resource, "/status"));
    return;
  }
  const nlohmann::json* code = Find(observation, "code");
  if (code == nullptr) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "no_code", "Observation has no code", Where(resource, "/code"));
    return;
  }
  // refract's own codes first (scores, labs and genotypes it exported), then LOINC through the KB.
  if (const nlohmann::json* coding = CodingWithSystem(*code, CodeSystemUrl(kCsScale))) {
    if (const FhirScale* scale = knowledge.FindScale(Str(*coding, "code"))) return ReadScaleObservation(resource, observation, *scale, std::nullopt);
  }
  if (CodingWithSystem(*code, CodeSystemUrl(kCsGenotype)) != nullptr) return ReadGenotype(resource, observation);
  if (const nlohmann::json* coding = CodingWithSystem(*code, CodeSystemUrl(kCsLab))) {
    RecordTarget target{"", "", "Observation", "labs", Str(*coding, "code"), "", ""};
    return ReadLab(resource, observation, &target);
  }
  if (const nlohmann::json* coding = CodingWithSystem(*code, CodeSystemUrl(kCsVital))) {
    RecordTarget target{"", "", "Observation", "vitals", Str(*coding, "code"), "", ""};
    return ReadVital(resource, observation, target);
  }
  for (const nlohmann::json* coding : Codings(*code)) {
    if (Str(*coding, "system") != kLoinc) continue;
    const std::string loinc = Str(*coding, "code");
    if (const FhirScale* scale = knowledge.ScaleByTotal(loinc)) return ReadScaleObservation(resource, observation, *scale, std::nullopt);
    if (const FhirScale* scale = knowledge.ScaleByPanel(loinc)) return ReadScaleObservation(resource, observation, *scale, std::nullopt);
    if (const auto item = knowledge.ScaleItemByLoinc(loinc)) return ReadScaleObservation(resource, observation, *item->first, item->second);
    const auto& conventions = knowledge.conventions();
    if (std::find(conventions.genotype_codes.begin(), conventions.genotype_codes.end(), loinc) != conventions.genotype_codes.end() ||
        std::find(conventions.phenotype_codes.begin(), conventions.phenotype_codes.end(), loinc) != conventions.phenotype_codes.end()) {
      return ReadGenotype(resource, observation);
    }
    if (const RecordTarget* target = knowledge.FindCode("Observation", kLoinc, loinc)) {
      if (target->list == "labs") return ReadLab(resource, observation, target);
      if (target->list == "vitals") return ReadVital(resource, observation, *target);
    }
  }
  // Genomics Reporting results coded otherwise (therapeutic implication) still name the gene studied.
  for (const auto& component : Array(observation, "component")) {
    const nlohmann::json* component_code = Find(component, "code");
    if (component_code != nullptr && HasCoding(*component_code, kLoinc, knowledge.conventions().gene_studied_code)) return ReadGenotype(resource, observation);
  }
  bool laboratory = false;
  for (const auto& category : Array(observation, "category")) {
    if (HasCoding(category, "http://terminology.hl7.org/CodeSystem/observation-category", "laboratory")) laboratory = true;
  }
  if (laboratory && !ConceptText(*code).empty()) return ReadLab(resource, observation, nullptr);
  result.outcome = ResourceOutcome::NotImported;
  std::vector<std::string> codes;
  for (const nlohmann::json* coding : Codings(*code)) codes.push_back(Str(*coding, "system") + "|" + Str(*coding, "code"));
  Issue(resource, IssueLevel::Error, "unknown_code",
        fmt::format("observation code {} is not a scale, lab, vital sign or genotype the KB maps{}", codes.empty() ? "(none)" : fmt::format("{}", fmt::join(codes, ", ")),
                    ConceptText(*code).empty() ? "" : fmt::format(" (\"{}\")", ConceptText(*code))),
        Where(resource, "/code"));
}

void Importer::ReadLab(std::size_t resource, const nlohmann::json& observation, const RecordTarget* target) {
  ResourceResult& result = report_.resources[resource];
  std::string text;
  const auto value = NumericValue(observation, &text);
  if (!value) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "not_numeric",
          text.empty() ? std::string("lab result has no numeric value") : fmt::format("lab result \"{}\" is not a number", text), Where(resource, "/valueQuantity"));
    return;
  }
  std::optional<FhirDate> date;
  if (const nlohmann::json* when = Find(observation, "effectiveDateTime")) date = ReadDate(resource, *when, "/effectiveDateTime");
  if (!date) {
    if (const nlohmann::json* issued = Find(observation, "issued")) date = ReadDate(resource, *issued, "/issued");
  }
  if (!date) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "no_date", "lab result has no effective date", Where(resource, "/effectiveDateTime"));
    return;
  }
  const nlohmann::json& code = *Find(observation, "code");
  const nlohmann::json* loinc = CodingWithSystem(code, kLoinc);
  nlohmann::json lab{{"value", JsonNumber(*value)}, {"date", FormatDate(date->date)}};
  if (target != nullptr) {
    lab["name"] = target->value;
  } else {
    lab["name"] = NormalizeName(ConceptText(code));
    Issue(resource, IssueLevel::Warning, "unknown_code",
          fmt::format("lab code {} is in no KB value set: kept as \"{}\" (rules read labs by their KB name)", loinc != nullptr ? Str(*loinc, "code") : "(none)",
                      lab["name"].get<std::string>()),
          Where(resource, "/code"));
  }
  // In refract's own export only a LOINC code the record held is marked userSelected.
  if (CodingWithSystem(code, CodeSystemUrl(kCsLab)) != nullptr && loinc != nullptr && !OptBool(*loinc, "userSelected").value_or(false)) loinc = nullptr;
  if (loinc != nullptr) lab["loinc"] = Str(*loinc, "code");
  std::string unit;
  if (const nlohmann::json* quantity = Find(observation, "valueQuantity")) {
    unit = Str(*quantity, "unit");
    if (unit.empty()) unit = Str(*quantity, "code");
  }
  if (unit.empty() && target != nullptr) unit = target->unit;
  if (!unit.empty()) lab["unit"] = unit;
  Add("labs", std::move(lab), resource);
}

void Importer::ReadVital(std::size_t resource, const nlohmann::json& observation, const RecordTarget& target) {
  ResourceResult& result = report_.resources[resource];
  std::optional<FhirDate> date;
  if (const nlohmann::json* when = Find(observation, "effectiveDateTime")) date = ReadDate(resource, *when, "/effectiveDateTime");
  if (!date) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "no_date", "vital sign has no effective date", Where(resource, "/effectiveDateTime"));
    return;
  }
  nlohmann::json vital{{"kind", target.value}, {"date", FormatDate(date->date)}};
  const auto within = [&](double value, double max) { return value >= 0 && value <= max; };
  if (target.value == "blood_pressure") {
    const auto put = [&](const std::string& component, const nlohmann::json& holder, const std::string& path) {
      const auto value = NumericValue(holder, nullptr);
      if (!value || !within(*value, component == "systolic" ? 400 : 300)) {
        Issue(resource, IssueLevel::Error, "invalid", fmt::format("{} blood pressure is missing or out of range", component), Where(resource, path));
        return;
      }
      vital[component] = JsonNumber(*value);
    };
    if (!target.component.empty()) put(target.component, observation, "/valueQuantity");
    const nlohmann::json& components = Array(observation, "component");
    for (std::size_t component_idx = 0; component_idx < components.size(); ++component_idx) {
      const nlohmann::json* code = Find(components[component_idx], "code");
      const nlohmann::json* loinc = code != nullptr ? CodingWithSystem(*code, kLoinc) : nullptr;
      const RecordTarget* part = loinc != nullptr ? knowledge.FindCode("Observation", kLoinc, Str(*loinc, "code")) : nullptr;
      if (part != nullptr && part->value == "blood_pressure" && !part->component.empty()) put(part->component, components[component_idx], fmt::format("/component/{}", component_idx));
    }
    if (!vital.contains("systolic") && !vital.contains("diastolic")) {
      result.outcome = ResourceOutcome::NotImported;
      return;
    }
    // Systolic and diastolic sent as two Observations of the same day make one reading.
    for (RecordElement& element : lists_["vitals"]) {
      if (element.value["kind"] != "blood_pressure" || element.value["date"] != vital["date"]) continue;
      const bool fits = (vital.contains("systolic") && !element.value.contains("systolic") && !vital.contains("diastolic")) ||
                        (vital.contains("diastolic") && !element.value.contains("diastolic") && !vital.contains("systolic"));
      if (!fits) continue;
      for (const char* key : {"systolic", "diastolic"}) {
        if (vital.contains(key)) element.value[key] = vital[key];
      }
      element.resources.insert(resource);
      return;
    }
    Add("vitals", std::move(vital), resource);
    return;
  }
  const auto value = NumericValue(observation, nullptr);
  if (!value) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "not_numeric", fmt::format("{} has no numeric value", target.value), Where(resource, "/valueQuantity"));
    return;
  }
  vital["value"] = JsonNumber(*value);
  std::string unit;
  if (const nlohmann::json* quantity = Find(observation, "valueQuantity")) {
    unit = Str(*quantity, "unit");
    if (unit.empty()) unit = Str(*quantity, "code");
  }
  if (unit.empty()) unit = target.unit;
  if (!unit.empty()) vital["unit"] = unit;
  Add("vitals", std::move(vital), resource);
}

void Importer::ReadGenotype(std::size_t resource, const nlohmann::json& observation) {
  ResourceResult& result = report_.resources[resource];
  const FhirConventions& conventions = knowledge.conventions();
  std::string gene;
  std::string diplotype;
  std::string phenotype;
  std::optional<double> activity_score;
  const auto gene_from_concept = [&](const nlohmann::json& codeable) {
    for (const nlohmann::json* coding : Codings(codeable)) {
      std::string hgnc = Str(*coding, "code");
      if (!hgnc.empty() && hgnc.rfind("HGNC:", 0) != 0) hgnc = "HGNC:" + hgnc;
      if (const auto found = conventions.gene_by_hgnc.find(hgnc); found != conventions.gene_by_hgnc.end()) return found->second;
      if (conventions.hgnc_by_gene.count(Str(*coding, "display")) > 0) return Str(*coding, "display");
    }
    const std::string text = ConceptText(codeable);
    return conventions.hgnc_by_gene.count(text) > 0 ? text : std::string();
  };
  const auto read_phenotype = [&](const nlohmann::json& codeable, const std::string& path) {
    if (const nlohmann::json* coding = CodingWithSystem(codeable, CodeSystemUrl(kCsPhenotype))) {
      phenotype = Str(*coding, "code");
      return;
    }
    const std::string text = ConceptText(codeable);
    if (const auto parsed = ParsePhenotype(text)) {
      phenotype = std::string(PhenotypeKey(*parsed));
      Issue(resource, IssueLevel::Warning, "by_name", fmt::format("metabolizer phenotype read from its text \"{}\"", text), Where(resource, path));
      return;
    }
    Issue(resource, IssueLevel::Error, "unknown_code", fmt::format("metabolizer phenotype \"{}\" is not a CPIC term", text), Where(resource, path));
  };
  const auto read_call = [&](const nlohmann::json& codeable) {
    std::string text;
    for (const nlohmann::json* coding : Codings(codeable)) {
      text = Str(*coding, "code").find('*') != std::string::npos ? Str(*coding, "code") : Str(*coding, "display");
      if (text.find('*') != std::string::npos) break;
    }
    if (text.find('*') == std::string::npos) text = Str(codeable, "text");
    const auto star = text.find('*');
    if (star == std::string::npos) return;
    const std::string prefix = NormalizeName(text.substr(0, star));
    for (const auto& [symbol, hgnc] : conventions.hgnc_by_gene) {
      if (NormalizeName(symbol) == prefix && gene.empty()) gene = symbol;
    }
    diplotype = text.substr(star);
    diplotype.erase(std::remove(diplotype.begin(), diplotype.end(), ' '), diplotype.end());
  };
  if (const nlohmann::json* codeable = Find(observation, "valueCodeableConcept")) {
    const nlohmann::json& code = *Find(observation, "code");
    bool phenotype_observation = false;
    for (const std::string& loinc : conventions.phenotype_codes) phenotype_observation = phenotype_observation || HasCoding(code, kLoinc, loinc);
    if (phenotype_observation) {
      read_phenotype(*codeable, "/valueCodeableConcept");
    } else {
      read_call(*codeable);
    }
  }
  const nlohmann::json& components = Array(observation, "component");
  for (std::size_t component_idx = 0; component_idx < components.size(); ++component_idx) {
    const nlohmann::json& component = components[component_idx];
    const nlohmann::json* code = Find(component, "code");
    if (code == nullptr) continue;
    const std::string path = fmt::format("/component/{}", component_idx);
    const nlohmann::json* codeable = Find(component, "valueCodeableConcept");
    if (HasCoding(*code, kLoinc, conventions.gene_studied_code) && codeable != nullptr) {
      const std::string found = gene_from_concept(*codeable);
      if (!found.empty()) gene = found;
      continue;
    }
    bool is_phenotype = HasCoding(*code, CodeSystemUrl(kCsGenotype), "phenotype");
    for (const std::string& loinc : conventions.phenotype_codes) is_phenotype = is_phenotype || HasCoding(*code, kLoinc, loinc);
    if (is_phenotype && codeable != nullptr) {
      read_phenotype(*codeable, path);
      continue;
    }
    if (HasCoding(*code, CodeSystemUrl(kCsGenotype), "activity-score")) {
      activity_score = NumericValue(component, nullptr);
      continue;
    }
    if (HasCoding(*code, CodeSystemUrl(kCsGenotype), "diplotype") && codeable != nullptr) read_call(*codeable);
  }
  if (gene.empty()) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "unsupported", "genotype result names no gene refract covers (CYP2D6, CYP2C19, CYP2B6)", Where(resource, "/component"));
    return;
  }
  nlohmann::json entry{{"gene", gene}};
  // The record accepts "*1/*4", "*1/*2x2": anything else is reported rather than written.
  const auto valid_allele = [](std::string_view allele) {
    if (allele.size() < 2 || allele.front() != '*') return false;
    const auto copies = allele.find('x');
    const std::string_view name = allele.substr(1, copies == std::string_view::npos ? std::string_view::npos : copies - 1);
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.'; })) return false;
    if (copies == std::string_view::npos) return true;
    const std::string_view count = allele.substr(copies + 1);
    return !count.empty() && std::all_of(count.begin(), count.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0 || c == 'N'; });
  };
  if (!diplotype.empty()) {
    const auto slash = diplotype.find('/');
    if (slash != std::string::npos && valid_allele(std::string_view(diplotype).substr(0, slash)) && valid_allele(std::string_view(diplotype).substr(slash + 1))) {
      entry["diplotype"] = diplotype;
    } else {
      Issue(resource, IssueLevel::Error, "invalid", fmt::format("diplotype \"{}\" is not of the form *1/*4", diplotype), Where(resource, "/valueCodeableConcept"));
    }
  }
  if (!phenotype.empty()) entry["phenotype"] = phenotype;
  if (activity_score && *activity_score >= 0 && *activity_score <= 6) entry["activity_score"] = JsonNumber(*activity_score);
  if (!entry.contains("diplotype") && !entry.contains("phenotype") && !entry.contains("activity_score")) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "not_mapped", fmt::format("{} result gives no diplotype, phenotype or activity score", gene), Where(resource));
    return;
  }
  if (const nlohmann::json* when = Find(observation, "effectiveDateTime")) {
    if (auto date = ReadDate(resource, *when, "/effectiveDateTime")) entry["date"] = FormatDate(date->date);
  }
  if (const auto* extension = FindExtension(observation, ExtensionUrl(kExtGenotypeSource))) {
    entry["source"] = Str(*extension, "valueString");
  } else if (const nlohmann::json& performers = Array(observation, "performer"); !performers.empty() && !Str(performers[0], "display").empty()) {
    entry["source"] = Str(performers[0], "display");
  }
  // The same gene reported twice (a genotype and a phenotype Observation): one entry.
  for (RecordElement& element : lists_["genotypes"]) {
    if (element.value["gene"] != gene) continue;
    for (const auto& [key, value] : entry.items()) {
      if (!element.value.contains(key)) element.value[key] = value;
    }
    element.resources.insert(resource);
    return;
  }
  Add("genotypes", std::move(entry), resource);
}

void Importer::ReadQuestionnaireResponse(std::size_t resource) {
  const nlohmann::json& response = *resources_[resource].resource;
  ResourceResult& result = report_.resources[resource];
  const std::string status = Str(response, "status");
  if (status == "entered-in-error" || status == "stopped") {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Info, "status", fmt::format("status {}: not a completed questionnaire", status), Where(resource, "/status"));
    return;
  }
  std::vector<std::pair<const nlohmann::json*, std::string>> items;
  const std::function<void(const nlohmann::json&, const std::string&)> flatten = [&](const nlohmann::json& holder, const std::string& path) {
    const nlohmann::json& list = Array(holder, "item");
    for (std::size_t item_idx = 0; item_idx < list.size(); ++item_idx) {
      const std::string where = fmt::format("{}/item/{}", path, item_idx);
      items.emplace_back(&list[item_idx], where);
      flatten(list[item_idx], where);
    }
  };
  flatten(response, "");
  // The scale: refract's or LOINC's canonical, else the first item linkId that is an item LOINC.
  const FhirScale* scale = nullptr;
  std::string canonical = Str(response, "questionnaire");
  if (const auto bar = canonical.find('|'); bar != std::string::npos) canonical.resize(bar);
  if (const auto slash = canonical.rfind('/'); slash != std::string::npos && !canonical.empty()) {
    const std::string tail = canonical.substr(slash + 1);
    scale = knowledge.ScaleByPanel(tail);
    if (scale == nullptr) scale = knowledge.FindScale("scale." + tail);
    if (scale == nullptr) {
      for (const auto& [id, candidate] : knowledge.scales()) {
        const auto& aliases = candidate.definition.aliases;
        if (NormalizeName(candidate.definition.short_name) == NormalizeName(tail) ||
            std::find_if(aliases.begin(), aliases.end(), [&](const std::string& alias) { return NormalizeName(alias) == NormalizeName(tail); }) != aliases.end()) {
          scale = &candidate;
        }
      }
    }
  }
  for (const auto& [item, path] : items) {
    if (scale != nullptr) break;
    if (const auto found = knowledge.ScaleItemByLoinc(StripSlash(Str(*item, "linkId")))) scale = found->first;
  }
  if (scale == nullptr) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "unknown_code",
          fmt::format("questionnaire \"{}\" is not a scale the KB knows, and no item linkId is a known item LOINC", Str(response, "questionnaire")),
          Where(resource, "/questionnaire"));
    return;
  }
  std::optional<FhirDate> date;
  if (const nlohmann::json* authored = Find(response, "authored")) date = ReadDate(resource, *authored, "/authored");
  if (!date) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "no_date", fmt::format("{} response has no authored date", scale->definition.short_name), Where(resource, "/authored"));
    return;
  }
  if (status == "in-progress") {
    Issue(resource, IssueLevel::Warning, "in_progress", "the response is still in progress: unanswered items stay unanswered", Where(resource, "/status"));
  }
  ScaleDraft& draft = Draft(scale->definition.id, date->date);
  if (const auto* name = FindExtension(response, ExtensionUrl(kExtScaleName))) draft.name = Str(*name, "valueString");
  bool used = false;
  for (const auto& [item, path] : items) {
    const std::string link = StripSlash(Str(*item, "linkId"));
    const nlohmann::json& answers = Array(*item, "answer");
    if (answers.empty()) continue;
    if (link == scale->definition.loinc_total || link == "total") {
      std::string text;
      if (const auto total = NumericValue(answers[0], &text)) {
        draft.totals_seen.emplace_back(resource, *total);
        if (!draft.total) draft.total = total;
        used = true;
      }
      continue;
    }
    std::optional<std::size_t> item_idx;
    if (const auto found = scale->item_by_loinc.find(link); found != scale->item_by_loinc.end()) item_idx = found->second;
    if (!item_idx) item_idx = scale->definition.ItemIndex(link);
    if (!item_idx) {
      Issue(resource, IssueLevel::Warning, "unknown_item", fmt::format("linkId \"{}\" is not an item of {}: skipped", link, scale->definition.short_name),
            Where(resource, path));
      continue;
    }
    if (const auto value = ItemValue(resource, *scale, *item_idx, answers[0], path + "/answer/0")) {
      draft.items[*item_idx] = *value;
      used = true;
    }
  }
  const auto reference_type = [&](const nlohmann::json* reference) { return reference == nullptr ? std::string() : ReferencedType(resource, *reference); };
  const std::string source = reference_type(Find(response, "source"));
  const std::string author = reference_type(Find(response, "author"));
  if (source == "Patient" || author == "Patient") {
    draft.rater = "self";
  } else if (author == "Practitioner" || author == "PractitionerRole" || (Find(response, "author") != nullptr && !Str(*Find(response, "author"), "display").empty())) {
    draft.rater = "clinician";
  }
  if (used) {
    draft.resources.insert(resource);
  } else {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "no_answers", fmt::format("no usable answer to any {} item", scale->definition.short_name), Where(resource, "/item"));
  }
}

void Importer::BuildScales() {
  for (auto& [key, draft] : drafts_) {
    if (draft.resources.empty()) continue;
    const FhirScale& scale = *knowledge.FindScale(draft.scale_id);
    const ScaleDefinition& definition = scale.definition;
    std::vector<std::optional<int>> items(definition.items.size());
    for (const auto& [item_idx, value] : draft.items) {
      if (item_idx < items.size()) items[item_idx] = value;
    }
    while (items.size() > definition.MinItems() && !items.back()) items.pop_back();
    const bool has_items = !draft.items.empty();
    if (!has_items) items.clear();
    std::optional<double> total = draft.total;
    // Recompute from items when they are complete: the items are the source of truth.
    if (has_items) {
      const ScaleScore score = ScoreScale(definition, items, std::nullopt, "");
      if (score.total_from_items && score.total) {
        for (const auto& [resource, seen] : draft.totals_seen) {
          if (seen != *score.total) {
            Issue(resource, IssueLevel::Warning, "total_differs",
                  fmt::format("{} total {} sent for {} differs from the sum of its items ({}): the items are used", definition.short_name,
                              FormatNumber(seen), FormatDate(draft.date), FormatNumber(*score.total)),
                  Where(resource));
          }
        }
        total.reset();
      }
    }
    std::optional<ScaleInputProblem> problem = CheckScaleInput(definition, items, total);
    if (problem && total && !items.empty() && !CheckScaleInput(definition, items, std::nullopt)) {
      for (std::size_t resource : draft.resources) {
        Issue(resource, IssueLevel::Warning, "total_dropped",
              fmt::format("{} total {} not kept beside the items ({})", definition.short_name, FormatNumber(*total), problem->message), Where(resource));
      }
      total.reset();
      problem.reset();
    }
    if (problem) {
      for (std::size_t resource : draft.resources) {
        Issue(resource, IssueLevel::Error, "invalid", fmt::format("{} on {}: {}", definition.short_name, FormatDate(draft.date), problem->message), Where(resource));
      }
      continue;
    }
    if (items.empty() && !total) {
      for (std::size_t resource : draft.resources) {
        Issue(resource, IssueLevel::Error, "no_answers", fmt::format("{} on {}: no items and no total", definition.short_name, FormatDate(draft.date)),
              Where(resource));
      }
      continue;
    }
    nlohmann::json entry{{"scale", definition.id}, {"date", FormatDate(draft.date)}};
    if (!draft.name.empty()) {
      if (const auto named = FindScale(knowledge.kb(), draft.name); named && named->id == definition.id) entry["scale"] = draft.name;
    }
    if (!items.empty()) {
      nlohmann::json values = nlohmann::json::array();
      for (const auto& value : items) values.push_back(value ? nlohmann::json(*value) : nlohmann::json(nullptr));
      entry["items"] = std::move(values);
    }
    if (total) entry["total"] = JsonNumber(*total);
    if (!draft.rater.empty()) entry["rater"] = draft.rater;
    lists_["scales"].push_back(RecordElement{std::move(entry), draft.resources});
  }
  // Record order: by first resource, so that a bundle written in record order reads back in it.
  auto& scales = lists_["scales"];
  std::stable_sort(scales.begin(), scales.end(), [](const RecordElement& left, const RecordElement& right) { return *left.resources.begin() < *right.resources.begin(); });
}

void Importer::BuildProcedures() {
  const int gap = knowledge.conventions().procedure_course_gap_days;
  std::vector<std::size_t> order(procedure_segments_.size());
  for (std::size_t idx = 0; idx < order.size(); ++idx) order[idx] = idx;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t left, std::size_t right) {
    const auto& a = procedure_segments_[left];
    const auto& b = procedure_segments_[right];
    if (a.kind != b.kind) return a.kind < b.kind;
    return a.start < b.start;
  });
  std::vector<std::vector<const ProcedureSegment*>> courses;
  for (std::size_t idx : order) {
    const ProcedureSegment& segment = procedure_segments_[idx];
    if (!courses.empty() && segment.extension.is_null()) {
      const ProcedureSegment& previous = *courses.back().back();
      const Date previous_end = previous.end.value_or(previous.start);
      if (previous.extension.is_null() && previous.kind == segment.kind && DaysBetween(previous_end, segment.start) <= gap) {
        courses.back().push_back(&segment);
        continue;
      }
    }
    courses.push_back({&segment});
  }
  std::vector<RecordElement> elements;
  for (const auto& parts : courses) {
    const ProcedureSegment& head = *parts.front();
    const ProcedureSegment& tail = *parts.back();
    std::set<std::size_t> resources;
    std::optional<Date> end;
    for (const ProcedureSegment* part : parts) {
      resources.insert(part->resource);
      if (part->end && (!end || *end < *part->end)) end = part->end;
    }
    nlohmann::json entry{{"kind", head.kind}, {"start", FormatDate(head.start)}};
    if (tail.ongoing) {
      entry["ongoing"] = true;
    } else if (end) {
      entry["end"] = FormatDate(*end);
    }
    if (parts.size() > 1) entry["sessions"] = static_cast<int>(parts.size());
    if (head.extension.is_object()) {
      for (const auto& [key, value] : head.extension.items()) {
        if (key != "kind" && key != "start" && key != "end" && key != "ongoing") entry[key] = value;
      }
    }
    elements.push_back(RecordElement{std::move(entry), resources});
  }
  std::stable_sort(elements.begin(), elements.end(), [](const RecordElement& left, const RecordElement& right) { return *left.resources.begin() < *right.resources.begin(); });
  for (auto& element : elements) lists_["procedures"].push_back(std::move(element));
}

}  // namespace refract::fhir
