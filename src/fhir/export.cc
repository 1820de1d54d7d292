// SPDX-License-Identifier: Apache-2.0
// Patient record and assessment -> FHIR R4 Bundle (see export.h for what goes where).
#include "refract/fhir/export.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "fhir_json.h"
#include "import_internal.h"
#include "refract/core/next_steps.h"
#include "refract/core/scales.h"
#include "refract/core/text.h"

namespace refract::fhir {
namespace {

constexpr std::string_view kObservationCategory = "http://terminology.hl7.org/CodeSystem/observation-category";
constexpr std::string_view kConditionClinical = "http://terminology.hl7.org/CodeSystem/condition-clinical";
constexpr std::string_view kConditionVerification = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
constexpr std::string_view kConditionCategory = "http://terminology.hl7.org/CodeSystem/condition-category";
constexpr std::string_view kOrdinalValue = "http://hl7.org/fhir/StructureDefinition/ordinalValue";

// Collects resources with deterministic ids and resolves references by a local key ("med:2").
class BundleBuilder {
 public:
  BundleBuilder(std::string seed, std::string type) : seed_(std::move(seed)), type_(std::move(type)) {}

  std::string Add(const std::string& key, nlohmann::json resource) {
    const std::string id = NameUuid(seed_ + "|" + key);
    resource["id"] = id;
    const std::string url = "urn:uuid:" + id;
    urls_[key] = url;
    nlohmann::json entry{{"fullUrl", url}, {"resource", std::move(resource)}};
    if (type_ == "transaction") entry["request"] = {{"method", "POST"}, {"url", entry["resource"]["resourceType"]}};
    entries_.push_back(std::move(entry));
    return url;
  }

  [[nodiscard]] std::string Url(const std::string& key) const {
    const auto found = urls_.find(key);
    return found == urls_.end() ? std::string() : found->second;
  }

  [[nodiscard]] nlohmann::json Reference(const std::string& key) const { return {{"reference", Url(key)}}; }

  [[nodiscard]] std::vector<std::string> UrlsFrom(std::size_t first) const {
    std::vector<std::string> out;
    for (std::size_t entry_idx = first; entry_idx < entries_.size(); ++entry_idx) out.push_back(entries_[entry_idx]["fullUrl"].get<std::string>());
    return out;
  }

  [[nodiscard]] std::size_t size() const { return entries_.size(); }

  nlohmann::json Build(const std::string& bundle_id, const std::string& timestamp) {
    nlohmann::json bundle{{"resourceType", "Bundle"}, {"id", NameUuid(seed_ + "|bundle|" + bundle_id)}, {"type", type_}, {"entry", std::move(entries_)}};
    if (!timestamp.empty()) bundle["timestamp"] = timestamp;
    return bundle;
  }

 private:
  std::string seed_;
  std::string type_;
  std::map<std::string, std::string> urls_;
  nlohmann::json entries_ = nlohmann::json::array();
};

nlohmann::json Coding(std::string_view system, std::string_view code, std::string_view display = {}) {
  nlohmann::json coding{{"system", system}, {"code", code}};
  if (!display.empty()) coding["display"] = display;
  return coding;
}

nlohmann::json Tag(std::string_view code) { return {{"tag", nlohmann::json::array({Coding(CodeSystemUrl(kCsTags), code)})}}; }

nlohmann::json Category(std::string_view code) {
  return nlohmann::json::array({{{"coding", nlohmann::json::array({Coding(kObservationCategory, code)})}}});
}

nlohmann::json Extension(std::string_view name, const nlohmann::json& object) {
  return {{"url", ExtensionUrl(name)}, {"extension", ToSubExtensions(object)}};
}

nlohmann::json Without(const nlohmann::json& object, std::initializer_list<const char*> keys) {
  nlohmann::json out = object;
  for (const char* key : keys) out.erase(key);
  return out;
}

nlohmann::json Quantity(double value, std::string_view unit) {
  nlohmann::json quantity{{"value", value}};
  if (!unit.empty()) quantity["unit"] = unit;
  return quantity;
}

nlohmann::json ScoreQuantity(double value) {
  return {{"value", value}, {"unit", "{score}"}, {"system", kUcum}, {"code", "{score}"}};
}

std::string Slug(std::string_view text) {
  std::string out;
  for (const char character : NormalizeName(text)) out += (character == ' ' ? '-' : character);
  return out;
}

class Exporter {
 public:
  Exporter(const FhirKnowledge& knowledge, const PatientRecord& record, const ExportOptions& options)
      : knowledge_(knowledge), kb_(knowledge.kb()), record_(record), raw_(record.raw), options_(options),
        builder_(record.id, options.bundle_type == "transaction" ? "transaction" : "collection") {}

  nlohmann::json Run(const Assessment* assessment, const InteractionReport* interactions) {
    Patient();
    if (options_.include_record) {
      Episode();
      Diagnoses();
      Conditions();
      Medications();
      OtherMedications();
      Scales();
      Genotypes();
      Labs();
      Vitals();
      Procedures();
      AdverseReactions();
    }
    std::string timestamp = options_.generated_at;
    if (assessment != nullptr && options_.include_assessment) {
      if (timestamp.empty()) timestamp = FormatDate(assessment->as_of) + "T00:00:00Z";
      ExportAssessment(*assessment, interactions, timestamp);
    }
    return builder_.Build(assessment != nullptr ? FormatDate(assessment->as_of) : std::string("record"), timestamp);
  }

 private:
  nlohmann::json Subject() const { return builder_.Reference("patient"); }

