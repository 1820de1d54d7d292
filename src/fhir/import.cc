// SPDX-License-Identifier: Apache-2.0
// FHIR Bundle -> patient record: bundle index, patient choice, Patient, Condition, Procedure and
// AllergyIntolerance readers, record assembly with the optional full check, and the import report.
#include "refract/fhir/import.h"

#include <algorithm>

#include <fmt/format.h>

#include "fhir_json.h"
#include "import_internal.h"
#include "refract/core/text.h"

namespace refract::fhir {

std::string_view IssueLevelName(IssueLevel level) {
  switch (level) {
    case IssueLevel::Error:
      return "error";
    case IssueLevel::Warning:
      return "warning";
    case IssueLevel::Info:
      return "info";
  }
  return "info";
}

std::string_view ResourceOutcomeName(ResourceOutcome outcome) {
  switch (outcome) {
    case ResourceOutcome::Imported:
      return "imported";
    case ResourceOutcome::Partial:
      return "partial";
    case ResourceOutcome::NotImported:
      return "not_imported";
    case ResourceOutcome::Ignored:
      return "ignored";
  }
  return "ignored";
}

int ImportReport::Count(ResourceOutcome outcome) const {
  return static_cast<int>(std::count_if(resources.begin(), resources.end(), [&](const ResourceResult& result) { return result.outcome == outcome; }));
}

int ImportReport::Count(IssueLevel level) const {
  int count = 0;
  for (const ResourceResult& result : resources) {
    count += static_cast<int>(std::count_if(result.issues.begin(), result.issues.end(), [&](const ImportIssue& issue) { return issue.level == level; }));
  }
  count += static_cast<int>(std::count_if(record_issues.begin(), record_issues.end(), [&](const ImportIssue& issue) { return issue.level == level; }));
  return count;
}

const std::vector<std::string>& ExtensionArrays() {
  static const std::vector<std::string> kArrays = {"side_effects", "psychotherapy", "entries", "notes"};
  return kArrays;
}

namespace {

// Resource types that carry nothing refract reads; they are listed as ignored, with the reason.
constexpr std::string_view kContextTypes[] = {"Practitioner", "PractitionerRole", "Organization", "Location", "Encounter", "EpisodeOfCare",
                                              "Medication", "Questionnaire", "Provenance", "Device", "Coverage", "Claim",
                                              "ExplanationOfBenefit", "DiagnosticReport", "ImagingStudy", "Immunization", "CareTeam",
                                              "Goal", "DocumentReference", "ServiceRequest", "Specimen", "RelatedPerson", "Appointment",
                                              "SupplyDelivery", "Composition", "CarePlan", "DetectedIssue", "RiskAssessment", "Task"};

bool IsDerivedByRefract(const nlohmann::json& resource) {
  const nlohmann::json* meta = Find(resource, "meta");
  if (meta == nullptr) return false;
  for (const auto& tag : Array(*meta, "tag")) {
    if (Str(tag, "system") == CodeSystemUrl(kCsTags) && Str(tag, "code") == "derived") return true;
  }
  return false;
}

// "https://ehr.example/fhir/Patient/p1" and "Patient/p1/_history/2" both name Patient/p1.
std::string RelativeReference(std::string_view reference) {
  std::string text(reference);
  if (const auto history = text.find("/_history/"); history != std::string::npos) text.resize(history);
  if (text.rfind("urn:", 0) == 0 || text.rfind('#', 0) == 0) return text;
  const auto last = text.rfind('/');
  if (last == std::string::npos || last == 0) return text;
  const auto before = text.rfind('/', last - 1);
  return before == std::string::npos ? text : text.substr(before + 1);
}

}  // namespace

Importer::Importer(const FhirKnowledge& fhir_knowledge, const nlohmann::json& bundle, const ImportOptions& options)
    : knowledge(fhir_knowledge), bundle_(bundle), options_(options) {
  report_.label = options.label;
}

void Importer::Issue(std::size_t resource, IssueLevel level, std::string code, std::string message, std::string location) {
  report_.resources[resource].issues.push_back(ImportIssue{level, std::move(code), std::move(message), std::move(location)});
}

void Importer::Ignore(std::size_t resource, std::string message) {
  report_.resources[resource].outcome = ResourceOutcome::Ignored;
  Issue(resource, IssueLevel::Info, "ignored", std::move(message), resources_[resource].pointer);
}

std::string Importer::Where(std::size_t resource, std::string_view path) const {
  return resources_[resource].pointer + std::string(path);
}

const nlohmann::json* Importer::Lookup(std::string_view reference, std::size_t from_resource) const {
  if (reference.empty()) return nullptr;
  if (reference.front() == '#') {
    for (const auto& contained : Array(*resources_[from_resource].resource, "contained")) {
      if ("#" + Str(contained, "id") == reference) return &contained;
    }
    return nullptr;
  }
  auto found = by_reference_.find(reference);
  if (found == by_reference_.end()) found = by_reference_.find(RelativeReference(reference));
  return found == by_reference_.end() ? nullptr : resources_[found->second].resource;
}

std::string Importer::ReferencedType(std::size_t from_resource, const nlohmann::json& reference) const {
  const std::string target = Str(reference, "reference");
  if (target.empty()) return {};
  if (const nlohmann::json* found = Lookup(target, from_resource)) return Str(*found, "resourceType");
  const std::string relative = RelativeReference(target);
  const auto slash = relative.find('/');
  return slash == std::string::npos || relative.rfind("urn:", 0) == 0 ? std::string() : relative.substr(0, slash);
}

std::optional<FhirDate> Importer::ReadDate(std::size_t resource, const nlohmann::json& text, std::string_view path, bool end) {
  if (!text.is_string()) {
    Issue(resource, IssueLevel::Error, "invalid", fmt::format("{} is not a date", text.dump()), Where(resource, path));
    return std::nullopt;
  }
  const std::string value = text.get<std::string>();
  auto date = ParseFhirDate(value, end);
  if (!date) {
    Issue(resource, IssueLevel::Error, "invalid", fmt::format("\"{}\" is not a FHIR date or dateTime", value), Where(resource, path));
    return std::nullopt;
  }
  if (date->precision != "day") {
    Issue(resource, IssueLevel::Warning, "partial_date",
          fmt::format("partial date \"{}\" read as {} ({} of the {})", value, FormatDate(date->date), end ? "last day" : "first day", date->precision),
          Where(resource, path));
  }
  return date;
}

void Importer::Add(std::string_view list, nlohmann::json value, std::size_t resource) {
  lists_[std::string(list)].push_back(RecordElement{std::move(value), {resource}});
}

Result<bool> Importer::ChoosePatient() {
  std::vector<std::size_t> patients;
  for (std::size_t resource = 0; resource < resources_.size(); ++resource) {
    if (resources_[resource].resource != nullptr && Str(*resources_[resource].resource, "resourceType") == "Patient") patients.push_back(resource);
  }
  const auto record_id_of = [&](std::size_t resource) {
    const nlohmann::json& patient = *resources_[resource].resource;
    for (const auto& identifier : Array(patient, "identifier")) {
      if (Str(identifier, "system") == kPatientIdSystem && !Str(identifier, "value").empty()) return Str(identifier, "value");
    }
    if (!Str(patient, "id").empty()) return Str(patient, "id");
    return resources_[resource].full_url;
  };
  if (!options_.patient_id.empty()) {
    for (std::size_t resource : patients) {
      const nlohmann::json& patient = *resources_[resource].resource;
      if (Str(patient, "id") == options_.patient_id || record_id_of(resource) == options_.patient_id) patient_ = resource;
    }
    if (!patient_ && !patients.empty()) {
      return Fail(ErrorCode::InvalidInput, fmt::format("the bundle has no Patient with id \"{}\"", options_.patient_id), options_.label + "#/entry");
    }
    record_id_ = patient_ ? record_id_of(*patient_) : options_.patient_id;
    patient_references_.insert("Patient/" + options_.patient_id);
  } else if (patients.size() == 1) {
    patient_ = patients.front();
    record_id_ = record_id_of(*patient_);
  } else if (patients.empty()) {
    return Fail(ErrorCode::InvalidInput, "the bundle has no Patient resource (give the patient id to import it anyway)", options_.label + "#/entry");
  } else {
    std::vector<std::string> ids;
    for (std::size_t resource : patients) ids.push_back(ResourceKey(*resources_[resource].resource));
    return Fail(ErrorCode::InvalidInput,
                fmt::format("the bundle holds {} patients ({}): choose one with the patient id", patients.size(), fmt::join(ids, ", ")),
                options_.label + "#/entry");
  }
  if (patient_) {
    const nlohmann::json& patient = *resources_[*patient_].resource;
    if (!Str(patient, "id").empty()) patient_references_.insert("Patient/" + Str(patient, "id"));
    if (!resources_[*patient_].full_url.empty()) patient_references_.insert(resources_[*patient_].full_url);
  }
  if (record_id_.empty()) return Fail(ErrorCode::InvalidInput, "the Patient has no id", options_.label + "#/entry");
  if (record_id_.size() > 128) record_id_ = record_id_.substr(0, 128);
  return true;
}

bool Importer::BelongsToPatient(std::size_t resource) {
  const nlohmann::json& body = *resources_[resource].resource;
  for (const char* key : {"subject", "patient"}) {
    const nlohmann::json* reference = Find(body, key);
    if (reference == nullptr) continue;
    const std::string target = Str(*reference, "reference");
    if (target.empty()) continue;
    if (patient_references_.count(target) > 0 || patient_references_.count(RelativeReference(target)) > 0) return true;
    const nlohmann::json* referenced = Lookup(target, resource);
    const bool names_a_patient = referenced != nullptr ? Str(*referenced, "resourceType") == "Patient"
                                                       : RelativeReference(target).rfind("Patient/", 0) == 0;
    if (!names_a_patient) return true;  // A Group or another kind of subject: not a different patient.
    report_.resources[resource].outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "other_patient", fmt::format("belongs to {}, not to the imported patient", target),
          Where(resource, "/" + std::string(key)));
    return false;
  }
  return true;
}

