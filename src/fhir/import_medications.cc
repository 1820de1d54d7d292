// SPDX-License-Identifier: Apache-2.0
// Medication resources -> courses and other medications: RxNorm resolution (products and ingredients,
// offline), dosage to mg/day, periods, and the merging of orders, statements and dispenses into courses.
#include <algorithm>
#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "fhir_json.h"
#include "import_internal.h"
#include "refract/fhir/import.h"

namespace refract::fhir {
namespace {

struct DrugResolution {
  const Drug* drug = nullptr;
  const RxNormProduct* product = nullptr;
  std::string rxcui;
  std::string name;  ///< For unknown drugs: the text or display to keep.
  bool resolved = false;
};

ImportIssue MakeIssue(IssueLevel level, std::string code, std::string message, std::string location) {
  return ImportIssue{level, std::move(code), std::move(message), std::move(location)};
}

DrugResolution ResolveMedication(const FhirKnowledge& knowledge, const nlohmann::json& resource, const ReferenceLookup& lookup,
                                 const std::string& location, std::vector<ImportIssue>& issues) {
  DrugResolution out;
  const nlohmann::json* codeable = Find(resource, "medicationCodeableConcept");
  std::string codeable_location = location + "/medicationCodeableConcept";
  if (codeable == nullptr) {
    if (const nlohmann::json* reference = Find(resource, "medicationReference")) {
      const std::string target = Str(*reference, "reference");
      const nlohmann::json* medication = lookup ? lookup(target) : nullptr;
      if (medication != nullptr) {
        codeable = Find(*medication, "code");
        codeable_location = location + "/medicationReference";
      }
      if (codeable == nullptr) {
        issues.push_back(MakeIssue(IssueLevel::Error, "no_code",
                                   fmt::format("medicationReference \"{}\" does not resolve to a Medication with a code in the bundle", target),
                                   location + "/medicationReference"));
        return out;
      }
    }
  }
  if (codeable == nullptr) {
    issues.push_back(MakeIssue(IssueLevel::Error, "no_code", "no medicationCodeableConcept or medicationReference", location));
    return out;
  }
  if (const nlohmann::json* coding = CodingWithSystem(*codeable, CodeSystemUrl(kCsDrug))) {
    if (const Drug* drug = knowledge.kb().FindDrug(Str(*coding, "code"))) {
      out.drug = drug;
      out.resolved = true;
      if (const nlohmann::json* rxnorm = CodingWithSystem(*codeable, kRxNorm)) out.rxcui = Str(*rxnorm, "code");
      return out;
    }
  }
  std::vector<std::string> unknown;
  for (const nlohmann::json* coding : Codings(*codeable)) {
    if (Str(*coding, "system") != kRxNorm) continue;
    const std::string code = Str(*coding, "code");
    if (const RxNormProduct* product = knowledge.FindProduct(code)) {
      out.drug = product->drug;
      out.product = product;
      out.rxcui = code;
      out.resolved = true;
      return out;
    }
    if (const Drug* drug = knowledge.FindIngredient(code)) {
      out.drug = drug;
      out.rxcui = code;
      out.resolved = true;
      return out;
    }
    unknown.push_back(Str(*coding, "display").empty() ? code : fmt::format("{} (\"{}\")", code, Str(*coding, "display")));
    if (out.rxcui.empty()) out.rxcui = code;
  }
  const std::string text = ConceptText(*codeable);
  out.name = text.empty() ? (out.rxcui.empty() ? std::string("unnamed medication") : "RxNorm " + out.rxcui) : text;
  if (!unknown.empty()) {
    issues.push_back(MakeIssue(IssueLevel::Error, "unknown_code",
                               fmt::format("RxNorm {} is neither a product in the KB's RxNorm map (kb/fhir/rxnorm) nor the ingredient code of a KB "
                                           "drug: kept in other_medications as \"{}\", not assessed as a trial and not checked for interactions",
                                           fmt::join(unknown, ", "), out.name),
                               codeable_location));
    return out;
  }
  if (!text.empty()) {
    if (const Drug* drug = knowledge.kb().FindDrugByName(text)) {
      out.drug = drug;
      out.resolved = true;
      issues.push_back(MakeIssue(IssueLevel::Warning, "by_name", fmt::format("no RxNorm code: identified by its name \"{}\"", text), codeable_location));
      return out;
    }
  }
  std::vector<std::string> others;
  for (const nlohmann::json* coding : Codings(*codeable)) others.push_back(Str(*coding, "system") + "|" + Str(*coding, "code"));
  issues.push_back(MakeIssue(IssueLevel::Error, others.empty() ? "no_code" : "no_rxnorm",
                             others.empty() ? fmt::format("no RxNorm code, and the name \"{}\" is not in the KB: kept in other_medications, "
                                                          "not assessed and not checked for interactions",
                                                          out.name)
                                            : fmt::format("no RxNorm code (only {}), and the name \"{}\" is not in the KB: kept in "
                                                          "other_medications, not assessed and not checked for interactions",
                                                          fmt::join(others, ", "), out.name),
                             codeable_location));
  return out;
}

const DoseUnit* FindDoseUnit(const FhirConventions& conventions, std::string text) {
  if (text.empty()) return nullptr;
  if (const auto found = conventions.dose_units.find(text); found != conventions.dose_units.end()) return &found->second;
  const auto lower = [](std::string value) {
    std::transform(value.begin(), value.end(), value.begin(), [](unsigned char character) { return static_cast<char>(std::tolower(character)); });
    return value;
  };
  std::string wanted = lower(text);
  for (int attempt = 0; attempt < 2; ++attempt) {
    for (const auto& [code, unit] : conventions.dose_units) {
      if (lower(code) == wanted) return &unit;
    }
    if (wanted.size() < 2 || wanted.back() != 's') break;
    wanted.pop_back();  // "tablets" -> "tablet"
  }
  return nullptr;
}

bool IsSolid(std::string_view unit) { return unit == "tablet" || unit == "capsule"; }

// Doses a day from a Timing; nothing (with an issue) when the timing does not say.
std::optional<double> DosesPerDay(const FhirConventions& conventions, const nlohmann::json* timing, const std::string& location,
                                  std::vector<ImportIssue>& issues) {
  if (timing == nullptr) {
    issues.push_back(MakeIssue(IssueLevel::Error, "not_computable", "no timing: doses per day unknown, so no mg/day", location));
    return std::nullopt;
  }
  if (const nlohmann::json* repeat = Find(*timing, "repeat")) {
    const std::size_t times = Array(*repeat, "timeOfDay").size() + Array(*repeat, "when").size();
    const std::optional<double> frequency = OptNumber(*repeat, "frequency");
    const std::optional<double> period = OptNumber(*repeat, "period");
    if (Find(*repeat, "frequencyMax") != nullptr || Find(*repeat, "periodMax") != nullptr) {
      issues.push_back(MakeIssue(IssueLevel::Warning, "range", "frequency or period given as a range: the stated frequency and period are used",
                                 location + "/repeat"));
    }
    if (period) {
      const std::string unit = Str(*repeat, "periodUnit");
      const auto hours = conventions.period_unit_hours.find(unit);
      if (hours == conventions.period_unit_hours.end() || *period <= 0) {
        issues.push_back(MakeIssue(IssueLevel::Error, "not_computable", fmt::format("period {} {} cannot be read as a time span", *period, unit),
                                   location + "/repeat/periodUnit"));
        return std::nullopt;
      }
      const double count = frequency ? *frequency : (times > 0 ? static_cast<double>(times) : 1.0);
      return count * 24.0 / (*period * hours->second);
    }
    if (times > 0 && !frequency) return static_cast<double>(times);
    if (frequency) {
      issues.push_back(MakeIssue(IssueLevel::Error, "not_computable", fmt::format("frequency {} without a period", *frequency), location + "/repeat"));
      return std::nullopt;
    }
  }
  if (const nlohmann::json* code = Find(*timing, "code")) {
    for (const nlohmann::json* coding : Codings(*code)) {
      std::string system = Str(*coding, "system");
      if (system.empty()) system = "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation";
      const auto found = conventions.timing_codes.find(system + "|" + Str(*coding, "code"));
      if (found != conventions.timing_codes.end()) return found->second;
    }
    issues.push_back(MakeIssue(IssueLevel::Error, "not_computable", fmt::format("timing code \"{}\" is not known", ConceptText(*code).empty() && !Codings(*code).empty() ? Str(*Codings(*code).front(), "code") : ConceptText(*code)),
                               location + "/code"));
    return std::nullopt;
  }
  issues.push_back(MakeIssue(IssueLevel::Error, "not_computable", "timing gives no frequency, period or code: doses per day unknown", location));
  return std::nullopt;
}

struct DosageLine {
  std::optional<Date> from;
  std::optional<Date> to;
  std::optional<double> mg_per_day;
  bool as_needed = false;
};

// mg per day of one Dosage: strength x doseQuantity (units of the product) or doseQuantity in mg, times doses a day.
DosageLine ReadDosage(const FhirKnowledge& knowledge, const DrugResolution& drug, const nlohmann::json& dosage, const std::string& location,
                      std::vector<ImportIssue>& issues) {
  DosageLine line;
  const nlohmann::json* timing = Find(dosage, "timing");
  const nlohmann::json* repeat = timing != nullptr ? Find(*timing, "repeat") : nullptr;
  if (repeat != nullptr) {
    if (const nlohmann::json* bounds = Find(*repeat, "boundsPeriod")) {
      if (auto start = ParseFhirDate(Str(*bounds, "start"))) line.from = start->date;
      if (auto end = ParseFhirDate(Str(*bounds, "end"), true)) line.to = end->date;
    }
    if (const nlohmann::json* duration = Find(*repeat, "boundsDuration"); duration != nullptr && line.from) {
      const auto value = OptNumber(*duration, "value");
      std::string unit = Str(*duration, "code");
      if (unit.empty()) unit = Str(*duration, "unit");
      const auto hours = knowledge.conventions().period_unit_hours.find(unit);
      if (value && hours != knowledge.conventions().period_unit_hours.end() && *value > 0) {
        line.to = AddDays(*line.from, std::lround(*value * hours->second / 24.0) - 1);
      }
    }
  }
  if (OptBool(dosage, "asNeededBoolean").value_or(false) || Find(dosage, "asNeededCodeableConcept") != nullptr) {
    line.as_needed = true;
    // An as-needed dosage without a dose or timing is common and complete as it is.
    if (Array(dosage, "doseAndRate").empty()) return line;
  }
  const nlohmann::json* quantity = nullptr;
  for (const auto& dose_and_rate : Array(dosage, "doseAndRate")) {
    if (const nlohmann::json* found = Find(dose_and_rate, "doseQuantity")) {
      quantity = found;
      break;
    }
    if (const nlohmann::json* range = Find(dose_and_rate, "doseRange")) {
      issues.push_back(MakeIssue(IssueLevel::Error, "not_computable",
                                 fmt::format("dose given as a range ({}-{}): no single mg/day", OptNumber(Find(*range, "low") ? *Find(*range, "low") : *range, "value").value_or(0),
                                             OptNumber(Find(*range, "high") ? *Find(*range, "high") : *range, "value").value_or(0)),
                                 location + "/doseAndRate"));
      return line;
    }
  }
  if (quantity == nullptr) {
    const std::string text = Str(dosage, "text");
    issues.push_back(MakeIssue(IssueLevel::Error, "not_computable",
                               text.empty() ? std::string("no doseQuantity: mg/day unknown") : fmt::format("dose only as free text (\"{}\"): mg/day unknown", text),
                               location));
    return line;
  }
  const std::optional<double> value = OptNumber(*quantity, "value");
  std::string unit_text = Str(*quantity, "code");
  if (unit_text.empty()) unit_text = Str(*quantity, "unit");
  if (!value || *value <= 0) {
    issues.push_back(MakeIssue(IssueLevel::Error, "invalid", "doseQuantity has no positive value", location + "/doseAndRate"));
    return line;
  }
  const DoseUnit* unit = FindDoseUnit(knowledge.conventions(), unit_text);
  std::optional<double> amount_mg;
  const std::string drug_name = drug.drug != nullptr ? drug.drug->inn : drug.name;
  // refract's own unit: mg as the KB doses the drug (dose_expressed_as), written for combination products.
  if (Str(*quantity, "system") == CodeSystemUrl(kCsDoseUnit) && Str(*quantity, "code") == "kb-mg") {
    amount_mg = *value;
  } else if (unit == nullptr && unit_text.empty() && drug.product != nullptr && drug.product->strength_mg && drug.product->unit != "ml" &&
             *value <= knowledge.conventions().unitless_dose_max_units) {
    amount_mg = *value * *drug.product->strength_mg;
    issues.push_back(MakeIssue(IssueLevel::Warning, "unitless_dose",
                               fmt::format("dose {} has no unit: read as {} {} of RxNorm {} ({})", *value, *value, drug.product->unit, drug.product->rxcui, drug.product->name),
                               location + "/doseAndRate"));
  } else if (unit == nullptr) {
    issues.push_back(MakeIssue(IssueLevel::Error, "not_computable",
                               unit_text.empty() ? fmt::format("dose {} has no unit", *value) : fmt::format("dose unit \"{}\" is not known", unit_text),
                               location + "/doseAndRate"));
    return line;
  }
  if (amount_mg) {
    // Already in the KB's unit.
  } else if (unit->mg) {
    const auto& blocked = knowledge.conventions().dose_in_mass_not_convertible;
    if (drug.drug != nullptr && std::find(blocked.begin(), blocked.end(), drug.drug->id) != blocked.end()) {
      issues.push_back(MakeIssue(IssueLevel::Error, "not_computable",
                                 fmt::format("a dose of {} {} of {} cannot be assigned to one component ({}): give it in units of the product",
                                             *value, unit_text, drug_name, drug.drug->dose_expressed_as),
                                 location + "/doseAndRate"));
      return line;
    }
    amount_mg = *value * *unit->mg;
  } else {
    const RxNormProduct* product = drug.product;
    if (drug.drug == nullptr) return line;  // The unknown code is reported already; no strength to apply.
    if (product == nullptr || !product->strength_mg) {
      issues.push_back(MakeIssue(IssueLevel::Error, "not_computable",
                                 product == nullptr ? fmt::format("a dose of {} {} cannot be turned into mg: {} is coded by ingredient, not by a product "
                                                                  "with a strength",
                                                                  *value, unit_text, drug_name)
                                                    : fmt::format("a dose of {} {} cannot be turned into mg: RxNorm {} has no strength in the KB",
                                                                  *value, unit_text, product->rxcui),
                                 location + "/doseAndRate"));
      return line;
    }
    const bool fits = unit->counts == "any" || unit->counts == product->unit || (IsSolid(unit->counts) && IsSolid(product->unit));
    if (!fits) {
      issues.push_back(MakeIssue(IssueLevel::Error, "not_computable",
                                 fmt::format("a dose in {} does not fit RxNorm {} ({}, counted per {})", unit_text, product->rxcui, product->name, product->unit),
                                 location + "/doseAndRate"));
      return line;
    }
    amount_mg = *value * *product->strength_mg;
  }
  const auto per_day = DosesPerDay(knowledge.conventions(), timing, location + "/timing", issues);
  if (!per_day) return line;
  line.mg_per_day = RoundDose(*amount_mg * *per_day);
  return line;
}

struct Dosages {
  std::vector<std::pair<std::optional<Date>, std::optional<double>>> groups;  ///< (from, mg/day) summed per start date.
  std::optional<Date> first_from;
  std::optional<Date> last_to;
  bool as_needed = false;
  std::optional<double> as_needed_mg;  ///< Most taken a day as needed: kept for other medications only.
};

Dosages ReadDosages(const FhirKnowledge& knowledge, const DrugResolution& drug, const nlohmann::json& resource, const std::string& key,
                    const std::string& location, std::vector<ImportIssue>& issues) {
  Dosages out;
  std::vector<std::pair<const nlohmann::json*, std::string>> dosages;
  if (const nlohmann::json* value = Find(resource, key)) {
    if (value->is_array()) {
      for (std::size_t dosage_idx = 0; dosage_idx < value->size(); ++dosage_idx) dosages.emplace_back(&(*value)[dosage_idx], fmt::format("{}/{}/{}", location, key, dosage_idx));
    } else if (value->is_object()) {
      dosages.emplace_back(value, fmt::format("{}/{}", location, key));
    }
  }
  // Dosages that share a start are taken together (50 mg morning + 100 mg night); later starts are dose steps.
  std::map<std::optional<Date>, std::optional<double>> by_start;
  std::map<std::optional<Date>, bool> unknown;
  for (const auto& [dosage, where] : dosages) {
    const DosageLine line = ReadDosage(knowledge, drug, *dosage, where, issues);
    if (line.as_needed) {
      out.as_needed = true;
      if (line.mg_per_day) out.as_needed_mg = line.mg_per_day;
      continue;
    }
    if (line.from && (!out.first_from || *line.from < *out.first_from)) out.first_from = line.from;
    if (line.to && (!out.last_to || *out.last_to < *line.to)) out.last_to = line.to;
    if (!line.mg_per_day) {
      unknown[line.from] = true;
      continue;
    }
    auto& sum = by_start[line.from];
    sum = RoundDose(sum.value_or(0) + *line.mg_per_day);
  }
  for (auto& [from, mg] : by_start) {
    if (unknown[from]) mg.reset();
    out.groups.emplace_back(from, mg);
  }
  return out;
}

std::optional<int> SupplyDays(const FhirConventions& conventions, const nlohmann::json* quantity) {
  if (quantity == nullptr) return std::nullopt;
  const auto value = OptNumber(*quantity, "value");
  std::string unit = Str(*quantity, "code");
  if (unit.empty()) unit = Str(*quantity, "unit");
  if (unit == "days" || unit == "day") unit = "d";
  const auto hours = conventions.period_unit_hours.find(unit);
  if (!value || hours == conventions.period_unit_hours.end() || *value <= 0) return std::nullopt;
  return static_cast<int>(std::lround(*value * hours->second / 24.0));
}

std::string RecordDrugName(const KnowledgeBase& kb, const Drug& drug) {
  const auto resolved = kb.ResolveDrug(drug.inn);
  return resolved && *resolved == &drug ? drug.inn : drug.id;
}

}  // namespace

MedicationOrder ReadMedicationOrder(const FhirKnowledge& knowledge, const nlohmann::json& resource, const ReferenceLookup& lookup,
                                    std::string_view location) {
  MedicationOrder order;
  const std::string where(location);
  const DrugResolution drug = ResolveMedication(knowledge, resource, lookup, where, order.issues);
  order.drug = drug.drug;
  order.product = drug.product;
  order.rxcui = drug.rxcui;
  order.input_name = drug.drug != nullptr ? drug.drug->inn : drug.name;
  const std::string key = Str(resource, "resourceType") == "MedicationStatement" ? "dosage" : "dosageInstruction";
  const Dosages dosages = ReadDosages(knowledge, drug, resource, key, where, order.issues);
  for (const auto& [from, mg] : dosages.groups) {
    if (mg) {
      order.mg_per_day = mg;
      break;
    }
  }
  order.start = dosages.first_from;
  if (!order.start) {
    if (auto authored = ParseFhirDate(Str(resource, "authoredOn"))) order.start = authored->date;
  }
  return order;
}

void Importer::ReadMedication(std::size_t resource) {
  const nlohmann::json& body = *resources_[resource].resource;
  ResourceResult& result = report_.resources[resource];
  const std::string type = Str(body, "resourceType");
  const std::string status = Str(body, "status");
  const auto skip = [&](std::string message) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Info, "status", std::move(message), Where(resource, "/status"));
  };
  if (status == "entered-in-error") return skip("entered in error");
  if (type == "MedicationRequest") {
    if (status == "cancelled" || status == "draft") return skip(fmt::format("a {} order was never given", status));
    const std::string intent = Str(body, "intent");
    if (intent == "proposal" || intent == "plan") return skip(fmt::format("intent {}: not an order", intent));
  }
  if (type == "MedicationStatement" && (status == "not-taken" || status == "intended")) return skip(fmt::format("status {}: not taken", status));
  if (type == "MedicationDispense" && status != "completed" && status != "in-progress") return skip(fmt::format("status {}: not handed over", status));
  if (type == "MedicationAdministration" && status != "completed" && status != "in-progress") return skip(fmt::format("status {}: not given", status));

  std::vector<ImportIssue> issues;
  const ReferenceLookup lookup = [&](std::string_view reference) { return Lookup(reference, resource); };
  const DrugResolution drug = ResolveMedication(knowledge, body, lookup, Where(resource), issues);
  if (drug.drug == nullptr && drug.name.empty()) {
    for (auto& issue : issues) result.issues.push_back(std::move(issue));
    return;
  }
  const std::string dosage_key = type == "MedicationStatement" || type == "MedicationAdministration" ? "dosage" : "dosageInstruction";
  Dosages dosages;
  if (type != "MedicationAdministration") dosages = ReadDosages(knowledge, drug, body, dosage_key, Where(resource), issues);

  MedicationSegment segment;
  segment.resource = resource;
  segment.drug = drug.drug;
  segment.name = drug.drug != nullptr ? RecordDrugName(knowledge.kb(), *drug.drug) : drug.name;
  // Keep the name the sender used when it names the same KB drug ("Zoloft" stays "Zoloft").
  if (drug.drug != nullptr) {
    const nlohmann::json* codeable = Find(body, "medicationCodeableConcept");
    const std::string text = codeable != nullptr ? Str(*codeable, "text") : std::string();
    if (!text.empty()) {
      if (knowledge.kb().FindDrugByName(text) == drug.drug) segment.name = text;
    }
  }
  segment.rxcui = drug.rxcui;
  segment.as_needed = dosages.as_needed;
  std::optional<Date> start;
  std::optional<Date> end;
  if (type == "MedicationRequest") {
    start = dosages.first_from;
    if (!start) {
      if (const nlohmann::json* authored = Find(body, "authoredOn")) {
        if (auto date = ReadDate(resource, *authored, "/authoredOn")) start = date->date;
      }
    }
    end = dosages.last_to;
    segment.ongoing = status == "active" && !end;
    segment.kind = "prescription";
    if (!end && start && (status == "completed" || status == "stopped") && knowledge.conventions().completed_request_end == "supply_duration") {
      const nlohmann::json* dispense = Find(body, "dispenseRequest");
      const auto supply = dispense != nullptr ? SupplyDays(knowledge.conventions(), Find(*dispense, "expectedSupplyDuration")) : std::nullopt;
      if (supply) {
        const int fills = 1 + static_cast<int>(dispense != nullptr ? OptNumber(*dispense, "numberOfRepeatsAllowed").value_or(0) : 0);
        end = AddDays(*start, static_cast<long>(*supply) * fills - 1);
        issues.push_back(MakeIssue(IssueLevel::Warning, "end_estimated",
                                   fmt::format("{} order without an end date: end estimated as {} ({} days supply x {} fill{})", status, FormatDate(*end),
                                               *supply, fills, fills == 1 ? "" : "s"),
                                   Where(resource, "/dispenseRequest")));
      } else {
        issues.push_back(MakeIssue(IssueLevel::Warning, "no_end", fmt::format("{} order without an end date or supply duration: end unknown", status),
                                   Where(resource, "/status")));
      }
    }
  } else if (type == "MedicationStatement" || type == "MedicationAdministration") {
    if (const nlohmann::json* period = Find(body, "effectivePeriod")) {
      if (const nlohmann::json* from = Find(*period, "start")) {
        if (auto date = ReadDate(resource, *from, "/effectivePeriod/start")) start = date->date;
      }
      if (const nlohmann::json* to = Find(*period, "end")) {
        if (auto date = ReadDate(resource, *to, "/effectivePeriod/end", true)) end = date->date;
      }
    } else if (const nlohmann::json* when = Find(body, "effectiveDateTime")) {
      if (auto date = ReadDate(resource, *when, "/effectiveDateTime")) {
        start = date->date;
        if (type == "MedicationAdministration") end = date->date;
      }
    }
    if (!start) start = dosages.first_from;
    segment.ongoing = (status == "active" || status == "in-progress") && !end;
  } else {  // MedicationDispense
    for (const char* key : {"whenHandedOver", "whenPrepared"}) {
      if (const nlohmann::json* when = Find(body, key)) {
        if (auto date = ReadDate(resource, *when, std::string("/") + key)) start = date->date;
        break;
      }
    }
    const auto supply = SupplyDays(knowledge.conventions(), Find(body, "daysSupply"));
    if (start && supply) {
      end = AddDays(*start, *supply - 1);
    } else if (start) {
      end = start;
      issues.push_back(MakeIssue(IssueLevel::Warning, "no_supply", "no daysSupply: the dispense counts as one day", Where(resource, "/daysSupply")));
    }
    // Without dosage instructions, the daily dose is the quantity handed over spread over the days supplied.
    if (dosages.groups.empty() && supply && drug.product != nullptr && drug.product->strength_mg) {
      if (const nlohmann::json* quantity = Find(body, "quantity")) {
        const auto value = OptNumber(*quantity, "value");
        std::string unit_text = Str(*quantity, "code");
        if (unit_text.empty()) unit_text = Str(*quantity, "unit");
        const DoseUnit* unit = FindDoseUnit(knowledge.conventions(), unit_text);
        if (value && unit != nullptr && !unit->mg) {
          dosages.groups.emplace_back(std::nullopt, RoundDose(*value * *drug.product->strength_mg / *supply));
          issues.push_back(MakeIssue(IssueLevel::Info, "dose_from_supply",
                                     fmt::format("daily dose from the quantity dispensed: {} x {} mg over {} days", *value, *drug.product->strength_mg, *supply),
                                     Where(resource, "/quantity")));
        }
      }
    }
  }
  for (auto& issue : issues) result.issues.push_back(std::move(issue));
  const bool other_list = FindExtension(body, ExtensionUrl(kExtOtherMedication)) != nullptr || drug.drug == nullptr ||
                          drug.drug->counts_as == CountsAs::Other;
  if (!start && other_list && type == "MedicationStatement") {
    // An other medication may be undated ("takes omeprazole"): kept without a start.
    segment.undated = true;
    start = Date{};
  }
  if (!start) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "no_date", "no start date (effective, authoredOn, timing bounds or whenHandedOver)", Where(resource));
    return;
  }
  if (end && *end < *start) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "invalid", fmt::format("ends {} before it starts {}", FormatDate(*end), FormatDate(*start)), Where(resource));
    return;
  }
  segment.start = *start;
  segment.end = end;
  if (end) segment.ongoing = false;
  for (const auto& [from, mg] : dosages.groups) {
    if (mg) segment.doses.emplace_back(from.value_or(*start) < *start ? *start : from.value_or(*start), *mg);
  }
  if (dosages.as_needed_mg && segment.doses.empty()) {
    if (other_list) {
      segment.doses.emplace_back(*start, *dosages.as_needed_mg);
    } else {
      Issue(resource, IssueLevel::Warning, "as_needed", "an as-needed dose is not a course dose: not recorded as a dose step", Where(resource));
    }
  }
  if (const auto* extension = FindExtension(body, ExtensionUrl(kExtCourse))) {
    segment.extension = FromSubExtensions(*extension, ExtensionArrays());
  } else if (const auto* other = FindExtension(body, ExtensionUrl(kExtOtherMedication))) {
    segment.extension = FromSubExtensions(*other, ExtensionArrays());
    segment.other = true;
  }
  // The record's own code: the coding marked userSelected (refract's export marks the record's code so).
  if (const nlohmann::json* codeable = Find(body, "medicationCodeableConcept")) {
    segment.from_refract = CodingWithSystem(*codeable, CodeSystemUrl(kCsDrug)) != nullptr || segment.other;
    for (const nlohmann::json* coding : Codings(*codeable)) {
      const std::string system = RecordSystem(Str(*coding, "system"));
      if (!OptBool(*coding, "userSelected").value_or(false) || system.empty() || Str(*coding, "code").empty()) continue;
      segment.record_code = {{"system", system}, {"code", Str(*coding, "code")}};
      if (!Str(*coding, "display").empty()) segment.record_code["display"] = Str(*coding, "display");
      break;
    }
  }
  segments_.push_back(std::move(segment));
}