  void Patient() {
    nlohmann::json patient{{"resourceType", "Patient"},
                           {"identifier", nlohmann::json::array({{{"system", kPatientIdSystem}, {"value", record_.id}}})}};
    const nlohmann::json person = raw_.value("person", nlohmann::json::object());
    if (person.contains("sex")) patient["gender"] = person["sex"];
    if (person.contains("birth_date")) patient["birthDate"] = person["birth_date"];
    nlohmann::json extensions = nlohmann::json::array();
    const nlohmann::json extra = Without(person, {"sex", "birth_date"});
    if (!extra.empty()) extensions.push_back(Extension(kExtPerson, extra));
    if (raw_.contains("history") && !raw_["history"].empty()) extensions.push_back(Extension(kExtHistory, raw_["history"]));
    // Always written: it tells the importer that this bundle is refract's own record export.
    nlohmann::json about{{"exported_by", options_.engine.name}};
    if (raw_.contains("description")) about["description"] = raw_["description"];
    extensions.push_back(Extension(kExtRecord, about));
    for (const auto& entry : raw_.value("daily_log", nlohmann::json::array())) extensions.push_back(Extension(kExtDailyLog, entry));
    if (!extensions.empty()) patient["extension"] = std::move(extensions);
    builder_.Add("patient", std::move(patient));
  }

  void Episode() {
    if (!raw_.contains("episode")) return;
    const nlohmann::json& episode = raw_["episode"];
    nlohmann::json codings = nlohmann::json::array({Coding(CodeSystemUrl(kCsEpisode), "current-depressive-episode", "Current depressive episode")});
    if (const TargetCode* mdd = knowledge_.CodeFor("diagnoses", "mdd")) codings.push_back(Coding(mdd->system, mdd->code, mdd->display));
    nlohmann::json condition{{"resourceType", "Condition"},
                             {"category", nlohmann::json::array({{{"coding", nlohmann::json::array({Coding(kConditionCategory, "problem-list-item")})}}})},
                             {"code", {{"coding", std::move(codings)}, {"text", "Current depressive episode"}}},
                             {"subject", Subject()},
                             {"extension", nlohmann::json::array({Extension(kExtEpisode, episode)})}};
    if (episode.contains("start")) condition["onsetDateTime"] = episode["start"];
    if (episode.contains("severity")) condition["severity"] = {{"text", episode["severity"]}};
    builder_.Add("episode", std::move(condition));
  }

  static void Status(nlohmann::json& condition, const std::string& status) {
    if (status.empty()) return;
    std::string clinical = "active";
    std::string verification = "confirmed";
    if (status == "in_remission") clinical = "remission";
    if (status == "resolved") clinical = "resolved";
    if (status == "suspected") verification = "unconfirmed";
    if (status == "ruled_out") {
      verification = "refuted";
      clinical.clear();
    }
    if (!clinical.empty()) condition["clinicalStatus"] = {{"coding", nlohmann::json::array({Coding(kConditionClinical, clinical)})}};
    condition["verificationStatus"] = {{"coding", nlohmann::json::array({Coding(kConditionVerification, verification)})}};
  }

  nlohmann::json RecordCoding(const nlohmann::json& entry) const {
    if (!entry.contains("code")) return nullptr;
    const nlohmann::json& code = entry["code"];
    std::string system = SystemUri(Str(code, "system"));
    nlohmann::json coding = Coding(system, Str(code, "code"), Str(code, "display"));
    coding["userSelected"] = true;
    return coding;
  }

  void Diagnoses() {
    const nlohmann::json& list = raw_.value("diagnoses", nlohmann::json::array());
    for (std::size_t item_idx = 0; item_idx < list.size(); ++item_idx) {
      const nlohmann::json& diagnosis = list[item_idx];
      const std::string kind = Str(diagnosis, "kind");
      nlohmann::json codings = nlohmann::json::array();
      if (const nlohmann::json own = RecordCoding(diagnosis); !own.is_null()) {
        codings.push_back(own);
      } else if (const TargetCode* code = knowledge_.CodeFor("diagnoses", kind)) {
        codings.push_back(Coding(code->system, code->code, code->display));
      }
      codings.push_back(Coding(CodeSystemUrl(kCsDiagnosis), kind));
      nlohmann::json code{{"coding", std::move(codings)}};
      if (diagnosis.contains("name")) code["text"] = diagnosis["name"];
      nlohmann::json condition{{"resourceType", "Condition"},
                               {"category", nlohmann::json::array({{{"coding", nlohmann::json::array({Coding(kConditionCategory, "problem-list-item")})}}})},
                               {"code", std::move(code)},
                               {"subject", Subject()}};
      Status(condition, Str(diagnosis, "status"));
      if (diagnosis.contains("onset")) condition["onsetDateTime"] = diagnosis["onset"];
      builder_.Add(fmt::format("diagnosis:{}", item_idx), std::move(condition));
    }
  }

  void Conditions() {
    const nlohmann::json& list = raw_.value("conditions", nlohmann::json::array());
    for (std::size_t item_idx = 0; item_idx < list.size(); ++item_idx) {
      const nlohmann::json& entry = list[item_idx];
      nlohmann::json codings = nlohmann::json::array();
      if (const nlohmann::json own = RecordCoding(entry); !own.is_null()) {
        codings.push_back(own);
      } else if (const TargetCode* code = knowledge_.CodeFor("conditions", NormalizeName(Str(entry, "name")))) {
        codings.push_back(Coding(code->system, code->code, code->display));
      }
      codings.push_back(Coding(CodeSystemUrl(kCsCondition), "medical-condition"));
      nlohmann::json condition{{"resourceType", "Condition"},
                               {"category", nlohmann::json::array({{{"coding", nlohmann::json::array({Coding(kConditionCategory, "problem-list-item")})}}})},
                               {"code", {{"coding", std::move(codings)}, {"text", entry["name"]}}},
                               {"subject", Subject()}};
      Status(condition, Str(entry, "status"));
      if (entry.contains("onset")) condition["onsetDateTime"] = entry["onset"];
      builder_.Add(fmt::format("condition:{}", item_idx), std::move(condition));
    }
  }