Result<ImportResult> Importer::Run() {
  if (!bundle_.is_object() || Str(bundle_, "resourceType") != "Bundle") {
    const std::string type = bundle_.is_object() ? Str(bundle_, "resourceType") : std::string(bundle_.type_name());
    return Fail(ErrorCode::InvalidInput, fmt::format("not a FHIR Bundle (resourceType is \"{}\")", type), options_.label + "#/resourceType");
  }
  report_.bundle_type = Str(bundle_, "type");
  const nlohmann::json& entries = Array(bundle_, "entry");
  for (std::size_t entry_idx = 0; entry_idx < entries.size(); ++entry_idx) {
    const nlohmann::json& entry = entries[entry_idx];
    const std::string pointer = fmt::format("/entry/{}/resource", entry_idx);
    const nlohmann::json* resource = Find(entry, "resource");
    ResourceResult result;
    result.entry = static_cast<int>(entry_idx);
    if (resource == nullptr || !resource->is_object() || Str(*resource, "resourceType").empty()) {
      result.outcome = ResourceOutcome::NotImported;
      result.issues.push_back(ImportIssue{IssueLevel::Error, "invalid", "entry has no resource with a resourceType", fmt::format("/entry/{}", entry_idx)});
      report_.resources.push_back(std::move(result));
      resources_.push_back(Indexed{nullptr, Str(entry, "fullUrl"), pointer});
      continue;
    }
    result.type = Str(*resource, "resourceType");
    result.id = Str(*resource, "id");
    report_.resources.push_back(std::move(result));
    resources_.push_back(Indexed{resource, Str(entry, "fullUrl"), pointer});
    const std::size_t index = resources_.size() - 1;
    if (!Str(entry, "fullUrl").empty()) by_reference_.emplace(Str(entry, "fullUrl"), index);
    if (!Str(*resource, "id").empty()) by_reference_.emplace(ResourceKey(*resource), index);
  }
  if (auto chosen = ChoosePatient(); !chosen) return tl::unexpected(chosen.error());
  report_.patient_id = record_id_;
  for (std::size_t resource = 0; resource < resources_.size(); ++resource) {
    if (resources_[resource].resource == nullptr) continue;
    ReadResource(resource);
  }
  BuildCourses();
  BuildScales();
  BuildProcedures();
  Finish();
  nlohmann::json record = Assemble();
  // The optional full check removes what the record parser rejects, one element at a time.
  for (int attempt = 0; options_.check && attempt < 64; ++attempt) {
    const std::optional<Error> problem = options_.check(record);
    if (!problem) break;
    const std::string& location = problem->location;
    const auto hash = location.find('#');
    const std::string pointer = hash == std::string::npos ? std::string() : location.substr(hash + 1);
    std::vector<std::string> tokens;
    for (std::size_t from = 1; from <= pointer.size() && !pointer.empty();) {
      const auto slash = pointer.find('/', from);
      tokens.push_back(pointer.substr(from, slash == std::string::npos ? std::string::npos : slash - from));
      if (slash == std::string::npos) break;
      from = slash + 1;
    }
    std::set<std::size_t> blamed;
    bool removed = false;
    if (tokens.size() >= 2 && lists_.count(tokens[0]) > 0 && std::all_of(tokens[1].begin(), tokens[1].end(), ::isdigit)) {
      auto& list = lists_[tokens[0]];
      const std::size_t element = std::stoul(tokens[1]);
      if (element < list.size()) {
        blamed = list[element].resources;
        list.erase(list.begin() + static_cast<long>(element));
        removed = true;
      }
    } else if (!tokens.empty()) {
      for (nlohmann::json* part : {&person_, &history_}) {
        if (tokens.size() >= 2 && part->contains(tokens[1])) {
          part->erase(tokens[1]);
          blamed = patient_part_resources_;
          removed = true;
        }
      }
      if (!removed && tokens[0] == "episode" && episode_) {
        blamed = episode_->resources;
        episode_.reset();
        removed = true;
      }
    }
    if (!removed) {
      report_.record_issues.push_back(ImportIssue{IssueLevel::Error, "rejected", fmt::format("the record check failed: {}", problem->message), pointer});
      break;
    }
    for (std::size_t resource : blamed) {
      Issue(resource, IssueLevel::Error, "rejected", fmt::format("removed from the record ({}): {}", pointer, problem->message), Where(resource));
    }
    Finish();
    record = Assemble();
  }
  return ImportResult{std::move(record), std::move(report_)};
}