void Importer::BuildCourses() {
  const int gap = knowledge.conventions().course_gap_days;
  std::vector<std::size_t> order(segments_.size());
  for (std::size_t idx = 0; idx < order.size(); ++idx) order[idx] = idx;
  const auto key_of = [&](const MedicationSegment& segment) {
    return (segment.other ? "other:" : "") + (segment.drug != nullptr ? segment.drug->id : "?" + segment.name);
  };
  std::stable_sort(order.begin(), order.end(), [&](std::size_t left, std::size_t right) {
    const auto& a = segments_[left];
    const auto& b = segments_[right];
    if (key_of(a) != key_of(b)) return key_of(a) < key_of(b);
    if (a.start != b.start) return a.start < b.start;
    return a.resource < b.resource;
  });
  struct Course {
    std::vector<const MedicationSegment*> parts;
    std::size_t first_resource = 0;
  };
  std::vector<Course> courses;
  for (std::size_t idx : order) {
    const MedicationSegment& segment = segments_[idx];
    if (!courses.empty() && segment.extension.is_null() && !segment.undated) {
      Course& last = courses.back();
      const MedicationSegment& previous = *last.parts.back();
      const bool same = key_of(previous) == key_of(segment) && previous.extension.is_null() && !previous.undated;
      // The previous part is open (ongoing, or end unknown) or ended within the gap: one course.
      std::optional<Date> previous_end;
      for (const MedicationSegment* part : last.parts) {
        if (!part->end) {
          previous_end.reset();
          break;
        }
        if (!previous_end || *previous_end < *part->end) previous_end = part->end;
      }
      if (same && (!previous_end || DaysBetween(*previous_end, segment.start) <= gap + 1)) {
        last.parts.push_back(&segment);
        last.first_resource = std::min(last.first_resource, segment.resource);
        continue;
      }
    }
    courses.push_back(Course{{&segment}, segment.resource});
  }
  std::stable_sort(courses.begin(), courses.end(), [](const Course& left, const Course& right) { return left.first_resource < right.first_resource; });
  for (const Course& course : courses) {
    const MedicationSegment& head = *course.parts.front();
    const bool psychiatric = head.drug != nullptr && head.drug->counts_as != CountsAs::Other && !head.other;
    std::set<std::size_t> resources;
    Date start = head.start;
    // A plain date and flag rather than std::optional: GCC 12 at -O3 warns falsely about the optional.
    Date end_date{};
    bool has_end = false;
    bool ongoing = false;
    bool as_needed = true;
    std::vector<std::pair<Date, double>> doses;
    std::string kind;
    for (const MedicationSegment* part : course.parts) {
      resources.insert(part->resource);
      start = std::min(start, part->start);
      if (part->ongoing) ongoing = true;
      if (part->end && (!has_end || end_date < *part->end)) {
        end_date = *part->end;
        has_end = true;
      }
      as_needed = as_needed && part->as_needed;
      if (kind.empty()) kind = part->kind;
      for (const auto& step : part->doses) doses.push_back(step);
    }
    // An active order or statement keeps the course running whatever its dispenses cover; otherwise the
    // latest part decides: without an end date, the course's end is unknown.
    const MedicationSegment& tail = *course.parts.back();
    if (ongoing || !tail.end) has_end = false;
    std::stable_sort(doses.begin(), doses.end(), [](const auto& left, const auto& right) { return left.first < right.first; });
    nlohmann::json steps = nlohmann::json::array();
    for (std::size_t step_idx = 0; step_idx < doses.size(); ++step_idx) {
      const auto& [from, mg] = doses[step_idx];
      if (has_end && end_date < from) continue;
      if (step_idx + 1 < doses.size() && doses[step_idx + 1].first == from) continue;  // A later order on the same day wins.
      if (!steps.empty() && steps.back()["mg_per_day"].get<double>() == mg) continue;
      if (mg > 10000) {
        for (std::size_t resource : resources) {
          Issue(resource, IssueLevel::Error, "implausible", fmt::format("{} mg/day from {} is implausible: not imported", mg, FormatDate(from)), Where(resource));
        }
        continue;
      }
      steps.push_back({{"from", FormatDate(from)}, {"mg_per_day", JsonNumber(mg)}});
    }
    nlohmann::json entry{{"drug", head.name}};
    if (!head.undated) entry["start"] = FormatDate(start);
    if (has_end) entry["end"] = FormatDate(end_date);
    if (ongoing) entry["ongoing"] = true;
    if (psychiatric) {
      if (!steps.empty()) entry["doses"] = steps;
      if (head.extension.is_object()) {
        for (const auto& [key, value] : head.extension.items()) {
          if (key != "drug" && key != "start" && key != "end" && key != "ongoing" && key != "doses") entry[key] = value;
        }
      }
      if (steps.empty()) {
        for (std::size_t resource : resources) {
          const auto& issues = report_.resources[resource].issues;
          const bool explained = std::any_of(issues.begin(), issues.end(), [](const ImportIssue& issue) { return issue.code == "not_computable" || issue.code == "as_needed"; });
          if (!explained) Issue(resource, IssueLevel::Warning, "no_dose", "no dose given: the course is imported without doses", Where(resource));
        }
      }
      lists_["medications"].push_back(RecordElement{std::move(entry), resources});
      continue;
    }
    if (!head.record_code.is_null()) {
      entry["code"] = head.record_code;
    } else if (!head.rxcui.empty() && !head.from_refract) {
      entry["code"] = {{"system", "RxNorm"}, {"code", head.rxcui}};
    }
    if (!steps.empty()) entry["mg_per_day"] = steps.back()["mg_per_day"];
    if (as_needed) entry["as_needed"] = true;
    if (!kind.empty()) entry["kind"] = kind;
    if (head.extension.is_object()) {
      for (const auto& [key, value] : head.extension.items()) {
        if (key != "drug" && key != "start" && key != "end" && key != "ongoing" && key != "mg_per_day" && key != "code" && key != "list") entry[key] = value;
      }
    }
    lists_["other_medications"].push_back(RecordElement{std::move(entry), resources});
  }
}

}  // namespace refract::fhir