  nlohmann::json MedicationConcept(const std::string& name, const nlohmann::json& record_code) const {
    nlohmann::json codings = nlohmann::json::array();
    if (!record_code.is_null()) {
      codings.push_back(Coding(SystemUri(Str(record_code, "system")), Str(record_code, "code"), Str(record_code, "display")));
      codings.back()["userSelected"] = true;
    }
    if (auto drug = kb_.ResolveDrug(name)) {
      if ((*drug)->rxnorm && (record_code.is_null() || Str(record_code, "code") != *(*drug)->rxnorm)) {
        codings.push_back(Coding(kRxNorm, *(*drug)->rxnorm, (*drug)->inn));
      }
      codings.push_back(Coding(CodeSystemUrl(kCsDrug), (*drug)->id, (*drug)->inn));
    }
    nlohmann::json codeable{{"text", name}};
    if (!codings.empty()) codeable["coding"] = std::move(codings);
    return codeable;
  }

  nlohmann::json Dose(const Drug* drug, double mg_per_day, const std::string& from, const std::string& to) const {
    const auto& blocked = knowledge_.conventions().dose_in_mass_not_convertible;
    nlohmann::json quantity;
    if (drug != nullptr && std::find(blocked.begin(), blocked.end(), drug->id) != blocked.end()) {
      quantity = {{"value", mg_per_day}, {"unit", fmt::format("mg ({})", drug->dose_expressed_as)}, {"system", CodeSystemUrl(kCsDoseUnit)}, {"code", "kb-mg"}};
    } else {
      quantity = {{"value", mg_per_day}, {"unit", "mg"}, {"system", kUcum}, {"code", "mg"}};
    }
    nlohmann::json repeat{{"frequency", 1}, {"period", 1}, {"periodUnit", "d"}};
    if (!from.empty()) {
      repeat["boundsPeriod"] = {{"start", from}};
      if (!to.empty()) repeat["boundsPeriod"]["end"] = to;
    }
    return {{"text", fmt::format("{} mg per day", FormatNumber(mg_per_day))},
            {"timing", {{"repeat", std::move(repeat)}}},
            {"doseAndRate", nlohmann::json::array({{{"doseQuantity", std::move(quantity)}}})}};
  }

  void Medications() {
    const nlohmann::json& list = raw_.value("medications", nlohmann::json::array());
    for (std::size_t item_idx = 0; item_idx < list.size(); ++item_idx) {
      const nlohmann::json& course = list[item_idx];
      const std::string name = Str(course, "drug");
      const auto drug = kb_.ResolveDrug(name);
      nlohmann::json statement{{"resourceType", "MedicationStatement"},
                               {"status", course.value("ongoing", false) ? "active" : course.contains("end") ? "completed" : "unknown"},
                               {"medicationCodeableConcept", MedicationConcept(name, nullptr)},
                               {"subject", Subject()},
                               {"effectivePeriod", {{"start", course["start"]}}}};
      if (course.contains("end")) statement["effectivePeriod"]["end"] = course["end"];
      const nlohmann::json& doses = course.value("doses", nlohmann::json::array());
      nlohmann::json dosage = nlohmann::json::array();
      for (std::size_t step_idx = 0; step_idx < doses.size(); ++step_idx) {
        std::string to;
        if (step_idx + 1 < doses.size()) {
          to = FormatDate(AddDays(*ParseDate(doses[step_idx + 1]["from"].get<std::string>()), -1));
        } else if (course.contains("end")) {
          to = course["end"].get<std::string>();
        }
        dosage.push_back(Dose(drug ? *drug : nullptr, doses[step_idx]["mg_per_day"].get<double>(), doses[step_idx]["from"].get<std::string>(), to));
      }
      if (!dosage.empty()) statement["dosage"] = std::move(dosage);
      const nlohmann::json extra = Without(course, {"drug", "start", "end", "ongoing", "doses"});
      if (!extra.empty()) statement["extension"] = nlohmann::json::array({Extension(kExtCourse, extra)});
      builder_.Add(fmt::format("med:{}", item_idx), std::move(statement));
    }
  }

  void OtherMedications() {
    const nlohmann::json& list = raw_.value("other_medications", nlohmann::json::array());
    for (std::size_t item_idx = 0; item_idx < list.size(); ++item_idx) {
      const nlohmann::json& entry = list[item_idx];
      const std::string name = Str(entry, "drug");
      const auto drug = kb_.ResolveDrug(name);
      nlohmann::json statement{{"resourceType", "MedicationStatement"},
                               {"status", entry.value("ongoing", false) ? "active" : entry.contains("end") ? "completed" : "unknown"},
                               {"medicationCodeableConcept", MedicationConcept(name, entry.contains("code") ? entry["code"] : nlohmann::json())},
                               {"subject", Subject()}};
      if (entry.contains("start")) {
        statement["effectivePeriod"] = {{"start", entry["start"]}};
        if (entry.contains("end")) statement["effectivePeriod"]["end"] = entry["end"];
      }
      if (entry.contains("mg_per_day")) {
        statement["dosage"] = nlohmann::json::array({Dose(drug ? *drug : nullptr, entry["mg_per_day"].get<double>(), {}, {})});
      }
      if (entry.value("as_needed", false)) {
        if (!statement.contains("dosage")) statement["dosage"] = nlohmann::json::array({nlohmann::json::object()});
        statement["dosage"][0]["asNeededBoolean"] = true;
      }
      nlohmann::json extra = Without(entry, {"drug", "start", "end", "ongoing", "mg_per_day", "as_needed", "code"});
      extra["list"] = "other_medications";
      statement["extension"] = nlohmann::json::array({Extension(kExtOtherMedication, extra)});
      builder_.Add(fmt::format("other:{}", item_idx), std::move(statement));
    }
  }