void Importer::ReadResource(std::size_t resource) {
  const nlohmann::json& body = *resources_[resource].resource;
  const std::string type = Str(body, "resourceType");
  if (IsDerivedByRefract(body)) {
    Ignore(resource, "an assessment output of refract (tagged derived), not patient data");
    return;
  }
  if (type == "Patient") {
    if (patient_ && *patient_ == resource) {
      ReadPatient(resource);
    } else {
      Ignore(resource, "another patient; only the chosen patient is imported");
    }
    return;
  }
  if (std::find(std::begin(kContextTypes), std::end(kContextTypes), type) != std::end(kContextTypes)) {
    Ignore(resource, fmt::format("{} carries nothing the assessment reads", type));
    return;
  }
  if (!BelongsToPatient(resource)) return;
  if (type == "Condition") return ReadCondition(resource);
  if (type == "MedicationStatement" || type == "MedicationRequest" || type == "MedicationDispense" || type == "MedicationAdministration") {
    return ReadMedication(resource);
  }
  if (type == "Observation") return ReadObservation(resource);
  if (type == "QuestionnaireResponse") return ReadQuestionnaireResponse(resource);
  if (type == "Procedure") return ReadProcedure(resource);
  if (type == "AllergyIntolerance") return ReadAllergy(resource);
  report_.resources[resource].outcome = ResourceOutcome::NotImported;
  Issue(resource, IssueLevel::Error, "unsupported", fmt::format("resource type {} is not read by refract", type), Where(resource));
}

