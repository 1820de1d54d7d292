// SPDX-License-Identifier: Apache-2.0
// CDS Hooks 2.0 handlers: discovery, hook calls (prefetch or FHIR-server fallback -> import -> assess ->
// cards), feedback, CORS. Every clinical statement on a card comes from the engine and names its rule.
#include "refract/cdshooks/service.h"

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "refract/core/assessment.h"
#include "refract/core/next_steps.h"
#include "refract/core/sha256.h"
#include "refract/core/text.h"
#include "refract/fhir/import.h"

namespace refract::cdshooks {
namespace {

constexpr std::string_view kTopicSystem = "https://refract.example/fhir/CodeSystem/card-topic";
constexpr std::string_view kOverrideSystem = "https://refract.example/fhir/CodeSystem/override-reason";

struct ServiceDefinition {
  std::string_view id;
  std::string_view hook;
  std::string_view title;
  std::string_view description;
};

constexpr ServiceDefinition kServices[] = {
    {kPatientViewService, "patient-view", "refract: treatment-resistant depression",
     "Assesses the antidepressant history in the record: adequacy of each trial, TRD status and stage, measurement-based care and "
     "interaction alerts, each with the rule and sources behind it."},
    {kOrderSelectService, "order-select", "refract: antidepressant and augmentation orders",
     "Checks a selected medication order against the current regimen and the patient: interactions, MAOI washouts, dose caps (with a "
     "lower-dose suggestion), pharmacogenomic guidance, a drug that already failed an adequate trial, and esketamine eligibility."},
    {kOrderSignService, "order-sign", "refract: last check before signing medication orders",
     "Before signature: contraindicated and major interactions, washouts and dose caps of every draft medication order."},
};

// The same data for every service: what the engine reads. An EHR may satisfy some keys and not others.
const std::vector<std::pair<std::string, std::string>>& PrefetchTemplates() {
  static const std::vector<std::pair<std::string, std::string>> kTemplates = {
      {"patient", "Patient/{{context.patientId}}"},
      {"conditions", "Condition?patient={{context.patientId}}"},
      {"medicationRequests", "MedicationRequest?patient={{context.patientId}}"},
      {"medicationStatements", "MedicationStatement?patient={{context.patientId}}"},
      {"surveys", "Observation?patient={{context.patientId}}&category=survey"},
      {"labs", "Observation?patient={{context.patientId}}&category=laboratory"},
      {"vitals", "Observation?patient={{context.patientId}}&category=vital-signs"},
      {"questionnaireResponses", "QuestionnaireResponse?patient={{context.patientId}}"},
      {"procedures", "Procedure?patient={{context.patientId}}"},
      {"allergies", "AllergyIntolerance?patient={{context.patientId}}"},
  };
  return kTemplates;
}

// Without the medication history nothing refract says would be sound: these keys must be obtained.
bool IsRequiredKey(std::string_view key) { return key == "medicationRequests"; }

const ServiceDefinition* FindService(std::string_view id) {
  for (const ServiceDefinition& service : kServices) {
    if (service.id == id) return &service;
  }
  return nullptr;
}

Response Error(int status, std::string message) { return Response{status, {{"error", std::move(message)}}, {}}; }

// A name-based UUID (version 8, RFC 9562) from the SHA-256 of `seed`.
std::string Uuid(std::string_view seed) {
  Sha256 hash;
  hash.Update(seed);
  const std::string hex = hash.HexDigest();
  static constexpr char kVariant[] = "89ab";
  const char variant = hex[16];
  std::string out;
  out.reserve(36);
  out.append(hex, 0, 8).append(1, '-').append(hex, 8, 4).append(1, '-').append(1, '8').append(hex, 13, 3).append(1, '-');
  out.append(1, kVariant[(variant <= '9' ? variant - '0' : variant - 'a' + 10) & 0x3]).append(hex, 17, 3).append(1, '-').append(hex, 20, 12);
  return out;
}

std::optional<Response> Authenticate(const CdsHooksContext& context, std::string_view audience, std::string_view authorization) {
  if (!context.jwt || !context.jwt->enabled()) return std::nullopt;
  const std::int64_t now = context.now_seconds ? context.now_seconds() : 0;
  auto verified = context.jwt->Verify(authorization, audience, now);
  if (!verified) return Error(401, verified.error().message);
  return std::nullopt;
}

std::string Fill(std::string text, const std::string& token, const std::string& value) {
  for (std::size_t at = text.find(token); at != std::string::npos; at = text.find(token, at + value.size())) text.replace(at, token.size(), value);
  return text;
}

std::string SeverityWord(InteractionSeverity severity) { return std::string(InteractionSeverityName(severity)); }

// ------------------------------------------------------------------------------------------------
// Cards
// ------------------------------------------------------------------------------------------------

class Cards {
 public:
  Cards(const CdsHooksContext& context, std::string hook_instance)
      : context_(context),
        hook_instance_(std::move(hook_instance)),
        label_(fmt::format("refract {} (KB {})", context.engine.version, context.kb->version())) {}

  nlohmann::json& Add(const std::string& key, std::string_view indicator, std::string_view summary, std::string detail, std::string_view topic,
                      std::string_view topic_display) {
    // The parts every card shares are built once.
    static const nlohmann::json kOverrideReasons = nlohmann::json::array({
        {{"system", kOverrideSystem}, {"code", "benefit-outweighs-risk"}, {"display", "Benefit outweighs the risk for this patient"}},
        {{"system", kOverrideSystem}, {"code", "will-monitor"}, {"display", "Will monitor as advised"}},
        {{"system", kOverrideSystem}, {"code", "not-applicable"}, {"display", "Does not apply to this patient"}},
    });
    nlohmann::json card(nlohmann::json::value_t::object);
    card["uuid"] = Uuid(hook_instance_ + "|" + key);
    card["summary"] = ShortenSummary(summary);
    card["indicator"] = indicator;
    card["detail"] = std::move(detail);
    nlohmann::json& source = card["source"];
    source["label"] = label_;
    nlohmann::json& topic_coding = source["topic"];
    topic_coding["system"] = kTopicSystem;
    topic_coding["code"] = topic;
    topic_coding["display"] = topic_display;
    if (!context_.app_url.empty()) {
      source["url"] = context_.app_url;
      card["links"] = nlohmann::json::array({{{"label", "Open the refract assessment"}, {"url", context_.app_url}, {"type", "absolute"}}});
    }
    if (indicator != "info") card["overrideReasons"] = kOverrideReasons;
    cards_.push_back(std::move(card));
    return cards_.back();
  }