  void Scales() {
    const nlohmann::json& list = raw_.value("scales", nlohmann::json::array());
    for (std::size_t item_idx = 0; item_idx < list.size(); ++item_idx) {
      const nlohmann::json& entry = list[item_idx];
      auto definition = FindScale(kb_, Str(entry, "scale"));
      if (!definition) continue;  // The record was parsed: the scale resolves.
      const FhirScale* scale = knowledge_.FindScale(definition->id);
      const std::string rater = Str(entry, "rater");
      const std::string questionnaire = fmt::format("{}/Questionnaire/{}", kRefractBase, definition->id.substr(definition->id.find('.') + 1));
      std::string qr_url;
      const nlohmann::json& values = entry.value("items", nlohmann::json::array());
      if (!values.empty()) {
        nlohmann::json items = nlohmann::json::array();
        for (std::size_t value_idx = 0; value_idx < values.size() && value_idx < definition->items.size(); ++value_idx) {
          if (!values[value_idx].is_number_integer()) continue;
          const ScaleItem& item = definition->items[value_idx];
          const int score = values[value_idx].get<int>();
          nlohmann::json answer;
          if (const auto* coded = knowledge_.AnswerCode(definition->id, item.label, score)) {
            nlohmann::json coding = Coding(kLoinc, coded->first, coded->second);
            coding["extension"] = nlohmann::json::array({{{"url", kOrdinalValue}, {"valueDecimal", score}}});
            answer = {{"valueCoding", std::move(coding)}};
          } else {
            answer = {{"valueInteger", score}};
          }
          nlohmann::json qr_item{{"linkId", item.loinc.empty() ? item.label : "/" + item.loinc}, {"answer", nlohmann::json::array({std::move(answer)})}};
          if (definition->ship_text && !item.text.empty()) qr_item["text"] = item.text;
          items.push_back(std::move(qr_item));
        }
        nlohmann::json response{{"resourceType", "QuestionnaireResponse"},
                                {"questionnaire", questionnaire},
                                {"status", "completed"},
                                {"subject", Subject()},
                                {"authored", entry["date"]},
                                {"item", std::move(items)}};
        if (Str(entry, "scale") != definition->id) response["extension"] = nlohmann::json::array({{{"url", ExtensionUrl(kExtScaleName)}, {"valueString", entry["scale"]}}});
        if (rater == "self") response["source"] = Subject();
        if (rater == "clinician") response["author"] = {{"display", "clinician"}};
        qr_url = builder_.Add(fmt::format("qr:{}", item_idx), std::move(response));
      }
      if (!entry.contains("total") && !values.empty()) continue;
      nlohmann::json codings = nlohmann::json::array();
      if (scale != nullptr && !scale->definition.loinc_total.empty()) codings.push_back(Coding(kLoinc, scale->definition.loinc_total, definition->short_name + " total score"));
      codings.push_back(Coding(CodeSystemUrl(kCsScale), definition->id, definition->short_name));
      nlohmann::json observation{{"resourceType", "Observation"},
                                 {"status", "final"},
                                 {"category", Category("survey")},
                                 {"code", {{"coding", std::move(codings)}, {"text", definition->short_name + " total score"}}},
                                 {"subject", Subject()},
                                 {"effectiveDateTime", entry["date"]}};
      if (entry.contains("total")) observation["valueQuantity"] = ScoreQuantity(entry["total"].get<double>());
      if (Str(entry, "scale") != definition->id) observation["extension"] = nlohmann::json::array({{{"url", ExtensionUrl(kExtScaleName)}, {"valueString", entry["scale"]}}});
      if (rater == "self") observation["performer"] = nlohmann::json::array({Subject()});
      if (rater == "clinician") observation["performer"] = nlohmann::json::array({{{"display", "clinician"}}});
      if (!qr_url.empty()) observation["derivedFrom"] = nlohmann::json::array({{{"reference", qr_url}}});
      builder_.Add(fmt::format("total:{}", item_idx), std::move(observation));
    }
  }