void Importer::ReadPatient(std::size_t resource) {
  const nlohmann::json& patient = *resources_[resource].resource;
  patient_part_resources_.insert(resource);
  report_.resources[resource].into.push_back("id");
  if (const nlohmann::json* birth = Find(patient, "birthDate")) {
    if (auto date = ReadDate(resource, *birth, "/birthDate"); date && date->precision == "day") {
      person_["birth_date"] = FormatDate(date->date);
    } else if (date) {
      person_.erase("birth_date");
      Issue(resource, IssueLevel::Error, "partial_date", "a birth date without a day is not recorded (age unknown)", Where(resource, "/birthDate"));
    }
  }
  const std::string gender = Str(patient, "gender");
  if (gender == "female" || gender == "male" || gender == "other" || gender == "unknown") {
    person_["sex"] = gender;
  } else if (!gender.empty()) {
    Issue(resource, IssueLevel::Error, "invalid", fmt::format("gender \"{}\" is not a FHIR administrative gender", gender), Where(resource, "/gender"));
  }
  if (const auto* extension = FindExtension(patient, ExtensionUrl(kExtPerson))) {
    const nlohmann::json extra = FromSubExtensions(*extension, ExtensionArrays());
    for (const auto& [key, value] : extra.items()) person_[key] = value;
  }
  if (const auto* extension = FindExtension(patient, ExtensionUrl(kExtHistory))) history_ = FromSubExtensions(*extension, ExtensionArrays());
  if (const auto* extension = FindExtension(patient, ExtensionUrl(kExtRecord))) record_extras_ = FromSubExtensions(*extension, ExtensionArrays());
  for (const auto& extension : Array(patient, "extension")) {
    if (Str(extension, "url") != ExtensionUrl(kExtDailyLog)) continue;
    Add("daily_log", FromSubExtensions(extension, ExtensionArrays()), resource);
  }
  report_.resources[resource].into.push_back("person");
}

