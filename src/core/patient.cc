// SPDX-License-Identifier: Apache-2.0
// Reading a refract.patient/v1 record into the engine's model.
#include "refract/core/patient.h"

#include <set>

#include "refract/core/scales.h"
#include "refract/core/text.h"

#include <fmt/format.h>

namespace refract {

std::string_view AdherenceName(Adherence value) {
  switch (value) {
    case Adherence::Good: return "good";
    case Adherence::Partial: return "partial";
    case Adherence::Poor: return "poor";
    case Adherence::Unknown: return "unknown";
  }
  return "unknown";
}

std::string_view CourseRoleName(CourseRole value) {
  switch (value) {
    case CourseRole::Monotherapy: return "monotherapy";
    case CourseRole::Augmentation: return "augmentation";
    case CourseRole::Combination: return "combination";
  }
  return "monotherapy";
}

std::string_view EpisodePlacementName(EpisodePlacement value) {
  return value == EpisodePlacement::Current ? "current" : "previous";
}

namespace {

std::string Str(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_string() ? found->get<std::string>() : std::string();
}

std::optional<Date> OptDate(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  if (found == node.end() || !found->is_string()) return std::nullopt;
  return ParseDate(found->get<std::string>());
}

bool Bool(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  return found != node.end() && found->is_boolean() && found->get<bool>();
}

std::optional<bool> OptBool(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  if (found == node.end() || !found->is_boolean()) return std::nullopt;
  return found->get<bool>();
}

std::optional<int> OptInt(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  if (found == node.end() || !found->is_number()) return std::nullopt;
  return static_cast<int>(found->get<double>());
}

std::optional<double> OptNum(const nlohmann::json& node, const char* key) {
  const auto found = node.find(key);
  if (found == node.end() || !found->is_number()) return std::nullopt;
  return found->get<double>();
}

std::optional<Outcome> OptOutcome(const nlohmann::json& node, const char* key) {
  const std::string text = Str(node, key);
  if (text.empty()) return std::nullopt;
  if (text == "nonresponse") return Outcome::Nonresponse;
  if (text == "partial") return Outcome::Partial;
  if (text == "response") return Outcome::Response;
  if (text == "remission") return Outcome::Remission;
  if (text == "intolerance") return Outcome::Intolerance;
  return Outcome::Unknown;
}

std::optional<Improvement> OptImprovement(const nlohmann::json& node) {
  const auto found = node.find("improvement");
  if (found == node.end() || !found->is_object()) return std::nullopt;
  return Improvement{found->value("percent", 0.0), Str(*found, "rated_by")};
}

std::optional<EpisodePlacement> OptEpisode(const nlohmann::json& node) {
  const std::string text = Str(node, "episode");
  if (text.empty()) return std::nullopt;
  return text == "previous" ? EpisodePlacement::Previous : EpisodePlacement::Current;
}

std::string ProcedureKindFor(const Drug& drug) {
  return drug.id == "drug.esketamine" ? "esketamine" : drug.id == "drug.ketamine" ? "ketamine" : "other";
}

}  // namespace

PatientParser::PatientParser(nlohmann::json patient_schema) : validator_(std::move(patient_schema)) {}

Result<PatientRecord> PatientParser::Parse(const KnowledgeBase& kb, const nlohmann::json& record,
                                           std::string_view label) const {
  const auto at = [&](const std::string& pointer) { return fmt::format("{}#{}", label, pointer); };
  const auto violations = validator_.Validate(record);
  if (!violations.empty()) {
    std::string message = violations.front().message;
    if (violations.size() > 1) message += fmt::format(" (and {} more problems)", violations.size() - 1);
    return Fail(ErrorCode::InvalidInput, message, at(violations.front().pointer));
  }

  PatientRecord patient;
  patient.raw = record;
  patient.id = Str(record, "id");
  if (const auto person = record.find("person"); person != record.end()) {
    patient.birth_date = OptDate(*person, "birth_date");
    if (person->contains("age_years")) patient.age_years = (*person)["age_years"].get<int>();
    patient.sex = Str(*person, "sex");
    patient.pregnant = OptBool(*person, "pregnant");
    patient.breastfeeding = OptBool(*person, "breastfeeding");
    patient.postpartum = OptBool(*person, "postpartum");
  }
  if (const auto episode = record.find("episode"); episode != record.end()) {
    patient.episode_start = OptDate(*episode, "start");
    patient.episode_severity = Str(*episode, "severity");
    if (episode->contains("psychotic_features")) patient.psychotic_features = (*episode)["psychotic_features"].get<bool>();
  }
  if (const auto history = record.find("history"); history != record.end()) {
    patient.history_bipolar = Bool(*history, "bipolar");
    patient.history_mania_or_hypomania = Bool(*history, "mania_or_hypomania");
    patient.history_psychosis = Bool(*history, "psychosis");
    patient.history_self_harm = Bool(*history, "self_harm");
    patient.history_family_bipolar = Bool(*history, "family_history_bipolar");
    patient.history_suicide_attempts = OptInt(*history, "suicide_attempts");
    patient.history_last_suicide_attempt = OptDate(*history, "last_suicide_attempt");
    patient.history_substance_use = Str(*history, "substance_use");
  }
  const auto code_of = [](const nlohmann::json& entry, const char* key) {
    const auto code = entry.find("code");
    return code == entry.end() ? std::string() : Str(*code, key);
  };
  for (const auto& diagnosis : record.value("diagnoses", nlohmann::json::array())) {
    patient.diagnoses.push_back(Diagnosis{Str(diagnosis, "kind"), Str(diagnosis, "status"), Str(diagnosis, "name"),
                                          code_of(diagnosis, "system"), code_of(diagnosis, "code")});
  }
  for (const auto& condition : record.value("conditions", nlohmann::json::array())) {
    patient.conditions.push_back(
        Condition{NormalizeName(Str(condition, "name")), code_of(condition, "system"), code_of(condition, "code"), Str(condition, "status")});
  }

  std::set<std::string> course_ids;
  const auto medications = record.value("medications", nlohmann::json::array());
  for (std::size_t course_idx = 0; course_idx < medications.size(); ++course_idx) {
    const auto& entry = medications[course_idx];
    const std::string where = fmt::format("/medications/{}", course_idx);
    auto drug = kb.ResolveDrug(Str(entry, "drug"));
    if (!drug) return Fail(ErrorCode::InvalidInput, drug.error().message, at(where + "/drug"));
    if ((*drug)->counts_as == CountsAs::Other) {
      return Fail(ErrorCode::InvalidInput,
                  fmt::format("{} is not an antidepressant or augmenting agent: list it under other_medications", (*drug)->inn),
                  at(where + "/drug"));
    }
    const Date start = *OptDate(entry, "start");
    const std::optional<Date> end = OptDate(entry, "end");
    if (end && *end < start) {
      return Fail(ErrorCode::InvalidInput,
                  fmt::format("end {} is before start {}", FormatDate(*end), FormatDate(start)), at(where + "/end"));
    }
    if (end && Bool(entry, "ongoing")) {
      return Fail(ErrorCode::InvalidInput, "a course with an end date cannot be ongoing", at(where + "/ongoing"));
    }
    const std::string id = Str(entry, "id");
    if (!id.empty() && !course_ids.insert(id).second) {
      return Fail(ErrorCode::InvalidInput, fmt::format("course id \"{}\" is used twice", id), at(where + "/id"));
    }
    if ((*drug)->counts_as == CountsAs::Interventional) {
      Procedure procedure;
      procedure.input_index = static_cast<int>(course_idx);
      procedure.source_list = "medications";
      procedure.kind = ProcedureKindFor(**drug);
      procedure.start = start;
      procedure.end = end;
      procedure.ongoing = Bool(entry, "ongoing");
      procedure.outcome = OptOutcome(entry, "outcome");
      procedure.improvement = OptImprovement(entry);
      procedure.episode = OptEpisode(entry);
      patient.procedures.push_back(std::move(procedure));
      continue;
    }
    Course course;
    course.input_index = static_cast<int>(course_idx);
    course.id = id;
    course.input_name = Str(entry, "drug");
    course.drug = *drug;
    const std::string role = Str(entry, "role");
    if (role == "monotherapy") course.role = CourseRole::Monotherapy;
    if (role == "augmentation") course.role = CourseRole::Augmentation;
    if (role == "combination") course.role = CourseRole::Combination;
    course.augments = Str(entry, "augments");
    course.start = start;
    course.end = end;
    course.ongoing = Bool(entry, "ongoing");
    const auto doses = entry.value("doses", nlohmann::json::array());
    for (std::size_t step_idx = 0; step_idx < doses.size(); ++step_idx) {
      const DoseStep step{*OptDate(doses[step_idx], "from"), doses[step_idx]["mg_per_day"].get<double>()};
      const std::string step_where = fmt::format("{}/doses/{}/from", where, step_idx);
      if (step.from < start) {
        return Fail(ErrorCode::InvalidInput,
                    fmt::format("dose step starts {} before the course start {}", FormatDate(step.from), FormatDate(start)),
                    at(step_where));
      }
      if (end && *end < step.from) {
        return Fail(ErrorCode::InvalidInput,
                    fmt::format("dose step starts {} after the course end {}", FormatDate(step.from), FormatDate(*end)),
                    at(step_where));
      }
      if (!course.doses.empty() && step.from <= course.doses.back().from) {
        return Fail(ErrorCode::InvalidInput,
                    fmt::format("dose steps must be in time order: {} does not come after {}", FormatDate(step.from),
                                FormatDate(course.doses.back().from)),
                    at(step_where));
      }
      course.doses.push_back(step);
    }
    const std::string adherence = Str(entry, "adherence");
    if (adherence == "good") course.adherence = Adherence::Good;
    if (adherence == "partial") course.adherence = Adherence::Partial;
    if (adherence == "poor") course.adherence = Adherence::Poor;
    if (entry.contains("adherence_percent")) course.adherence_percent = entry["adherence_percent"].get<double>();
    course.stop_reason = Str(entry, "stop_reason");
    course.improvement = OptImprovement(entry);
    course.outcome = OptOutcome(entry, "outcome");
    course.dose_optimized = Bool(entry, "dose_optimized");
    course.duration_optimized = Bool(entry, "duration_optimized");
    course.episode = OptEpisode(entry);
    patient.courses.push_back(std::move(course));
  }
  for (const Course& course : patient.courses) {
    if (course.augments.empty()) continue;
    if (course_ids.count(course.augments) == 0) {
      return Fail(ErrorCode::InvalidInput, fmt::format("augments \"{}\" names no course in medications", course.augments),
                  at(fmt::format("/medications/{}/augments", course.input_index)));
    }
    if (course.augments == course.id) {
      return Fail(ErrorCode::InvalidInput, "a course cannot augment itself",
                  at(fmt::format("/medications/{}/augments", course.input_index)));
    }
  }

  for (const auto& lab : record.value("labs", nlohmann::json::array())) {
    patient.labs.push_back(LabResult{NormalizeName(Str(lab, "name")), lab["value"].get<double>(), Str(lab, "unit"), *OptDate(lab, "date")});
  }

  const auto scales = record.value("scales", nlohmann::json::array());
  for (std::size_t scale_idx = 0; scale_idx < scales.size(); ++scale_idx) {
    const auto& entry = scales[scale_idx];
    ScaleAdministration administration{static_cast<int>(scale_idx), Str(entry, "scale"), *OptDate(entry, "date"), {}, OptNum(entry, "total"),
                                       Str(entry, "rater")};
    for (const auto& item : entry.value("items", nlohmann::json::array())) {
      administration.items.push_back(item.is_number() ? std::optional<int>(item.get<int>()) : std::nullopt);
    }
    patient.scales.push_back(std::move(administration));
  }
  if (auto checked = ValidateScaleAdministrations(kb, patient.scales, label); !checked) return tl::unexpected(checked.error());
  const auto genotypes = record.value("genotypes", nlohmann::json::array());
  for (std::size_t genotype_idx = 0; genotype_idx < genotypes.size(); ++genotype_idx) {
    const auto& entry = genotypes[genotype_idx];
    patient.genotypes.push_back(GenotypeEntry{static_cast<int>(genotype_idx), Str(entry, "gene"), Str(entry, "diplotype"),
                                              OptNum(entry, "activity_score"), Str(entry, "phenotype"), Str(entry, "source"),
                                              OptDate(entry, "date")});
  }
  const auto others = record.value("other_medications", nlohmann::json::array());
  for (std::size_t other_idx = 0; other_idx < others.size(); ++other_idx) {
    const auto& entry = others[other_idx];
    OtherMedication medication{static_cast<int>(other_idx), Str(entry, "drug"), nullptr, OptNum(entry, "mg_per_day"), OptDate(entry, "start"),
                               OptDate(entry, "end"), Bool(entry, "ongoing"), Bool(entry, "as_needed"), Str(entry, "kind")};
    // An unknown name is kept (drug stays null) so the rules can report it; it is not an input error.
    if (auto drug = kb.ResolveDrug(medication.input_name)) medication.drug = *drug;
    patient.other_medications.push_back(std::move(medication));
  }
  for (const auto& entry : record.value("vitals", nlohmann::json::array())) {
    patient.vitals.push_back(VitalSign{Str(entry, "kind"), *OptDate(entry, "date"), OptNum(entry, "systolic"), OptNum(entry, "diastolic"),
                                       OptNum(entry, "value"), Str(entry, "unit")});
  }
  const auto reactions = record.value("adverse_reactions", nlohmann::json::array());
  for (std::size_t reaction_idx = 0; reaction_idx < reactions.size(); ++reaction_idx) {
    const auto& entry = reactions[reaction_idx];
    AdverseReaction reaction{static_cast<int>(reaction_idx), Str(entry, "drug"), nullptr, Str(entry, "reaction"), OptDate(entry, "date"),
                             Str(entry, "severity"), {}};
    if (auto drug = kb.ResolveDrug(reaction.drug_name)) reaction.drug = *drug;
    if (const auto naranjo = entry.find("naranjo"); naranjo != entry.end()) {
      for (const auto& [question, answer] : naranjo->items()) reaction.naranjo.emplace_back(question, answer.get<std::string>());
    }
    patient.adverse_reactions.push_back(std::move(reaction));
  }
  for (const auto& entry : record.value("daily_log", nlohmann::json::array())) {
    patient.daily_log.push_back(DailyEntry{*OptDate(entry, "date"), OptInt(entry, "mood"), OptNum(entry, "sleep_hours"), OptInt(entry, "energy"),
                                           OptInt(entry, "functioning"), OptInt(entry, "anxiety"), OptInt(entry, "doses_missed"),
                                           Str(entry, "note")});
  }

  const auto procedures = record.value("procedures", nlohmann::json::array());
  for (std::size_t procedure_idx = 0; procedure_idx < procedures.size(); ++procedure_idx) {
    const auto& entry = procedures[procedure_idx];
    Procedure procedure;
    procedure.input_index = static_cast<int>(procedure_idx);
    procedure.source_list = "procedures";
    procedure.kind = Str(entry, "kind");
    procedure.start = *OptDate(entry, "start");
    procedure.end = OptDate(entry, "end");
    if (procedure.end && *procedure.end < procedure.start) {
      return Fail(ErrorCode::InvalidInput,
                  fmt::format("end {} is before start {}", FormatDate(*procedure.end), FormatDate(procedure.start)),
                  at(fmt::format("/procedures/{}/end", procedure_idx)));
    }
    procedure.ongoing = Bool(entry, "ongoing");
    if (entry.contains("sessions")) procedure.sessions = entry["sessions"].get<int>();
    procedure.laterality = Str(entry, "laterality");
    procedure.outcome = OptOutcome(entry, "outcome");
    procedure.improvement = OptImprovement(entry);
    procedure.episode = OptEpisode(entry);
    patient.procedures.push_back(std::move(procedure));
  }
  return patient;
}

}  // namespace refract