  void Genotypes() {
    const auto& conventions = knowledge_.conventions();
    const nlohmann::json& list = raw_.value("genotypes", nlohmann::json::array());
    for (std::size_t item_idx = 0; item_idx < list.size(); ++item_idx) {
      const nlohmann::json& entry = list[item_idx];
      const std::string gene = Str(entry, "gene");
      nlohmann::json codings = nlohmann::json::array();
      if (!conventions.genotype_codes.empty()) codings.push_back(Coding(kLoinc, conventions.genotype_codes.front(), "Genotype display name"));
      codings.push_back(Coding(CodeSystemUrl(kCsGenotype), "genotype"));
      nlohmann::json observation{{"resourceType", "Observation"},
                                 {"status", "final"},
                                 {"category", Category("laboratory")},
                                 {"code", {{"coding", std::move(codings)}, {"text", gene + " genotype"}}},
                                 {"subject", Subject()}};
      if (entry.contains("diplotype")) observation["valueCodeableConcept"] = {{"text", gene + " " + Str(entry, "diplotype")}};
      nlohmann::json components = nlohmann::json::array();
      nlohmann::json gene_coding{{"text", gene}};
      if (const auto hgnc = conventions.hgnc_by_gene.find(gene); hgnc != conventions.hgnc_by_gene.end()) {
        gene_coding["coding"] = nlohmann::json::array({Coding(kHgnc, hgnc->second, gene)});
      }
      components.push_back({{"code", {{"coding", nlohmann::json::array({Coding(kLoinc, conventions.gene_studied_code, "Gene studied [ID]")})}}},
                            {"valueCodeableConcept", std::move(gene_coding)}});
      if (entry.contains("phenotype")) {
        nlohmann::json code_codings = nlohmann::json::array();
        if (!conventions.phenotype_codes.empty()) code_codings.push_back(Coding(kLoinc, conventions.phenotype_codes.front(), "Genetic variation's effect on drug metabolism"));
        code_codings.push_back(Coding(CodeSystemUrl(kCsGenotype), "phenotype"));
        components.push_back({{"code", {{"coding", std::move(code_codings)}}},
                              {"valueCodeableConcept",
                               {{"coding", nlohmann::json::array({Coding(CodeSystemUrl(kCsPhenotype), Str(entry, "phenotype"))})}, {"text", Str(entry, "phenotype") + " metabolizer"}}}});
      }
      if (entry.contains("activity_score")) {
        components.push_back({{"code", {{"coding", nlohmann::json::array({Coding(CodeSystemUrl(kCsGenotype), "activity-score")})}}},
                              {"valueQuantity", {{"value", entry["activity_score"]}}}});
      }
      observation["component"] = std::move(components);
      if (entry.contains("date")) observation["effectiveDateTime"] = entry["date"];
      if (entry.contains("source")) observation["extension"] = nlohmann::json::array({{{"url", ExtensionUrl(kExtGenotypeSource)}, {"valueString", entry["source"]}}});
      builder_.Add(fmt::format("genotype:{}", item_idx), std::move(observation));
    }
  }

  void Labs() {
    const nlohmann::json& list = raw_.value("labs", nlohmann::json::array());
    for (std::size_t item_idx = 0; item_idx < list.size(); ++item_idx) {
      const nlohmann::json& entry = list[item_idx];
      const std::string name = Str(entry, "name");
      nlohmann::json codings = nlohmann::json::array();
      if (entry.contains("loinc")) {
        codings.push_back(Coding(kLoinc, Str(entry, "loinc")));
        codings.back()["userSelected"] = true;
      } else if (const TargetCode* code = knowledge_.CodeFor("labs", NormalizeName(name))) {
        codings.push_back(Coding(code->system, code->code, code->display));
      }
      codings.push_back(Coding(CodeSystemUrl(kCsLab), name));
      nlohmann::json observation{{"resourceType", "Observation"},
                                 {"status", "final"},
                                 {"category", Category("laboratory")},
                                 {"code", {{"coding", std::move(codings)}, {"text", name}}},
                                 {"subject", Subject()},
                                 {"effectiveDateTime", entry["date"]},
                                 {"valueQuantity", Quantity(entry["value"].get<double>(), Str(entry, "unit"))}};
      builder_.Add(fmt::format("lab:{}", item_idx), std::move(observation));
    }
  }

  void Vitals() {
    const nlohmann::json& list = raw_.value("vitals", nlohmann::json::array());
    for (std::size_t item_idx = 0; item_idx < list.size(); ++item_idx) {
      const nlohmann::json& entry = list[item_idx];
      const std::string kind = Str(entry, "kind");
      nlohmann::json codings = nlohmann::json::array();
      if (const TargetCode* code = knowledge_.CodeFor("vitals", kind)) codings.push_back(Coding(code->system, code->code, code->display));
      codings.push_back(Coding(CodeSystemUrl(kCsVital), kind));
      nlohmann::json observation{{"resourceType", "Observation"},
                                 {"status", "final"},
                                 {"category", Category("vital-signs")},
                                 {"code", {{"coding", std::move(codings)}, {"text", kind}}},
                                 {"subject", Subject()},
                                 {"effectiveDateTime", entry["date"]}};
      if (kind == "blood_pressure") {
        nlohmann::json components = nlohmann::json::array();
        for (const char* part : {"systolic", "diastolic"}) {
          if (!entry.contains(part)) continue;
          // The component codes come from the value sets that map them (fhir.valueset.vital.blood_pressure_*).
          const TargetCode* code = knowledge_.ComponentCode("vitals", "blood_pressure", part);
          if (code == nullptr) continue;
          components.push_back({{"code", {{"coding", nlohmann::json::array({Coding(code->system, code->code, code->display)})}}},
                                {"valueQuantity", Quantity(entry[part].get<double>(), "mm[Hg]")}});
        }
        observation["component"] = std::move(components);
      } else if (entry.contains("value")) {
        observation["valueQuantity"] = Quantity(entry["value"].get<double>(), Str(entry, "unit"));
      }
      builder_.Add(fmt::format("vital:{}", item_idx), std::move(observation));
    }
  }

  void Procedures() {
    const nlohmann::json& list = raw_.value("procedures", nlohmann::json::array());
    for (std::size_t item_idx = 0; item_idx < list.size(); ++item_idx) {
      const nlohmann::json& entry = list[item_idx];
      const std::string kind = Str(entry, "kind");
      nlohmann::json codings = nlohmann::json::array();
      for (const TargetCode& code : knowledge_.CodesFor("procedures", kind)) codings.push_back(Coding(code.system, code.code, code.display));
      codings.push_back(Coding(CodeSystemUrl(kCsProcedure), kind));
      nlohmann::json procedure{{"resourceType", "Procedure"},
                               {"status", entry.value("ongoing", false) ? "in-progress" : "completed"},
                               {"code", {{"coding", std::move(codings)}, {"text", kind}}},
                               {"subject", Subject()},
                               {"performedPeriod", {{"start", entry["start"]}}}};
      if (entry.contains("end")) procedure["performedPeriod"]["end"] = entry["end"];
      const nlohmann::json extra = Without(entry, {"kind", "start", "end", "ongoing"});
      if (!extra.empty()) procedure["extension"] = nlohmann::json::array({Extension(kExtProcedure, extra)});
      builder_.Add(fmt::format("procedure:{}", item_idx), std::move(procedure));
    }
  }