void Importer::ReadCondition(std::size_t resource) {
  const nlohmann::json& condition = *resources_[resource].resource;
  ResourceResult& result = report_.resources[resource];
  const auto status_code = [&](const char* key) {
    const nlohmann::json* codeable = Find(condition, key);
    if (codeable == nullptr) return std::string();
    for (const nlohmann::json* coding : Codings(*codeable)) {
      if (!Str(*coding, "code").empty()) return Str(*coding, "code");
    }
    return std::string();
  };
  const std::string verification = status_code("verificationStatus");
  const std::string clinical = status_code("clinicalStatus");
  const bool has_status = !verification.empty() || !clinical.empty();
  if (verification == "entered-in-error") {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Info, "entered_in_error", "verificationStatus is entered-in-error", Where(resource, "/verificationStatus"));
    return;
  }
  std::optional<std::string> onset;
  for (const char* key : {"onsetDateTime", "onsetPeriod"}) {
    const nlohmann::json* value = Find(condition, key);
    if (value == nullptr) continue;
    const nlohmann::json& text = value->is_object() ? (Find(*value, "start") != nullptr ? *Find(*value, "start") : *value) : *value;
    if (auto date = ReadDate(resource, text, std::string("/") + key)) onset = FormatDate(date->date);
  }
  if (const auto* extension = FindExtension(condition, ExtensionUrl(kExtEpisode))) {
    if (episode_) {
      Issue(resource, IssueLevel::Error, "duplicate", "a second current episode; the first one is kept", Where(resource, "/extension"));
      result.outcome = ResourceOutcome::NotImported;
      return;
    }
    episode_ = RecordElement{FromSubExtensions(*extension, ExtensionArrays()), {resource}};
    result.into.push_back("episode");
    return;
  }
  const nlohmann::json* code = Find(condition, "code");
  if (code == nullptr || (Codings(*code).empty() && ConceptText(*code).empty())) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "no_code", "Condition has no code", Where(resource, "/code"));
    return;
  }
  const bool refuted = verification == "refuted";
  const bool suspected = verification == "unconfirmed" || verification == "provisional" || verification == "differential";
  const bool resolved = clinical == "resolved" || clinical == "inactive";
  const bool remission = clinical == "remission";
  std::string kind;
  const RecordTarget* target = nullptr;
  const nlohmann::json* matched = nullptr;
  if (const auto* coding = CodingWithSystem(*code, CodeSystemUrl(kCsDiagnosis))) kind = Str(*coding, "code");
  for (const nlohmann::json* coding : Codings(*code)) {
    if (target != nullptr) break;
    target = knowledge.FindCode("Condition", Str(*coding, "system"), Str(*coding, "code"));
    if (target != nullptr) matched = coding;
  }
  // The record's own code: the coding the sender selected, else (not refract's export) the one that matched.
  const nlohmann::json* selected = nullptr;
  for (const nlohmann::json* coding : Codings(*code)) {
    if (OptBool(*coding, "userSelected").value_or(false)) selected = coding;
  }
  const bool from_refract = CodingWithSystem(*code, CodeSystemUrl(kCsDiagnosis)) != nullptr || CodingWithSystem(*code, CodeSystemUrl(kCsCondition)) != nullptr;
  nlohmann::json record_code;
  for (const nlohmann::json* coding : Codings(*code)) {
    if (selected != nullptr && coding != selected) continue;
    if (selected == nullptr && (from_refract || (matched != nullptr && coding != matched))) continue;
    const std::string system = RecordSystem(Str(*coding, "system"));
    if (system.empty() || system == "local" || Str(*coding, "code").empty()) continue;
    record_code = {{"system", system}, {"code", Str(*coding, "code")}};
    if (!Str(*coding, "display").empty()) record_code["display"] = Str(*coding, "display");
    break;
  }
  // refract's export writes the record's name as the text; a sender's display is a name only in other bundles.
  const std::string text = from_refract ? Str(*code, "text") : ConceptText(*code);
  if (!kind.empty() || (target != nullptr && target->list == "diagnoses")) {
    nlohmann::json diagnosis{{"kind", !kind.empty() ? kind : target->value}};
    if (!record_code.is_null()) diagnosis["code"] = record_code;
    if (!text.empty()) diagnosis["name"] = text;
    if (onset) diagnosis["onset"] = *onset;
    if (has_status) diagnosis["status"] = refuted ? "ruled_out" : suspected ? "suspected" : remission ? "in_remission" : resolved ? "resolved" : "active";
    Add("diagnoses", std::move(diagnosis), resource);
    return;
  }
  if (refuted) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Info, "refuted", "verificationStatus is refuted: not recorded", Where(resource, "/verificationStatus"));
    return;
  }
  if (target != nullptr && target->list == "history") {
    history_[target->value] = true;
    patient_part_resources_.insert(resource);
    result.into.push_back("history." + target->value);
    return;
  }
  nlohmann::json entry = nlohmann::json::object();
  if (has_status) entry["status"] = suspected ? "suspected" : (resolved || remission) ? "resolved" : "active";
  if (!record_code.is_null()) entry["code"] = record_code;
  if (onset) entry["onset"] = *onset;
  if (target != nullptr && target->list == "conditions") {
    // The sender's words are kept; the KB name is added when they do not contain it, so that rules find it.
    const std::string own = NormalizeName(text);
    entry["name"] = text.empty() ? target->value : own.find(target->value) != std::string::npos ? text : fmt::format("{} ({})", text, target->value);
    Add("conditions", std::move(entry), resource);
    return;
  }
  if (text.empty()) {
    result.outcome = ResourceOutcome::NotImported;
    std::vector<std::string> codes;
    for (const nlohmann::json* coding : Codings(*code)) codes.push_back(Str(*coding, "system") + "|" + Str(*coding, "code"));
    Issue(resource, IssueLevel::Error, "unknown_code", fmt::format("code {} is in no KB value set and has no text", fmt::join(codes, ", ")), Where(resource, "/code"));
    return;
  }
  entry["name"] = text;
  Add("conditions", std::move(entry), resource);
  if (!Codings(*code).empty()) {
    Issue(resource, IssueLevel::Warning, "unknown_code",
          fmt::format("code {}|{} is in no KB value set: kept as a condition named \"{}\" (rules match condition names)",
                      Str(*Codings(*code).front(), "system"), Str(*Codings(*code).front(), "code"), text),
          Where(resource, "/code"));
  }
}

