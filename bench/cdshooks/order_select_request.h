// SPDX-License-Identifier: Apache-2.0
/// The order-select request both CDS Hooks benchmarks send: a patient on a realistic TRD regimen with a
/// 20-medication prefetch (MedicationRequests coded by RxNorm product or ingredient, past and current),
/// conditions, labs, a CYP2C19 genotype and PHQ-9 totals, and one draft order of citalopram 40 mg.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace refract::bench {

inline nlohmann::json OrderSelectRequest() {
  struct Med {
    const char* rxcui;
    const char* display;
    double value;
    const char* unit;
    int per_day;
    const char* status;
    const char* start;
    const char* end;
  };
  // Products (SCD) are dosed in tablets; ingredient codes in mg.
  const Med meds[] = {
      {"312938", "sertraline 100 MG Oral Tablet", 1, "{tbl}", 1, "completed", "2021-02-01", "2021-08-30"},
      {"808744", "24 HR venlafaxine 150 MG Extended Release Oral Tablet", 1, "{tbl}", 1, "completed", "2021-10-01", "2022-05-15"},
      {"993557", "24 HR bupropion hydrochloride 300 MG Extended Release Oral Tablet", 1, "{tbl}", 1, "active", "2023-01-09", nullptr},
      {"402131", "aripiprazole 5 MG Oral Tablet", 1, "{tbl}", 1, "active", "2023-06-01", nullptr},
      {"197890", "lithium carbonate 300 MG Oral Tablet", 1, "{tbl}", 3, "active", "2024-02-01", nullptr},
      {"198427", "lamotrigine 100 MG Oral Tablet", 1, "{tbl}", 2, "completed", "2022-06-01", "2022-12-01"},
      {"856377", "trazodone hydrochloride 50 MG Oral Tablet", 1, "{tbl}", 1, "active", "2023-03-01", nullptr},
      {"197528", "clonazepam 1 MG Oral Tablet", 1, "{tbl}", 2, "active", "2022-01-01", nullptr},
      {"314077", "lisinopril 20 MG Oral Tablet", 1, "{tbl}", 1, "active", "2019-05-01", nullptr},
      {"866436", "24 HR metoprolol succinate 50 MG Extended Release Oral Tablet", 1, "{tbl}", 1, "active", "2019-05-01", nullptr},
      {"310798", "hydrochlorothiazide 25 MG Oral Tablet", 1, "{tbl}", 1, "active", "2020-03-01", nullptr},
      {"1364445", "apixaban 5 MG Oral Tablet", 1, "{tbl}", 2, "active", "2024-04-01", nullptr},
      {"7646", "omeprazole", 20, "mg", 1, "active", "2021-01-01", nullptr},
      {"5640", "ibuprofen", 400, "mg", 3, "active", "2024-09-01", nullptr},
      {"10689", "tramadol", 50, "mg", 2, "active", "2024-09-15", nullptr},
      {"966222", "levothyroxine sodium 0.05 MG Oral Tablet", 1, "{tbl}", 1, "active", "2016-02-20", nullptr},
      {"861007", "metformin hydrochloride 500 MG Oral Tablet", 1, "{tbl}", 2, "active", "2018-03-15", nullptr},
      {"312744", "quetiapine 25 MG Oral Tablet", 1, "{tbl}", 1, "completed", "2022-01-01", "2022-04-01"},
      {"311725", "mirtazapine 15 MG Oral Tablet", 1, "{tbl}", 1, "completed", "2020-06-01", "2020-12-01"},
      {"26225", "ondansetron", 4, "mg", 2, "active", "2024-10-01", nullptr},
  };
  const nlohmann::json subject{{"reference", "Patient/bench-1"}};
  nlohmann::json requests = nlohmann::json::array();
  int index = 0;
  for (const Med& med : meds) {
    nlohmann::json repeat{{"frequency", med.per_day}, {"period", 1}, {"periodUnit", "d"}, {"boundsPeriod", {{"start", med.start}}}};
    if (med.end != nullptr) repeat["boundsPeriod"]["end"] = med.end;
    nlohmann::json request{
        {"resourceType", "MedicationRequest"},
        {"id", "mr-" + std::to_string(++index)},
        {"status", med.status},
        {"intent", "order"},
        {"subject", subject},
        {"authoredOn", med.start},
        {"medicationCodeableConcept", {{"coding", {{{"system", "http://www.nlm.nih.gov/research/umls/rxnorm"}, {"code", med.rxcui}, {"display", med.display}}}}, {"text", med.display}}},
        {"dosageInstruction",
         {{{"timing", {{"repeat", repeat}}},
           {"doseAndRate", {{{"doseQuantity", {{"value", med.value}, {"unit", med.unit}, {"system", "http://unitsofmeasure.org"}, {"code", med.unit}}}}}}}}}};
    requests.push_back({{"fullUrl", "https://ehr.example.org/fhir/MedicationRequest/mr-" + std::to_string(index)}, {"resource", request}});
  }
  const auto observation = [&](const char* id, const char* category, const char* loinc, const char* date, double value, const char* unit) {
    return nlohmann::json{{"resource",
                           {{"resourceType", "Observation"},
                            {"id", id},
                            {"status", "final"},
                            {"category", {{{"coding", {{{"system", "http://terminology.hl7.org/CodeSystem/observation-category"}, {"code", category}}}}}}},
                            {"code", {{"coding", {{{"system", "http://loinc.org"}, {"code", loinc}}}}}},
                            {"subject", subject},
                            {"effectiveDateTime", date},
                            {"valueQuantity", {{"value", value}, {"unit", unit}}}}}};
  };
  const nlohmann::json searchset{{"resourceType", "Bundle"}, {"type", "searchset"}};
  nlohmann::json labs = searchset;
  labs["entry"] = {observation("na", "laboratory", "2951-2", "2026-10-01", 136, "mmol/L"), observation("li", "laboratory", "14334-7", "2026-10-01", 0.7, "mmol/L"),
                   observation("qtc", "vital-signs", "8636-3", "2026-10-01", 452, "ms"),
                   nlohmann::json::parse(R"({"resource":{"resourceType":"Observation","id":"cyp2c19","status":"final",
                     "code":{"coding":[{"system":"http://loinc.org","code":"84413-4"}]},"subject":{"reference":"Patient/bench-1"},
                     "effectiveDateTime":"2025-06-01","valueCodeableConcept":{"text":"CYP2C19 *1/*2"},
                     "component":[{"code":{"coding":[{"system":"http://loinc.org","code":"48018-6"}]},
                                   "valueCodeableConcept":{"coding":[{"system":"http://www.genenames.org/geneId","code":"HGNC:2621"}]}}]}})")};
  nlohmann::json surveys = searchset;
  surveys["entry"] = {observation("p1", "survey", "44261-6", "2026-06-01", 21, "{score}"), observation("p2", "survey", "44261-6", "2026-08-01", 19, "{score}"),
                      observation("p3", "survey", "44261-6", "2026-10-01", 18, "{score}")};
  nlohmann::json conditions = searchset;
  conditions["entry"] = nlohmann::json::parse(R"([
    {"resource":{"resourceType":"Condition","id":"c1","clinicalStatus":{"coding":[{"code":"active"}]},"subject":{"reference":"Patient/bench-1"},
      "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"F33.2"}],"text":"MDD, recurrent, severe"},"onsetDateTime":"2015-05-01"}},
    {"resource":{"resourceType":"Condition","id":"c2","clinicalStatus":{"coding":[{"code":"active"}]},"subject":{"reference":"Patient/bench-1"},
      "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"I10"}],"text":"Essential hypertension"}}},
    {"resource":{"resourceType":"Condition","id":"c3","clinicalStatus":{"coding":[{"code":"active"}]},"subject":{"reference":"Patient/bench-1"},
      "code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10-cm","code":"I48.91"}],"text":"Atrial fibrillation"}}}])");
  nlohmann::json medication_requests = searchset;
  medication_requests["entry"] = std::move(requests);
  const nlohmann::json draft = nlohmann::json::parse(R"({"resourceType":"MedicationRequest","id":"draft-citalopram","status":"draft","intent":"order",
    "subject":{"reference":"Patient/bench-1"},
    "medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"309314","display":"citalopram 40 MG Oral Tablet"}]},
    "dosageInstruction":[{"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}},
      "doseAndRate":[{"doseQuantity":{"value":1,"unit":"tablet","system":"http://unitsofmeasure.org","code":"{tbl}"}}]}]})");
  return {{"hook", "order-select"},
          {"hookInstance", "4f1b8f0e-3c2a-4d7e-9a51-0c7f1e2d3b4a"},
          {"context",
           {{"userId", "Practitioner/pr-77"},
            {"patientId", "bench-1"},
            {"selections", {"MedicationRequest/draft-citalopram"}},
            {"draftOrders", {{"resourceType", "Bundle"}, {"type", "collection"}, {"entry", {{{"resource", draft}}}}}}}},
          {"prefetch",
           {{"patient", {{"resourceType", "Patient"}, {"id", "bench-1"}, {"gender", "female"}, {"birthDate", "1958-07-21"}}},
            {"conditions", conditions},
            {"medicationRequests", medication_requests},
            {"medicationStatements", nullptr},
            {"surveys", surveys},
            {"labs", labs},
            {"vitals", nullptr},
            {"questionnaireResponses", nullptr},
            {"procedures", nullptr},
            {"allergies", nullptr}}}};
}

/// The request text for `patients` different patients ("bench-1" ... "bench-N"): the same record under
/// another id, so that each is a new patient to the service's assessment memo.
inline std::vector<std::string> OrderSelectBodies(int patients) {
  const std::string body = OrderSelectRequest().dump();
  std::vector<std::string> bodies;
  for (int patient = 1; patient <= patients; ++patient) {
    std::string text = body;
    const std::string id = "bench-" + std::to_string(patient) + "\"";
    for (std::size_t at = text.find("bench-1\""); at != std::string::npos; at = text.find("bench-1\"", at + id.size())) text.replace(at, 8, id);
    bodies.push_back(std::move(text));
  }
  return bodies;
}

}  // namespace refract::bench