  void AdverseReactions() {
    const nlohmann::json& list = raw_.value("adverse_reactions", nlohmann::json::array());
    for (std::size_t item_idx = 0; item_idx < list.size(); ++item_idx) {
      const nlohmann::json& entry = list[item_idx];
      nlohmann::json reaction{{"manifestation", nlohmann::json::array({{{"text", entry["reaction"]}}})}};
      const std::string severity = Str(entry, "severity");
      if (severity == "mild" || severity == "moderate" || severity == "severe") reaction["severity"] = severity;
      if (severity == "life_threatening") reaction["severity"] = "severe";
      nlohmann::json allergy{{"resourceType", "AllergyIntolerance"},
                             {"type", "intolerance"},
                             {"category", nlohmann::json::array({"medication"})},
                             {"code", MedicationConcept(Str(entry, "drug"), nullptr)},
                             {"patient", Subject()},
                             {"reaction", nlohmann::json::array({std::move(reaction)})}};
      if (entry.contains("date")) allergy["onsetDateTime"] = entry["date"];
      nlohmann::json extra = Without(entry, {"drug", "reaction", "date"});
      if (severity != "life_threatening") extra.erase("severity");
      if (!extra.empty()) allergy["extension"] = nlohmann::json::array({Extension(kExtReaction, extra)});
      builder_.Add(fmt::format("reaction:{}", item_idx), std::move(allergy));
    }
  }

  // --- assessment ---

  nlohmann::json DerivedObservation(const std::string& code, const std::string& display, const refract::Assessment& assessment) const {
    return {{"resourceType", "Observation"},
            {"meta", Tag("derived")},
            {"status", "final"},
            {"code", {{"coding", nlohmann::json::array({Coding(CodeSystemUrl(kCsAssessment), code, display)})}, {"text", display}}},
            {"subject", Subject()},
            {"effectiveDateTime", FormatDate(assessment.as_of)},
            {"device", builder_.Reference("device")}};
  }

  static nlohmann::json Notes(const std::vector<std::string>& lines) {
    nlohmann::json notes = nlohmann::json::array();
    for (const std::string& line : lines) notes.push_back({{"text", line}});
    return notes;
  }

  static std::string Cite(const std::string& rule, const std::vector<std::string>& sources) {
    return fmt::format("rule {}{}", rule.empty() ? "(none)" : rule, sources.empty() ? "" : fmt::format("; sources {}", fmt::join(sources, ", ")));
  }