void Importer::ReadProcedure(std::size_t resource) {
  const nlohmann::json& procedure = *resources_[resource].resource;
  ResourceResult& result = report_.resources[resource];
  const std::string status = Str(procedure, "status");
  if (status == "not-done" || status == "entered-in-error" || status == "preparation") {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Info, "status", fmt::format("status {}: not a procedure the patient had", status), Where(resource, "/status"));
    return;
  }
  const nlohmann::json* code = Find(procedure, "code");
  std::string kind;
  if (code != nullptr) {
    if (const auto* coding = CodingWithSystem(*code, CodeSystemUrl(kCsProcedure))) kind = Str(*coding, "code");
    for (const nlohmann::json* coding : Codings(*code)) {
      if (!kind.empty()) break;
      if (const RecordTarget* target = knowledge.FindCode("Procedure", Str(*coding, "system"), Str(*coding, "code"))) kind = target->value;
    }
  }
  if (kind.empty()) {
    result.outcome = ResourceOutcome::NotImported;
    std::string codes;
    if (code != nullptr) {
      for (const nlohmann::json* coding : Codings(*code)) codes += (codes.empty() ? "" : ", ") + Str(*coding, "system") + "|" + Str(*coding, "code");
    }
    Issue(resource, IssueLevel::Error, "unknown_code",
          codes.empty() ? std::string("Procedure has no code") : fmt::format("procedure code {} is in no KB value set (ECT, TMS)", codes),
          Where(resource, "/code"));
    return;
  }
  ProcedureSegment segment{resource, kind, {}, std::nullopt, status == "in-progress", nullptr};
  std::optional<FhirDate> start;
  if (const nlohmann::json* period = Find(procedure, "performedPeriod")) {
    if (const nlohmann::json* from = Find(*period, "start")) start = ReadDate(resource, *from, "/performedPeriod/start");
    if (const nlohmann::json* to = Find(*period, "end")) {
      if (auto end = ReadDate(resource, *to, "/performedPeriod/end", true)) segment.end = end->date;
    }
  } else if (const nlohmann::json* when = Find(procedure, "performedDateTime")) {
    start = ReadDate(resource, *when, "/performedDateTime");
    if (start && status != "in-progress") segment.end = start->date;
  }
  if (!start) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "no_date", "Procedure has no performed date", Where(resource, "/performedPeriod"));
    return;
  }
  segment.start = start->date;
  if (segment.end && *segment.end < segment.start) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "invalid", "performed period ends before it starts", Where(resource, "/performedPeriod"));
    return;
  }
  if (segment.end) segment.ongoing = false;
  if (const auto* extension = FindExtension(procedure, ExtensionUrl(kExtProcedure))) segment.extension = FromSubExtensions(*extension, ExtensionArrays());
  procedure_segments_.push_back(std::move(segment));
}