  [[nodiscard]] std::string SuggestionUuid(const std::string& key) const { return Uuid(hook_instance_ + "|suggestion|" + key); }

  nlohmann::json Take() {
    // Most urgent first; the order within an indicator is the order the engine gave.
    std::stable_sort(cards_.begin(), cards_.end(), [](const nlohmann::json& left, const nlohmann::json& right) {
      const auto rank = [](const nlohmann::json& card) { return card["indicator"] == "critical" ? 0 : card["indicator"] == "warning" ? 1 : 2; };
      return rank(left) < rank(right);
    });
    return cards_;
  }

 private:
  const CdsHooksContext& context_;
  std::string hook_instance_;
  std::string label_;
  nlohmann::json cards_ = nlohmann::json::array();
};

std::string Cite(const std::string& rule, const std::vector<std::string>& sources) {
  return fmt::format("Rule `{}`{}.", rule.empty() ? "(none)" : rule, sources.empty() ? "" : fmt::format("; sources: {}", fmt::join(sources, ", ")));
}

std::string_view AlertIndicator(AlertSeverity severity) {
  return severity == AlertSeverity::Critical ? "critical" : severity == AlertSeverity::Warning ? "warning" : "info";
}

std::string DateOr(const std::optional<Date>& date, std::string_view otherwise) { return date ? FormatDate(*date) : std::string(otherwise); }

std::string Provenance(const CdsHooksContext& context, const Assessment& assessment) {
  return fmt::format("\n\nAssessed by refract {} with KB {} ({}) as of {}, criteria `{}`.", context.engine.version, assessment.kb_version,
                     assessment.kb_digest.substr(0, 19), FormatDate(assessment.as_of), assessment.criteria != nullptr ? assessment.criteria->id : "");
}

void TrdCard(Cards& cards, const CdsHooksContext& context, const Assessment& assessment) {
  const TrdAssessment& trd = assessment.trd;
  std::string summary;
  switch (trd.status) {
    case TrdStatus::Meets:
      summary = fmt::format("Meets TRD criteria: {} failed adequate antidepressant trials ({}); Thase-Rush stage {}", trd.failed_adequate_trials,
                            fmt::join(trd.failed_drugs, ", "), assessment.thase_rush.stage);
      break;
    case TrdStatus::Indeterminate:
      summary = fmt::format("TRD status indeterminate: {} of {} failed adequate trials; {} more could count once data are recorded",
                            trd.failed_adequate_trials, trd.required, trd.undecided_trial_indices.size());
      break;
    case TrdStatus::DoesNotMeet:
      summary = fmt::format("Does not meet TRD criteria: {} of {} failed adequate antidepressant trials", trd.failed_adequate_trials, trd.required);
      break;
    case TrdStatus::NotApplicable:
      summary = "TRD criteria do not apply: bipolar disorder or mania is recorded";
      break;
  }
  std::string detail = "**Trials**\n";
  for (const TrialAssessment& trial : assessment.trials) {
    detail += fmt::format("- {}. {} {} to {}: {}, outcome {}{}\n", trial.index, trial.drug != nullptr ? trial.drug->inn : trial.input_name,
                          FormatDate(trial.start), trial.ongoing ? std::string("ongoing") : DateOr(trial.end, "end unknown"), AdequacyName(trial.adequacy),
                          OutcomeName(trial.outcome), trial.failed ? (*trial.failed ? ", failed" : "") : ", failed: unknown");
  }
  detail += "\n**TRD status**\n";
  for (const Finding& finding : trd.findings) detail += "- " + finding.message + "\n";
  detail += "\n" + Cite(trd.rule, trd.sources) + "\n\n**Stage**\n";
  detail += fmt::format("- Thase-Rush: stage {} ({})\n- European: {}\n- Maudsley: {}\n- MGH: {}\n", assessment.thase_rush.stage, assessment.thase_rush.label,
                        assessment.european.category.empty() ? "not staged" : assessment.european.category,
                        assessment.maudsley.total ? fmt::format("{} ({})", *assessment.maudsley.total, assessment.maudsley.band) : std::string("not computed"),
                        FormatNumber(assessment.mgh.score));
  detail += Provenance(context, assessment);
  cards.Add("trd-status", "info", summary, std::move(detail), "trd-status", "TRD status and stage");
}

// `skip_interactions`: the caller shows the regimen's interaction alerts as cards of their own.
// `only`: just the alerts of that severity.
void AlertCards(Cards& cards, const Assessment& assessment, std::string_view key_prefix, bool skip_interactions = false,
                std::optional<AlertSeverity> only = std::nullopt) {
  for (std::size_t alert_idx = 0; alert_idx < assessment.alerts.size(); ++alert_idx) {
    const Alert& alert = assessment.alerts[alert_idx];
    if (skip_interactions && alert.finding.code.rfind("interaction_", 0) == 0) continue;
    if (only && alert.severity != *only) continue;
    cards.Add(fmt::format("{}alert:{}:{}", key_prefix, alert.finding.code, alert_idx), AlertIndicator(alert.severity), alert.finding.message,
              alert.finding.message + "\n\n" + Cite(alert.finding.rule, alert.finding.sources), "alert", alert.finding.code);
  }
}

void ImportCard(Cards& cards, const fhir::ImportReport& report) {
  std::vector<std::string> unknown_drugs;
  std::vector<std::string> lines;
  for (const fhir::ResourceResult& result : report.resources) {
    for (const fhir::ImportIssue& issue : result.issues) {
      if (issue.level != fhir::IssueLevel::Error) continue;
      lines.push_back(fmt::format("- {}/{}: {}", result.type, result.id, issue.message));
      if (issue.code == "unknown_code" || issue.code == "no_rxnorm") {
        if (result.type.rfind("Medication", 0) == 0) unknown_drugs.push_back(result.type + "/" + result.id);
      }
    }
  }
  if (lines.empty()) return;
  const std::string summary = unknown_drugs.empty()
                                  ? fmt::format("{} FHIR data item(s) could not be read: the assessment may be incomplete", lines.size())
                                  : fmt::format("{} medication(s) not recognised: not assessed and not checked for interactions", unknown_drugs.size());
  if (lines.size() > 20) {
    const std::size_t more = lines.size() - 20;
    lines.resize(20);
    lines.push_back(fmt::format("- ... and {} more", more));
  }
  cards.Add("import", "info", summary, fmt::format("What refract could not read in the EHR data:\n{}", fmt::join(lines, "\n")), "data-quality",
            "Data refract could not read");
}

std::string OptionStatusWords(OptionStatus status) {
  std::string words(OptionStatusName(status));
  std::replace(words.begin(), words.end(), '_', ' ');
  return words;
}

std::string ReasonLines(const std::vector<Finding>& reasons) {
  std::string lines;
  for (const Finding& reason : reasons) lines += fmt::format("- {} ({})\n", reason.message, Cite(reason.rule, reason.sources));
  return lines;
}

// The first option, in the engine's rank order, that would give `drug`, with the drug's own check.
std::pair<const OptionResult*, const CandidateResult*> OptionFor(const NextSteps& next, const Drug& drug) {
  for (const OptionResult& option : next.options) {
    for (const CandidateResult& candidate : option.candidates) {
      if (candidate.drug_id == drug.id) return {&option, &candidate};
    }
  }
  return {nullptr, nullptr};
}

// An order of a drug given for treatment-resistant depression (esketamine, ketamine): the engine's
// eligibility of the option that gives it (status, every reason, the ranking sentence) and the TRD
// status. Without next-steps tables in the KB, the TRD status alone.
void EligibilityCard(Cards& cards, const CdsHooksContext& context, const Assessment& assessment, const std::string& reference, const Drug& drug,
                     bool sign) {
  const TrdAssessment& trd = assessment.trd;
  const std::string trd_words = fmt::format("TRD status {} ({} of {} failed adequate trials)", TrdStatusName(trd.status), trd.failed_adequate_trials, trd.required);
  const auto [option, candidate] = assessment.next_steps ? OptionFor(*assessment.next_steps, drug) : std::pair<const OptionResult*, const CandidateResult*>{};
  if (option == nullptr) {
    cards.Add(fmt::format("eligibility:{}", reference), trd.status == TrdStatus::Meets ? "info" : "warning",
              fmt::format("{} is given for treatment-resistant depression; TRD status here: {} ({} of {} failed adequate trials)", drug.inn,
                          TrdStatusName(trd.status), trd.failed_adequate_trials, trd.required),
              fmt::format("TRD status of this record: **{}**.\n\n{}", TrdStatusName(trd.status), Cite(trd.rule, trd.sources)), "eligibility",
              "Eligibility of the proposed drug");
    return;
  }
  const bool warn = option->status == OptionStatus::NotEligible || option->status == OptionStatus::Deferred;
  if (sign && !warn) return;
  std::string detail = fmt::format("**{}: {}** for this patient (listed {} of {} options).\n\n", option->name, OptionStatusWords(option->status),
                                   option->rank, assessment.next_steps->options.size());
  detail += option->reasons.empty() ? std::string("No reason against it was found.\n") : "**Why**\n" + ReasonLines(option->reasons);
  if (candidate != nullptr && !candidate->reasons.empty()) {
    detail += fmt::format("\n**{} for this patient: {}**\n{}", candidate->drug_name, OptionStatusWords(candidate->status), ReasonLines(candidate->reasons));
  }
  if (!option->ranking.empty()) detail += fmt::format("\n**Ranking:** {}\n", option->ranking);
  detail += fmt::format("\n**{}.**\n\n{}", trd_words, Cite(option->rule, option->sources));
  detail += Provenance(context, assessment);
  cards.Add(fmt::format("eligibility:{}", reference), warn ? "warning" : "info",
            fmt::format("{}: {} for this patient; {}", option->name, OptionStatusWords(option->status), trd_words), std::move(detail), "eligibility",
            "Eligibility of the proposed drug");
}

// Monitoring the engine planned for current treatments whose date has passed with no result in the
// record. Items the record cannot show as done (no matching lab or vital sign) are listed apart.
void MonitoringCard(Cards& cards, const CdsHooksContext& context, const Assessment& assessment) {
  if (!assessment.next_steps) return;
  const auto& knowledge = context.kb->Derived<Result<NextStepsKnowledge>>(&LoadNextStepsKnowledge);
  if (!knowledge) return;
  std::vector<std::string> overdue;
  std::vector<std::string> unchecked;
  std::vector<std::string> overdue_names;
  std::set<std::string> plans;
  std::set<std::string> sources;
  for (const MonitoringResult& plan : assessment.next_steps->monitoring) {
    if (plan.basis != "current") continue;
    const MonitoringPlanDefinition* definition = knowledge->FindPlan(plan.plan);
    for (const MonitoringEntry& entry : plan.checklist) {
      if (entry.timing != "past" || entry.recorded_on) continue;
      const MonitoringItemDefinition* item = nullptr;
      if (definition != nullptr) {
        for (const MonitoringItemDefinition& candidate : definition->items) {
          if (candidate.id == entry.item) item = &candidate;
        }
      }
      const bool checkable = item != nullptr && (!item->lab.empty() || !item->vital.empty());
      const std::string line = fmt::format("- {} (day {} of {} from {}): {}", FormatDate(entry.date), entry.day, plan.treatment, FormatDate(plan.start), entry.what);
      plans.insert(plan.plan);
      sources.insert(entry.sources.begin(), entry.sources.end());
      if (!checkable) {
        unchecked.push_back(line);
        continue;
      }
      overdue.push_back(line + fmt::format(" — no {} result within {} days of that date", !item->lab.empty() ? item->lab : item->vital,
                                           knowledge->match_window_days));
      std::string name = !entry.label.empty() ? entry.label : !item->lab.empty() ? item->lab : item->vital;
      std::replace(name.begin(), name.end(), '_', ' ');
      if (std::find(overdue_names.begin(), overdue_names.end(), name) == overdue_names.end()) overdue_names.push_back(name);
    }
  }
  if (overdue.empty() && unchecked.empty()) return;
  std::string detail;
  if (!overdue.empty()) detail += "**Past their date, no result recorded**\n" + fmt::format("{}\n", fmt::join(overdue, "\n"));
  if (!unchecked.empty()) {
    detail += (detail.empty() ? "" : "\n") + std::string("**Past their date; the record cannot show whether they were done**\n") +
              fmt::format("{}\n", fmt::join(unchecked, "\n"));
  }
  detail += fmt::format("\nMonitoring plans `{}`; sources: {}.", fmt::join(plans, "`, `"), fmt::join(sources, ", "));
  const std::string summary =
      overdue.empty() ? fmt::format("{} monitoring check(s) of current treatment are past their date; confirm they were done", unchecked.size())
                      : fmt::format("Monitoring overdue: {} check(s) past their date with no result recorded ({})", overdue.size(), fmt::join(overdue_names, ", "));
  detail += Provenance(context, assessment);
  cards.Add("monitoring-overdue", overdue.empty() ? "info" : "warning", summary, std::move(detail), "monitoring", "Monitoring of current treatment");
}

// ------------------------------------------------------------------------------------------------
// Requests
// ------------------------------------------------------------------------------------------------

struct Call {
  const ServiceDefinition* service = nullptr;
  nlohmann::json request;
  std::string patient_id;
  std::string hook_instance;
};

// Validates the request body against the CDS Hooks 2.0 request and the hook's context.
std::optional<std::string> CheckRequest(const ServiceDefinition& service, const nlohmann::json& request) {
  if (!request.is_object()) return "the request body is not a JSON object";
  if (!request.contains("hook") || !request["hook"].is_string()) return "hook is required (a string)";
  if (request["hook"] != service.hook) return fmt::format("service {} answers hook \"{}\", not \"{}\"", service.id, service.hook, request["hook"].get<std::string>());
  if (!request.contains("hookInstance") || !request["hookInstance"].is_string() || request["hookInstance"].get<std::string>().empty()) {
    return "hookInstance is required (a UUID string)";
  }
  if (!request.contains("context") || !request["context"].is_object()) return "context is required (an object)";
  const nlohmann::json& context = request["context"];
  for (const char* key : {"userId", "patientId"}) {
    if (!context.contains(key) || !context[key].is_string() || context[key].get<std::string>().empty()) return fmt::format("context.{} is required (a string)", key);
  }
  if (service.hook == "order-select") {
    if (!context.contains("selections") || !context["selections"].is_array()) return "context.selections is required (an array of references)";
  }
  if (service.hook == "order-select" || service.hook == "order-sign") {
    if (!context.contains("draftOrders") || !context["draftOrders"].is_object() || context["draftOrders"].value("resourceType", "") != "Bundle") {
      return "context.draftOrders is required (a FHIR Bundle)";
    }
  }
  if (request.contains("fhirAuthorization")) {
    const nlohmann::json& authorization = request["fhirAuthorization"];
    if (!authorization.is_object() || !authorization.contains("access_token") || !authorization["access_token"].is_string()) {
      return "fhirAuthorization.access_token is required when fhirAuthorization is given";
    }
    if (!request.contains("fhirServer") || !request["fhirServer"].is_string()) return "fhirServer is required when fhirAuthorization is given";
  }
  if (request.contains("prefetch") && !request["prefetch"].is_object()) return "prefetch must be an object";
  return std::nullopt;
}

// Collects the prefetched (or fetched) data into one Bundle for the importer; an error is the 412 reason.
// The prefetched resources are moved out of the request.
Result<nlohmann::json> GatherData(const CdsHooksContext& context, nlohmann::json& request, const std::string& patient_id) {
  nlohmann::json entries = nlohmann::json::array();
  std::set<std::string> seen;
  const auto take = [&](nlohmann::json& resource, const nlohmann::json* full_url) {
    if (!resource.is_object()) return;
    const std::string type = resource.value("resourceType", "");
    if (type.empty() || type == "OperationOutcome") return;
    const std::string key = type + "/" + resource.value("id", "");
    if (!resource.value("id", "").empty() && !seen.insert(key).second) return;
    nlohmann::json entry(nlohmann::json::value_t::object);
    entry["resource"] = std::move(resource);
    if (full_url != nullptr && full_url->is_string() && !full_url->get_ref<const std::string&>().empty()) entry["fullUrl"] = *full_url;
    entries.push_back(std::move(entry));
  };
  const auto take_value = [&](nlohmann::json& value) {
    if (value.is_null()) return;
    if (value.is_object() && value.value("resourceType", "") == "Bundle") {
      if (!value.contains("entry") || !value["entry"].is_array()) return;
      for (auto& entry : value["entry"]) {
        if (!entry.is_object() || !entry.contains("resource")) continue;
        const auto full_url = entry.find("fullUrl");
        take(entry["resource"], full_url != entry.end() ? &*full_url : nullptr);
      }
      return;
    }
    take(value, nullptr);
  };
  nlohmann::json prefetch = request.contains("prefetch") ? std::move(request["prefetch"]) : nlohmann::json::object();
  for (const auto& [key, query_template] : PrefetchTemplates()) {
    if (prefetch.contains(key)) {
      take_value(prefetch[key]);
      continue;
    }
    const std::string server = request.value("fhirServer", "");
    const std::string token = request.contains("fhirAuthorization") ? request["fhirAuthorization"].value("access_token", "") : std::string();
    if (context.fetcher == nullptr || server.empty()) {
      if (IsRequiredKey(key)) {
        return Fail(ErrorCode::NotFound, fmt::format("prefetch \"{}\" is missing and {}", key,
                                                     server.empty() ? "the request names no fhirServer to read it from" : "this service has no FHIR client"));
      }
      continue;
    }
    auto fetched = context.fetcher->Get(server, Fill(query_template, "{{context.patientId}}", patient_id), token);
    if (!fetched) {
      if (IsRequiredKey(key)) return Fail(ErrorCode::NotFound, fmt::format("prefetch \"{}\" is missing and reading it failed: {}", key, fetched.error().message));
      continue;
    }
    take_value(*fetched);
  }
  request.erase("prefetch");
  return nlohmann::json{{"resourceType", "Bundle"}, {"type", "collection"}, {"entry", std::move(entries)}};
}

PhenoconversionInput ToPhenoconversion(const EnzymeInhibition& inhibition) {
  const InhibitorStrength strength = inhibition.strength == PerpetratorStrength::Strong     ? InhibitorStrength::Strong
                                     : inhibition.strength == PerpetratorStrength::Moderate ? InhibitorStrength::Moderate
                                                                                            : InhibitorStrength::Weak;
  return PhenoconversionInput{inhibition.drug_id, inhibition.enzyme, strength, inhibition.sources};
}

struct Evaluated {
  fhir::ImportReport report;
  PatientRecord patient;
  Assessment assessment;
  Regimen regimen;  ///< The patient's regimen on the assessment date (when interactions are checked).
  std::vector<PhenoconversionInput> inhibitors;  ///< Its CYP inhibitors: what the assessment's PGx report used.
};

Result<Evaluated> ImportAndAssess(const CdsHooksContext& context, const nlohmann::json& bundle, const std::string& patient_id, Date as_of,
                                  bool next_steps) {
  std::optional<PatientRecord> parsed;
  fhir::ImportOptions options;
  options.label = "prefetch";
  options.patient_id = patient_id;
  options.check = [&](const nlohmann::json& record) -> std::optional<refract::Error> {
    auto patient = context.parser->Parse(*context.kb, record, "prefetch");
    if (!patient) return patient.error();
    parsed = std::move(*patient);
    return std::nullopt;
  };
  auto imported = fhir::ImportBundle(*context.fhir, bundle, options);
  if (!imported) return tl::unexpected(imported.error());
  if (!parsed) {
    auto patient = context.parser->Parse(*context.kb, imported->record, "prefetch");
    if (!patient) return tl::unexpected(patient.error());
    parsed = std::move(*patient);
  }
  EvaluateOptions evaluate;
  evaluate.as_of = as_of;
  evaluate.next_steps = next_steps;
  auto assessment = Evaluate(*context.kb, *parsed, evaluate);
  if (!assessment) return tl::unexpected(assessment.error());
  Regimen regimen = context.interactions != nullptr ? RegimenFromPatient(*context.kb, *parsed, as_of) : Regimen{};
  std::vector<PhenoconversionInput> inhibitors;
  if (context.interactions != nullptr) {
    for (const EnzymeInhibition& inhibition : InhibitionsInRegimen(*context.interactions, regimen, as_of)) inhibitors.push_back(ToPhenoconversion(inhibition));
  }
  return Evaluated{std::move(imported->report), std::move(*parsed), std::move(*assessment), std::move(regimen), std::move(inhibitors)};
}

// ------------------------------------------------------------------------------------------------
// Orders
// ------------------------------------------------------------------------------------------------

struct Order {
  std::string reference;  ///< "MedicationRequest/abc"
  const nlohmann::json* resource = nullptr;
  fhir::MedicationOrder medication;
  bool selected = false;
};

std::vector<Order> ReadOrders(const CdsHooksContext& context, const nlohmann::json& request, bool sign) {
  std::vector<Order> orders;
  const nlohmann::json& hook_context = request["context"];
  std::set<std::string> selections;
  for (const auto& selection : hook_context.value("selections", nlohmann::json::array())) {
    if (selection.is_string()) selections.insert(selection.get<std::string>());
  }
  static const nlohmann::json kNoEntries = nlohmann::json::array();
  const nlohmann::json& draft_orders = hook_context["draftOrders"];
  const nlohmann::json& entries = draft_orders.contains("entry") && draft_orders["entry"].is_array() ? draft_orders["entry"] : kNoEntries;
  for (std::size_t entry_idx = 0; entry_idx < entries.size(); ++entry_idx) {
    const nlohmann::json& resource = entries[entry_idx].contains("resource") ? entries[entry_idx]["resource"] : entries[entry_idx];
    if (!resource.is_object() || resource.value("resourceType", "") != "MedicationRequest") continue;
    Order order;
    order.reference = "MedicationRequest/" + resource.value("id", "");
    order.resource = &resource;
    order.selected = sign || selections.count(order.reference) > 0;
    order.medication = fhir::ReadMedicationOrder(*context.fhir, resource, {}, fmt::format("/context/draftOrders/entry/{}/resource", entry_idx));
    orders.push_back(std::move(order));
  }
  return orders;
}


bool InvolvesOrder(const InteractionFinding& finding, const Order& order) {
  return std::any_of(finding.drugs.begin(), finding.drugs.end(),
                     [&](const InvolvedDrug& drug) { return drug.proposed && order.medication.drug != nullptr && drug.drug_id == order.medication.drug->id; });
}

std::string FindingDetail(const InteractionFinding& finding) {
  std::string detail = finding.message + "\n";
  if (!finding.mechanism.empty()) detail += "\n**Why:** " + finding.mechanism + "\n";
  if (!finding.action.empty()) detail += "\n**What to do:** " + finding.action + "\n";
  if (finding.earliest_start) detail += fmt::format("\n**Earliest safe start:** {}\n", FormatDate(*finding.earliest_start));
  for (const std::string& factor : finding.factors) detail += "- " + factor + "\n";
  for (const std::string& note : finding.notes) detail += "- " + note + "\n";
  if (!finding.evidence.empty()) detail += "\nEvidence: " + finding.evidence + "\n";
  detail += fmt::format("\nSeverity: {}. {}", SeverityWord(finding.severity), Cite(finding.rule, finding.sources));
  return detail;
}

// A lower dose of the same drug that the engine accepts: the highest product strength (one unit a day)
// below the ordered dose whose check gives no dose-cap finding. The engine decides; this only searches.
std::optional<std::pair<const fhir::RxNormProduct*, double>> LowerDose(const CdsHooksContext& context, const Regimen& base, const Order& order,
                                                                       const std::string& rule, Date as_of) {
  const Drug* drug = order.medication.drug;
  if (drug == nullptr || !order.medication.mg_per_day) return std::nullopt;
  std::vector<const fhir::RxNormProduct*> products;
  for (const auto& [path, json] : context.kb->FilesOfKind("fhir_rxnorm_products")) {
    if ((*json).value("drug", "") != drug->id) continue;
    for (const auto& product : (*json)["products"]) {
      const fhir::RxNormProduct* found = context.fhir->FindProduct(product.value("rxcui", ""));
      const std::string unit = found != nullptr ? found->unit : "";
      if (found != nullptr && found->strength_mg && *found->strength_mg < *order.medication.mg_per_day && (unit == "tablet" || unit == "capsule")) {
        // Prefer the form that was ordered (a tablet for a tablet).
        if (order.medication.product == nullptr || order.medication.product->unit == found->unit) products.push_back(found);
      }
    }
  }
  std::stable_sort(products.begin(), products.end(), [](const auto* left, const auto* right) { return *left->strength_mg > *right->strength_mg; });
  for (const fhir::RxNormProduct* product : products) {
    Regimen trial = base;
    AddProposed(trial, *drug, order.medication.input_name, *product->strength_mg);
    const InteractionReport report = CheckRegimen(*context.interactions, trial, as_of, CheckScope::ProposedDoseCaps);
    const bool capped = std::any_of(report.findings.begin(), report.findings.end(),
                                    [&](const InteractionFinding& finding) { return finding.rule == rule && finding.code == "dose_cap"; });
    if (!capped) return std::make_pair(product, *product->strength_mg);
  }
  return std::nullopt;
}

nlohmann::json LowerDoseSuggestion(const Cards& cards, const Order& order, const fhir::RxNormProduct& product, double mg) {
  nlohmann::json updated = *order.resource;
  updated["medicationCodeableConcept"] = {{"coding", nlohmann::json::array({{{"system", fhir::kRxNorm}, {"code", product.rxcui}, {"display", product.name}}})},
                                          {"text", product.name}};
  updated["dosageInstruction"] = nlohmann::json::array(
      {{{"text", fmt::format("1 {} ({} mg) once daily", product.unit, FormatNumber(mg))},
        {"timing", {{"repeat", {{"frequency", 1}, {"period", 1}, {"periodUnit", "d"}}}}},
        {"doseAndRate", nlohmann::json::array({{{"doseQuantity", {{"value", 1}, {"unit", product.unit}, {"system", fhir::kUcum}, {"code", product.unit == "tablet" ? "{tbl}" : "{capsule}"}}}}})}}});
  return {{"label", ShortenSummary(fmt::format("Change to {} {} mg once daily", order.medication.input_name, FormatNumber(mg)), 80)},
          {"uuid", cards.SuggestionUuid(order.reference + "|lower-dose")},
          {"isRecommended", true},
          {"actions", nlohmann::json::array({{{"type", "update"}, {"description", fmt::format("Order {} ({}) once daily instead", product.name, product.rxcui)}, {"resource", std::move(updated)}}})}};
}

void OrderCards(Cards& cards, const CdsHooksContext& context, const Evaluated& evaluated, std::vector<Order>& orders, bool sign, Date as_of) {
  const Assessment& assessment = evaluated.assessment;
  for (const Order& order : orders) {
    if (!order.selected || order.medication.drug != nullptr) continue;
    if (sign) continue;
    cards.Add("unknown-order:" + order.reference, "info", fmt::format("refract does not know {}: no interaction, dose or PGx check", order.medication.input_name),
              fmt::format("The order's medication could not be matched to the knowledge base:\n{}",
                          [&] {
                            std::string lines;
                            for (const auto& issue : order.medication.issues) lines += "- " + issue.message + "\n";
                            return lines;
                          }()),
              "unknown-drug", "Unknown medication");
  }
  if (context.interactions != nullptr) {
    const Regimen& base = evaluated.regimen;
    Regimen regimen = base;
    for (const Order& order : orders) {
      if (order.medication.drug != nullptr) AddProposed(regimen, *order.medication.drug, order.medication.input_name, order.medication.mg_per_day);
    }
    // Only findings that involve an order become cards: the what-if check of the proposed drugs.
    const InteractionReport report = CheckRegimen(*context.interactions, regimen, as_of, CheckScope::ProposedOnly);
    for (std::size_t finding_idx = 0; finding_idx < report.findings.size(); ++finding_idx) {
      const InteractionFinding& finding = report.findings[finding_idx];
      const auto order = std::find_if(orders.begin(), orders.end(), [&](const Order& candidate) { return candidate.selected && InvolvesOrder(finding, candidate); });
      if (order == orders.end()) continue;
      std::string indicator = finding.severity == InteractionSeverity::Contraindicated ? "critical"
                              : finding.severity == InteractionSeverity::Major         ? "warning"
                                                                                       : "info";
      if (finding.severity == InteractionSeverity::Minor || (sign && indicator == "info")) continue;
      nlohmann::json& card = cards.Add(fmt::format("interaction:{}:{}:{}", order->reference, finding.rule, finding_idx), indicator, finding.message,
                                       FindingDetail(finding), finding.code == "washout" ? "washout" : finding.code == "dose_cap" ? "dose-cap" : "interaction",
                                       finding.category);
      nlohmann::json suggestions = nlohmann::json::array();
      if (finding.code == "dose_cap") {
        Regimen without = base;
        for (const Order& other : orders) {
          if (&other != &*order && other.medication.drug != nullptr) AddProposed(without, *other.medication.drug, other.medication.input_name, other.medication.mg_per_day);
        }
        if (const auto lower = LowerDose(context, without, *order, finding.rule, as_of)) {
          suggestions.push_back(LowerDoseSuggestion(cards, *order, *lower->first, lower->second));
        }
      }
      if (finding.severity == InteractionSeverity::Contraindicated && !order->resource->value("id", "").empty()) {
        suggestions.push_back({{"label", ShortenSummary(fmt::format("Cancel the {} order", order->medication.input_name), 80)},
                               {"uuid", cards.SuggestionUuid(order->reference + "|delete")},
                               {"actions", nlohmann::json::array({{{"type", "delete"}, {"description", fmt::format("Remove the draft {} order", order->medication.input_name)},
                                                                   {"resourceId", nlohmann::json::array({order->reference})}}})}});
      }
      if (!suggestions.empty()) {
        card["suggestions"] = std::move(suggestions);
        card["selectionBehavior"] = "at-most-one";
      }
    }
    // Pharmacogenomics of the proposed drugs, with every inhibitor of the regimen (phenoconversion).
    if (context.pgx != nullptr && !evaluated.patient.genotypes.empty()) {
      std::vector<PhenoconversionInput> inhibitors;
      for (const EnzymeInhibition& inhibition : InhibitionsInRegimen(*context.interactions, regimen, as_of)) inhibitors.push_back(ToPhenoconversion(inhibition));
      // The assessment's report already used these inhibitors when the orders add none.
      const auto same = [](const PhenoconversionInput& left, const PhenoconversionInput& right) {
        return left.drug_id == right.drug_id && left.enzyme == right.enzyme && left.strength == right.strength && left.sources == right.sources;
      };
      const bool reuse = assessment.pgx != nullptr && std::equal(inhibitors.begin(), inhibitors.end(), evaluated.inhibitors.begin(), evaluated.inhibitors.end(), same);
      Result<PgxReport> computed = reuse ? Result<PgxReport>(PgxReport{}) : AssessPgx(*context.pgx, *context.kb, evaluated.patient.genotypes, inhibitors, assessment.trials);
      const PgxReport* pgx = reuse ? assessment.pgx.get() : computed ? &*computed : nullptr;
      if (pgx != nullptr) {
        for (const Order& order : orders) {
          if (!order.selected || order.medication.drug == nullptr) continue;
          for (const DrugGuidance& guidance : pgx->drugs) {
            if (guidance.drug_id != order.medication.drug->id) continue;
            for (const GuidanceMatch& match : guidance.cpic) {
              if (match.action == GuidanceAction::Standard || match.action == GuidanceAction::None) continue;
              std::string basis;
              for (const GuidanceBasis& item : guidance.basis) {
                basis += fmt::format("{} {}{}; ", item.gene, item.phenotype ? std::string(PhenotypeKey(*item.phenotype)) : "not tested", item.effective ? " (after phenoconversion)" : "");
              }
              cards.Add(fmt::format("pgx:{}:{}", order.reference, match.rule), sign && match.action != GuidanceAction::Avoid ? "info" : "warning",
                        fmt::format("{} and {}: {}", guidance.drug_name, basis.substr(0, basis.size() >= 2 ? basis.size() - 2 : 0), match.recommendation),
                        fmt::format("{}\n\n{}\n\nCPIC {} recommendation ({}). {}", match.recommendation, match.implications, RecommendationStrengthName(match.strength),
                                    GuidanceActionName(match.action), Cite(match.rule, guidance.sources)),
                        "pgx", "Pharmacogenomic guidance");
            }
            for (const LabelMatch& label : guidance.label) {
              cards.Add(fmt::format("pgx-label:{}:{}", order.reference, label.statement), "warning",
                        fmt::format("{} label ({}): {}", guidance.drug_name, label.triggered_by, label.text), label.text + "\n\n" + Cite(label.statement, label.sources),
                        "pgx", "Drug label pharmacogenomics");
            }
          }
        }
      }
    }
  }
  // The proposed drug already failed an adequate trial, or needs TRD (esketamine).
  for (const Order& order : orders) {
    if (!order.selected || order.medication.drug == nullptr) continue;
    const Drug& drug = *order.medication.drug;
    for (const TrialAssessment& trial : assessment.trials) {
      if (trial.drug != &drug || !trial.failed || !*trial.failed) continue;
      cards.Add(fmt::format("failed-before:{}:{}", order.reference, trial.index), "warning",
                fmt::format("{} already failed an adequate trial ({} to {}, {})", drug.inn, FormatDate(trial.start), DateOr(trial.end, "ongoing"), OutcomeName(trial.outcome)),
                fmt::format("Trial {} of {} was adequate and failed ({} improvement basis: {}). Repeating the same drug rarely helps unless the earlier "
                            "trial was compromised.\n\n{}",
                            trial.index, drug.inn, trial.improvement_percent ? FormatNumber(*trial.improvement_percent) + "%" : std::string("no"),
                            trial.outcome_basis, Cite(assessment.trd.rule, trial.sources)),
                "prior-trial", "Prior failed trial");
    }
    if (drug.counts_as == CountsAs::Interventional) EligibilityCard(cards, context, assessment, order.reference, drug, sign);
  }
}

}  // namespace

std::string ShortenSummary(std::string_view text, std::size_t limit) {
  std::string out;
  std::size_t units = 0;
  for (std::size_t at = 0; at < text.size();) {
    const auto lead = static_cast<unsigned char>(text[at]);
    const std::size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    const std::size_t code_units = length == 4 ? 2 : 1;
    if (units + code_units > limit) {
      // Cut: leave room for the ellipsis (one UTF-16 unit).
      while (!out.empty() && units + 1 > limit) {
        std::size_t back = out.size() - 1;
        while (back > 0 && (static_cast<unsigned char>(out[back]) & 0xC0) == 0x80) --back;
        units -= out.size() - back == 4 ? 2 : 1;
        out.resize(back);
      }
      while (!out.empty() && out.back() == ' ') {
        out.pop_back();
        --units;
      }
      return out + "\u2026";
    }
    out.append(text.substr(at, length));
    units += code_units;
    at += length;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> CorsHeaders(const CdsHooksContext& context, std::string_view origin) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (context.allowed_origins.empty()) {
    headers.emplace_back("Access-Control-Allow-Origin", "*");
  } else if (std::find(context.allowed_origins.begin(), context.allowed_origins.end(), origin) != context.allowed_origins.end()) {
    headers.emplace_back("Access-Control-Allow-Origin", std::string(origin));
    headers.emplace_back("Vary", "Origin");
  }
  headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type");
  headers.emplace_back("Access-Control-Max-Age", "600");
  return headers;
}

Response Discovery(const CdsHooksContext& context, std::string_view authorization) {
  if (auto denied = Authenticate(context, context.base_url + "/cds-services", authorization)) return *denied;
  nlohmann::json prefetch = nlohmann::json::object();
  for (const auto& [key, query] : PrefetchTemplates()) prefetch[key] = query;
  nlohmann::json services = nlohmann::json::array();
  for (const ServiceDefinition& service : kServices) {
    services.push_back({{"hook", service.hook}, {"id", service.id}, {"title", service.title}, {"description", service.description}, {"prefetch", prefetch}});
  }
  return Response{200, {{"services", std::move(services)}}, {}};
}

namespace {

// The memo key of a call: everything ImportAndAssess depends on besides the loaded knowledge.
std::string MemoKey(const std::string& patient_id, Date as_of, bool next_steps, std::string_view prefetch) {
  std::string key = fmt::format("{}:{}|{}|{}|", patient_id.size(), patient_id, FormatDate(as_of), next_steps ? "next" : "plain");
  key.append(prefetch);
  return key;
}

// Every key the services ask for was prefetched: nothing would be read from a FHIR server.
bool PrefetchComplete(const nlohmann::json& prefetch) {
  return prefetch.is_object() &&
         std::all_of(PrefetchTemplates().begin(), PrefetchTemplates().end(), [&](const auto& entry) { return prefetch.contains(entry.first); });
}

}  // namespace

Response CallService(const CdsHooksContext& context, std::string_view service_id, std::string_view body, std::string_view authorization) {
  const ServiceDefinition* service = FindService(service_id);
  if (service == nullptr) return Error(404, fmt::format("no CDS service \"{}\"", service_id));
  if (auto denied = Authenticate(context, fmt::format("{}/cds-services/{}", context.base_url, service_id), authorization)) return *denied;
  // With a memo the prefetch, most of the text, is set aside unread and parsed only when no entry has it.
  std::optional<MemberText> split;
  if (context.memo != nullptr) split = SplitTopLevelMember(body, "prefetch");
  if (split && split->value.front() != '{') split.reset();
  nlohmann::json request = nlohmann::json::parse(split ? std::string_view(split->rest) : body, nullptr, false);
  if (split && request.is_discarded()) {
    split.reset();
    request = nlohmann::json::parse(body, nullptr, false);
  }
  if (request.is_discarded()) return Error(400, "the request body is not JSON");
  if (auto problem = CheckRequest(*service, request)) return Error(400, *problem);
  const std::string patient_id = request["context"]["patientId"].get<std::string>();
  const std::string hook_instance = request["hookInstance"].get<std::string>();
  const Date as_of = context.today ? context.today() : Date{};
  const bool patient_view = service->hook == "patient-view";
  const bool sign = service->hook == "order-sign";
  std::vector<Order> orders;
  if (!patient_view) orders = ReadOrders(context, request, sign);
  // What next (options, monitoring) is the costly part of an assessment: patient-view needs its
  // monitoring plans, an order only when it is for an interventional drug (esketamine, ketamine).
  const bool next_steps = patient_view || std::any_of(orders.begin(), orders.end(), [](const Order& order) {
                            return order.selected && order.medication.drug != nullptr && order.medication.drug->counts_as == CountsAs::Interventional;
                          });
  std::shared_ptr<const Evaluated> evaluated;
  std::string memo_key;
  if (split) {
    memo_key = MemoKey(patient_id, as_of, next_steps, split->value);
    evaluated = std::static_pointer_cast<const Evaluated>(context.memo->Find(memo_key));
    if (evaluated == nullptr) {
      nlohmann::json prefetch = nlohmann::json::parse(split->value, nullptr, false);
      if (prefetch.is_discarded()) return Error(400, "the request body is not JSON");
      request["prefetch"] = std::move(prefetch);
    }
  }
  if (evaluated == nullptr) {
    const bool memorable = split.has_value() && PrefetchComplete(request["prefetch"]);
    auto bundle = GatherData(context, request, patient_id);
    if (!bundle) return Error(412, bundle.error().message);
    auto assessed = ImportAndAssess(context, *bundle, patient_id, as_of, next_steps);
    if (!assessed) {
      return Error(assessed.error().code == ErrorCode::InvalidInput ? 400 : 500,
                   fmt::format("the patient data could not be assessed: {}{}", assessed.error().location.empty() ? "" : assessed.error().location + ": ",
                               assessed.error().message));
    }
    evaluated = std::make_shared<const Evaluated>(std::move(*assessed));
    if (memorable) context.memo->Store(std::move(memo_key), evaluated);
  }
  Cards cards(context, hook_instance);
  if (patient_view) {
    TrdCard(cards, context, evaluated->assessment);
    AlertCards(cards, evaluated->assessment, "", context.interactions != nullptr);
    if (context.interactions != nullptr && evaluated->assessment.interactions) {
      // The assessment already checked the whole regimen on the same date.
      const std::vector<Alert> alerts = InteractionAlerts(*evaluated->assessment.interactions);
      for (std::size_t alert_idx = 0; alert_idx < alerts.size(); ++alert_idx) {
        const Alert& alert = alerts[alert_idx];
        cards.Add(fmt::format("regimen:{}:{}", alert.finding.rule, alert_idx), AlertIndicator(alert.severity), alert.finding.message,
                  alert.finding.message + "\n\n" + Cite(alert.finding.rule, alert.finding.sources), "interaction", "Interactions in the current regimen");
      }
    }
    MonitoringCard(cards, context, evaluated->assessment);
    ImportCard(cards, evaluated->report);
  } else {
    // Safety first: a critical alert of the record (suicide risk, a contraindicated combination
    // already taken) leads the order's cards too.
    AlertCards(cards, evaluated->assessment, "", false, AlertSeverity::Critical);
    OrderCards(cards, context, *evaluated, orders, sign, as_of);
    if (!sign) ImportCard(cards, evaluated->report);
  }
  return Response{200, {{"cards", cards.Take()}}, {}};
}

Response Feedback(const CdsHooksContext& context, std::string_view service_id, std::string_view body, std::string_view authorization) {
  if (FindService(service_id) == nullptr) return Error(404, fmt::format("no CDS service \"{}\"", service_id));
  if (auto denied = Authenticate(context, fmt::format("{}/cds-services/{}/feedback", context.base_url, service_id), authorization)) return *denied;
  const nlohmann::json request = nlohmann::json::parse(body, nullptr, false);
  if (request.is_discarded() || !request.is_object()) return Error(400, "the feedback body is not a JSON object");
  if (!request.contains("feedback") || !request["feedback"].is_array()) return Error(400, "feedback is required (an array)");
  for (std::size_t item_idx = 0; item_idx < request["feedback"].size(); ++item_idx) {
    const nlohmann::json& item = request["feedback"][item_idx];
    if (!item.is_object() || !item.contains("card") || !item["card"].is_string()) return Error(400, fmt::format("feedback[{}].card is required (a card uuid)", item_idx));
    const std::string outcome = item.value("outcome", "");
    if (outcome != "accepted" && outcome != "overridden") return Error(400, fmt::format("feedback[{}].outcome must be accepted or overridden", item_idx));
    if (!item.contains("outcomeTimestamp") || !item["outcomeTimestamp"].is_string()) return Error(400, fmt::format("feedback[{}].outcomeTimestamp is required", item_idx));
    if (outcome == "accepted" && item.contains("acceptedSuggestions") && !item["acceptedSuggestions"].is_array()) {
      return Error(400, fmt::format("feedback[{}].acceptedSuggestions must be an array", item_idx));
    }
  }
  if (context.feedback != nullptr) {
    for (const auto& item : request["feedback"]) context.feedback->Record(service_id, item);
  }
  return Response{200, nlohmann::json::object(), {}};
}

}  // namespace refract::cdshooks