  void ExportAssessment(const refract::Assessment& assessment, const InteractionReport* interactions, const std::string& timestamp) {
    const std::size_t first = builder_.size();
    builder_.Add("device", {{"resourceType", "Device"},
                            {"meta", Tag("derived")},
                            {"deviceName", nlohmann::json::array({{{"name", options_.engine.name}, {"type", "manufacturer-name"}}})},
                            {"version", nlohmann::json::array({{{"type", {{"text", "engine"}}}, {"value", options_.engine.version}},
                                                               {{"type", {{"text", "kb_version"}}}, {"value", assessment.kb_version}},
                                                               {{"type", {{"text", "kb_digest"}}}, {"value", assessment.kb_digest}}})},
                            {"note", nlohmann::json::array({{{"text", fmt::format("knowledge base: {}", assessment.kb_origin)}}})}});
    // Scores: one Observation per administration, with the band.
    for (const ScaleResult& result : assessment.measurement.administrations) {
      const FhirScale* scale = knowledge_.FindScale(result.scale_id);
      nlohmann::json codings = nlohmann::json::array();
      if (scale != nullptr && !scale->definition.loinc_total.empty()) codings.push_back(Coding(kLoinc, scale->definition.loinc_total, result.short_name + " total score"));
      codings.push_back(Coding(CodeSystemUrl(kCsScale), result.scale_id, result.short_name));
      nlohmann::json observation{{"resourceType", "Observation"},
                                 {"meta", Tag("score")},
                                 {"status", "final"},
                                 {"category", Category("survey")},
                                 {"code", {{"coding", std::move(codings)}, {"text", result.short_name + " total score"}}},
                                 {"subject", Subject()},
                                 {"effectiveDateTime", FormatDate(result.date)}};
      if (result.total) {
        observation["valueQuantity"] = ScoreQuantity(*result.total);
      } else {
        observation["dataAbsentReason"] = {{"text", "incomplete: a required item is unanswered"}};
      }
      if (!result.band.empty()) {
        observation["interpretation"] = nlohmann::json::array({{{"coding", nlohmann::json::array({Coding(CodeSystemUrl("mbc-band"), Slug(result.band), result.band)})}, {"text", result.band}}});
      }
      if (const std::string qr = builder_.Url(fmt::format("qr:{}", result.input_index)); !qr.empty()) {
        observation["derivedFrom"] = nlohmann::json::array({{{"reference", qr}}});
      }
      std::vector<std::string> notes;
      if (!result.screen.empty() && result.screen != "not_applicable") notes.push_back(fmt::format("screen {}: {}", result.screen_name, result.screen));
      for (const Finding& finding : result.findings) notes.push_back(finding.message);
      if (!notes.empty()) observation["note"] = Notes(notes);
      builder_.Add(fmt::format("score:{}", result.input_index), std::move(observation));
    }
    // TRD status.
    const TrdAssessment& trd = assessment.trd;
    nlohmann::json status = DerivedObservation("trd-status", "Treatment-resistant depression status", assessment);
    status["valueCodeableConcept"] = {{"coding", nlohmann::json::array({Coding(CodeSystemUrl("trd-status"), TrdStatusName(trd.status))})},
                                      {"text", std::string(TrdStatusName(trd.status))}};
    status["component"] = nlohmann::json::array(
        {{{"code", {{"coding", nlohmann::json::array({Coding(CodeSystemUrl(kCsAssessment), "failed-adequate-trials")})}}}, {"valueInteger", trd.failed_adequate_trials}},
         {{"code", {{"coding", nlohmann::json::array({Coding(CodeSystemUrl(kCsAssessment), "required-failed-trials")})}}}, {"valueInteger", trd.required}}});
    std::vector<std::string> lines{Cite(trd.rule, trd.sources)};
    for (const Finding& finding : trd.findings) lines.push_back(finding.message);
    status["note"] = Notes(lines);
    nlohmann::json derived_from = nlohmann::json::array();
    for (const int trial_index : trd.failed_trial_indices) {
      for (const TrialAssessment& trial : assessment.trials) {
        if (trial.index != trial_index) continue;
        if (const std::string url = builder_.Url(fmt::format("med:{}", trial.input_index)); !url.empty()) derived_from.push_back({{"reference", url}});
      }
    }
    if (!derived_from.empty()) status["derivedFrom"] = std::move(derived_from);
    builder_.Add("trd-status", std::move(status));
    // Stages.
    nlohmann::json thase = DerivedObservation("stage-thase-rush", assessment.thase_rush.label.empty() ? "Thase and Rush stage" : "Thase and Rush stage", assessment);
    thase["valueInteger"] = assessment.thase_rush.stage;
    thase["note"] = Notes(Lines(assessment.thase_rush.explanation, assessment.thase_rush.label));
    builder_.Add("stage-thase-rush", std::move(thase));
    nlohmann::json european = DerivedObservation("stage-european", "European Staging Method", assessment);
    european["valueCodeableConcept"] = {{"coding", nlohmann::json::array({Coding(CodeSystemUrl("stage-european"), assessment.european.category)})},
                                        {"text", assessment.european.category}};
    european["note"] = Notes(Lines(assessment.european.explanation, {}));
    builder_.Add("stage-european", std::move(european));
    nlohmann::json maudsley = DerivedObservation("stage-maudsley", "Maudsley Staging Method", assessment);
    if (assessment.maudsley.total) {
      maudsley["valueInteger"] = *assessment.maudsley.total;
    } else {
      maudsley["dataAbsentReason"] = {{"text", assessment.maudsley.applicable ? "a component is unknown" : "not applicable"}};
    }
    if (!assessment.maudsley.band.empty()) maudsley["interpretation"] = nlohmann::json::array({{{"text", assessment.maudsley.band}}});
    maudsley["note"] = Notes(Lines(assessment.maudsley.explanation, {}));
    builder_.Add("stage-maudsley", std::move(maudsley));
    nlohmann::json mgh = DerivedObservation("stage-mgh", "MGH staging score", assessment);
    mgh["valueQuantity"] = {{"value", assessment.mgh.score}};
    mgh["note"] = Notes(Lines(assessment.mgh.explanation, {}));
    builder_.Add("stage-mgh", std::move(mgh));
    // Alerts and interactions as DetectedIssues; their actions become the CarePlan.
    nlohmann::json activities = nlohmann::json::array();
    for (std::size_t alert_idx = 0; alert_idx < assessment.alerts.size(); ++alert_idx) {
      const Alert& alert = assessment.alerts[alert_idx];
      nlohmann::json issue{{"resourceType", "DetectedIssue"},
                           {"meta", Tag("derived")},
                           {"status", "final"},
                           {"code", {{"coding", nlohmann::json::array({Coding(CodeSystemUrl("alert"), alert.finding.code)})}, {"text", alert.finding.code}}},
                           {"severity", alert.severity == AlertSeverity::Critical ? "high" : alert.severity == AlertSeverity::Warning ? "moderate" : "low"},
                           {"patient", Subject()},
                           {"identifiedDateTime", FormatDate(assessment.as_of)},
                           {"author", builder_.Reference("device")},
                           {"detail", alert.finding.message + " (" + Cite(alert.finding.rule, alert.finding.sources) + ")"}};
      if (!alert.finding.rule.empty()) issue["reference"] = fmt::format("{}/kb/{}", kRefractBase, alert.finding.rule);
      builder_.Add(fmt::format("alert:{}", alert_idx), std::move(issue));
    }
    if (interactions != nullptr) {
      for (std::size_t finding_idx = 0; finding_idx < interactions->findings.size(); ++finding_idx) {
        const InteractionFinding& finding = interactions->findings[finding_idx];
        const bool high = finding.severity == InteractionSeverity::Contraindicated || finding.severity == InteractionSeverity::Major;
        nlohmann::json implicated = nlohmann::json::array();
        for (const InvolvedDrug& drug : finding.drugs) {
          std::string key;
          if (drug.origin.rfind("medications[", 0) == 0) key = "med:" + drug.origin.substr(12, drug.origin.size() - 13);
          if (drug.origin.rfind("other_medications[", 0) == 0) key = "other:" + drug.origin.substr(18, drug.origin.size() - 19);
          if (const std::string url = builder_.Url(key); !url.empty()) implicated.push_back({{"reference", url}});
        }
        nlohmann::json issue{{"resourceType", "DetectedIssue"},
                             {"meta", Tag("derived")},
                             {"status", "final"},
                             {"code",
                              {{"coding", nlohmann::json::array({Coding(CodeSystemUrl("interaction"), finding.code), Coding(CodeSystemUrl("interaction-category"), finding.category)})},
                               {"text", finding.category}}},
                             {"severity", high ? "high" : finding.severity == InteractionSeverity::Moderate ? "moderate" : "low"},
                             {"patient", Subject()},
                             {"identifiedDateTime", FormatDate(interactions->as_of)},
                             {"author", builder_.Reference("device")},
                             {"detail", fmt::format("{} ({}: {}). {}", finding.message, InteractionSeverityName(finding.severity), Cite(finding.rule, finding.sources),
                                                    finding.mechanism)},
                             {"reference", fmt::format("{}/kb/{}", kRefractBase, finding.rule)}};
        if (!implicated.empty()) issue["implicated"] = std::move(implicated);
        if (!finding.action.empty()) issue["mitigation"] = nlohmann::json::array({{{"action", {{"text", finding.action}}}}});
        const std::string url = builder_.Add(fmt::format("interaction:{}", finding_idx), std::move(issue));
        if (!finding.action.empty() && finding.severity >= InteractionSeverity::Moderate && finding.timing != InteractionTiming::Past) {
          activities.push_back({{"detail", {{"status", "not-started"}, {"description", finding.action}}}, {"reference", {{"reference", url}}}});
        }
      }
    }
    // FHIR R4: CarePlan.activity.reference and .detail are exclusive; keep the detail and cite the issue in it.
    for (auto& activity : activities) {
      activity["detail"]["reasonReference"] = nlohmann::json::array({activity["reference"]});
      activity.erase("reference");
    }
    // The monitoring checklists of current treatments, one activity per dated check. Plans of options
    // not started yet stay out: they are proposals of the assessment, not care under way.
    if (assessment.next_steps) {
      for (const MonitoringResult& plan : assessment.next_steps->monitoring) {
        if (plan.basis != "current") continue;
        for (const MonitoringEntry& entry : plan.checklist) {
          // Recorded: a matching result exists; past without one: not done as far as the record shows.
          const std::string activity_status = entry.recorded_on ? "completed" : entry.timing == "past" ? "not-started" : "scheduled";
          nlohmann::json detail{{"code", {{"coding", nlohmann::json::array({Coding(CodeSystemUrl("monitoring"), plan.plan + "#" + entry.item)})}, {"text", entry.what}}},
                                {"status", activity_status},
                                {"scheduledTiming", {{"event", nlohmann::json::array({FormatDate(entry.date)})}}},
                                {"description", fmt::format("{} (day {} of {} from {}; {})", entry.what, entry.day, plan.treatment, FormatDate(plan.start), plan.name)}};
          if (entry.recorded_on) detail["statusReason"] = {{"text", fmt::format("result recorded on {}", FormatDate(*entry.recorded_on))}};
          activities.push_back({{"detail", std::move(detail)}});
        }
      }
    }
    if (!activities.empty()) {
      builder_.Add("careplan", {{"resourceType", "CarePlan"},
                                {"meta", Tag("derived")},
                                {"status", "active"},
                                {"intent", "proposal"},
                                {"title", "refract: monitoring and management steps"},
                                {"subject", Subject()},
                                {"created", timestamp},
                                {"activity", std::move(activities)}});
    }
    nlohmann::json targets = nlohmann::json::array();
    for (const std::string& url : builder_.UrlsFrom(first)) targets.push_back({{"reference", url}});
    builder_.Add("provenance", {{"resourceType", "Provenance"},
                                {"meta", Tag("derived")},
                                {"target", std::move(targets)},
                                {"recorded", timestamp},
                                {"policy", nlohmann::json::array({fmt::format("{}/kb/{}", kRefractBase, assessment.kb_version)})},
                                {"reason", nlohmann::json::array({{{"text", fmt::format("assessed as of {} with criteria {}", FormatDate(assessment.as_of),
                                                                                         assessment.criteria != nullptr ? assessment.criteria->id : "(default)")}}})},
                                {"agent", nlohmann::json::array({{{"type", {{"coding", nlohmann::json::array({Coding("http://terminology.hl7.org/CodeSystem/provenance-participant-type", "assembler")})}}},
                                                                  {"who", builder_.Reference("device")}}})},
                                {"entity", nlohmann::json::array({{{"role", "source"}, {"what", builder_.Reference("patient")}}})}});
  }

  static std::vector<std::string> Lines(const StagingExplanation& explanation, const std::string& label) {
    std::vector<std::string> lines;
    if (!label.empty()) lines.push_back(label);
    lines.insert(lines.end(), explanation.computation.begin(), explanation.computation.end());
    for (const std::string& ambiguity : explanation.ambiguities) lines.push_back("ambiguity: " + ambiguity);
    lines.push_back(Cite(explanation.rule, explanation.sources));
    return lines;
  }

  const FhirKnowledge& knowledge_;
  const KnowledgeBase& kb_;
  const PatientRecord& record_;
  const nlohmann::json& raw_;
  const ExportOptions& options_;
  BundleBuilder builder_;
};

}  // namespace

nlohmann::json ExportBundle(const FhirKnowledge& knowledge, const PatientRecord& record, const Assessment* assessment,
                            const InteractionReport* interactions, const ExportOptions& options) {
  Exporter exporter(knowledge, record, options);
  return exporter.Run(assessment, interactions);
}

}  // namespace refract::fhir