void Importer::ReadAllergy(std::size_t resource) {
  const nlohmann::json& allergy = *resources_[resource].resource;
  ResourceResult& result = report_.resources[resource];
  const auto categories = Strings(allergy, "category");
  if (!categories.empty() && std::find(categories.begin(), categories.end(), "medication") == categories.end()) {
    Ignore(resource, fmt::format("a {} allergy, not an adverse drug reaction", fmt::join(categories, "/")));
    return;
  }
  const nlohmann::json* code = Find(allergy, "code");
  std::string drug_name;
  if (code != nullptr) {
    for (const nlohmann::json* coding : Codings(*code)) {
      if (Str(*coding, "system") != kRxNorm) continue;
      const std::string rxcui = Str(*coding, "code");
      const Drug* drug = knowledge.FindIngredient(rxcui);
      if (drug == nullptr) {
        if (const RxNormProduct* product = knowledge.FindProduct(rxcui)) drug = product->drug;
      }
      if (drug != nullptr) drug_name = drug->inn;
      break;
    }
    if (!Str(*code, "text").empty() || drug_name.empty()) drug_name = ConceptText(*code);
  }
  if (drug_name.empty()) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "no_code", "AllergyIntolerance names no drug", Where(resource, "/code"));
    return;
  }
  std::string reaction_text;
  std::string severity;
  const nlohmann::json& reactions = Array(allergy, "reaction");
  if (!reactions.empty()) {
    for (const auto& manifestation : Array(reactions[0], "manifestation")) {
      reaction_text = ConceptText(manifestation);
      if (!reaction_text.empty()) break;
    }
    if (reaction_text.empty()) reaction_text = Str(reactions[0], "description");
    severity = Str(reactions[0], "severity");
  }
  if (reaction_text.empty()) {
    result.outcome = ResourceOutcome::NotImported;
    Issue(resource, IssueLevel::Error, "no_reaction", "AllergyIntolerance records no reaction", Where(resource, "/reaction"));
    return;
  }
  nlohmann::json entry{{"drug", drug_name}, {"reaction", reaction_text}};
  if (severity == "mild" || severity == "moderate" || severity == "severe") entry["severity"] = severity;
  for (const char* key : {"onsetDateTime", "recordedDate"}) {
    const nlohmann::json* value = Find(allergy, key);
    if (value == nullptr) continue;
    if (auto date = ReadDate(resource, *value, std::string("/") + key)) entry["date"] = FormatDate(date->date);
    break;
  }
  if (const auto* extension = FindExtension(allergy, ExtensionUrl(kExtReaction))) {
    const nlohmann::json extra = FromSubExtensions(*extension, ExtensionArrays());
    for (const auto& [key, value] : extra.items()) entry[key] = value;
  }
  Add("adverse_reactions", std::move(entry), resource);
}

void Importer::Finish() {
  for (ResourceResult& result : report_.resources) {
    result.into.erase(std::remove_if(result.into.begin(), result.into.end(),
                                     [](const std::string& part) { return part.find('[') != std::string::npos; }),
                      result.into.end());
  }
  for (const auto& [list, elements] : lists_) {
    for (std::size_t element_idx = 0; element_idx < elements.size(); ++element_idx) {
      for (std::size_t resource : elements[element_idx].resources) report_.resources[resource].into.push_back(fmt::format("{}[{}]", list, element_idx));
    }
  }
  for (std::size_t resource = 0; resource < report_.resources.size(); ++resource) {
    ResourceResult& result = report_.resources[resource];
    if (result.outcome == ResourceOutcome::Ignored) continue;
    const bool has_error = std::any_of(result.issues.begin(), result.issues.end(), [](const ImportIssue& issue) { return issue.level == IssueLevel::Error; });
    if (result.into.empty()) {
      result.outcome = ResourceOutcome::NotImported;
      if (result.issues.empty()) {
        Issue(resource, IssueLevel::Error, "not_mapped", "nothing in this resource could be imported", Where(resource));
      }
      continue;
    }
    result.outcome = has_error ? ResourceOutcome::Partial : ResourceOutcome::Imported;
  }
  report_.record_issues.erase(std::remove_if(report_.record_issues.begin(), report_.record_issues.end(),
                                             [](const ImportIssue& issue) { return issue.code == "no_episode"; }),
                              report_.record_issues.end());
  if (!episode_) {
    report_.record_issues.push_back(ImportIssue{IssueLevel::Info, "no_episode",
                                                "no current-episode start in the bundle: every course counts in the current episode, and the "
                                                "assessment says so",
                                                ""});
  }
}

nlohmann::json Importer::Assemble() {
  nlohmann::json record{{"schema", "refract.patient/v1"}, {"id", record_id_}};
  if (const auto description = record_extras_.find("description"); description != record_extras_.end()) {
    record["description"] = *description;
  } else if (!record_extras_.contains("exported_by")) {
    record["description"] = fmt::format("Imported from FHIR Bundle {}", report_.label);
  }
  if (!person_.empty()) record["person"] = person_;
  if (episode_) record["episode"] = episode_->value;
  if (!history_.empty()) record["history"] = history_;
  for (const auto& [list, elements] : lists_) {
    if (elements.empty()) continue;
    nlohmann::json array = nlohmann::json::array();
    for (const RecordElement& element : elements) array.push_back(element.value);
    record[list] = std::move(array);
  }
  return record;
}

Result<ImportResult> ImportBundle(const FhirKnowledge& knowledge, const nlohmann::json& bundle, const ImportOptions& options) {
  Importer importer(knowledge, bundle, options);
  return importer.Run();
}

nlohmann::json ImportReportToJson(const ImportReport& report) {
  nlohmann::json resources = nlohmann::json::array();
  for (const ResourceResult& result : report.resources) {
    nlohmann::json issues = nlohmann::json::array();
    for (const ImportIssue& issue : result.issues) {
      issues.push_back({{"level", IssueLevelName(issue.level)}, {"code", issue.code}, {"message", issue.message}, {"location", issue.location}});
    }
    resources.push_back({{"entry", result.entry},
                         {"resource", result.type + "/" + result.id},
                         {"outcome", ResourceOutcomeName(result.outcome)},
                         {"into", result.into},
                         {"issues", std::move(issues)}});
  }
  nlohmann::json record_issues = nlohmann::json::array();
  for (const ImportIssue& issue : report.record_issues) {
    record_issues.push_back({{"level", IssueLevelName(issue.level)}, {"code", issue.code}, {"message", issue.message}, {"location", issue.location}});
  }
  return {{"schema", "refract.fhir-import-report/v1"},
          {"bundle", report.label},
          {"bundle_type", report.bundle_type},
          {"patient_id", report.patient_id},
          {"summary",
           {{"resources", report.resources.size()},
            {"imported", report.Count(ResourceOutcome::Imported)},
            {"partial", report.Count(ResourceOutcome::Partial)},
            {"not_imported", report.Count(ResourceOutcome::NotImported)},
            {"ignored", report.Count(ResourceOutcome::Ignored)},
            {"errors", report.Count(IssueLevel::Error)},
            {"warnings", report.Count(IssueLevel::Warning)}}},
          {"record_issues", std::move(record_issues)},
          {"resources", std::move(resources)}};
}

std::string ImportReportToText(const ImportReport& report) {
  std::string out = fmt::format("FHIR import of {} (Bundle {}), patient {}: {} resources: {} imported, {} partly, {} not imported, {} ignored; {} errors, {} warnings\n",
                                report.label, report.bundle_type.empty() ? "of unknown type" : report.bundle_type, report.patient_id,
                                report.resources.size(), report.Count(ResourceOutcome::Imported), report.Count(ResourceOutcome::Partial),
                                report.Count(ResourceOutcome::NotImported), report.Count(ResourceOutcome::Ignored), report.Count(IssueLevel::Error),
                                report.Count(IssueLevel::Warning));
  for (const ImportIssue& issue : report.record_issues) out += fmt::format("  record: {}: {}\n", IssueLevelName(issue.level), issue.message);
  for (const ResourceResult& result : report.resources) {
    const bool noteworthy = std::any_of(result.issues.begin(), result.issues.end(), [](const ImportIssue& issue) { return issue.level != IssueLevel::Info; });
    if (!noteworthy && result.outcome != ResourceOutcome::NotImported) continue;
    out += fmt::format("  entry {} {}/{}: {}{}\n", result.entry, result.type.empty() ? "?" : result.type, result.id,
                       ResourceOutcomeName(result.outcome), result.into.empty() ? "" : fmt::format(" -> {}", fmt::join(result.into, ", ")));
    for (const ImportIssue& issue : result.issues) {
      if (issue.level == IssueLevel::Info && result.outcome != ResourceOutcome::NotImported) continue;
      out += fmt::format("    {}: {} [{}] at {}\n", IssueLevelName(issue.level), issue.message, issue.code, issue.location);
    }
  }
  return out;
}

}  // namespace refract::fhir
