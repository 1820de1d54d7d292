// SPDX-License-Identifier: Apache-2.0
/// Helpers of the CDS Hooks tests: a service context over the built-in KB, requests built from records,
/// a contract check of responses against the CDS Hooks 2.0 JSON shapes, and signed test tokens.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "../fhir/fhir_test_support.h"
#include "refract/cdshooks/service.h"
#include "refract/core/interactions.h"
#include "refract/core/pgx.h"
#include "refract/fhir/export.h"

namespace refract::cdshooks_testing {

inline const InteractionKnowledge& Interactions() {
  static const InteractionKnowledge knowledge = [] {
    auto loaded = LoadInteractionKnowledge(fhir_testing::Kb());
    if (!loaded) std::abort();
    return std::move(*loaded);
  }();
  return knowledge;
}

inline const PgxKnowledge& Pgx() {
  static const PgxKnowledge knowledge = [] {
    auto loaded = LoadPgxKnowledge(fhir_testing::Kb());
    if (!loaded) std::abort();
    return std::move(*loaded);
  }();
  return knowledge;
}

/// A patient record "p1" with the given top-level parts.
inline nlohmann::json Record(const nlohmann::json& parts) {
  nlohmann::json record{{"schema", "refract.patient/v1"}, {"id", "p1"}};
  for (const auto& [key, value] : parts.items()) record[key] = value;
  return record;
}

/// A context as `refract serve` would build it, with a fixed date and clock.
inline cdshooks::CdsHooksContext Context(const std::string& today = "2026-11-22") {
  cdshooks::CdsHooksContext context;
  context.kb = &fhir_testing::Kb();
  context.fhir = &fhir_testing::Fhir();
  context.parser = &app::Parser();
  context.interactions = &Interactions();
  context.pgx = &Pgx();
  context.engine = EngineInfo{"refract", "test"};
  context.base_url = "https://cds.example.org";
  const Date date = *ParseDate(today);
  context.today = [date] { return date; };
  context.now_seconds = [] { return std::int64_t{1795000000}; };
  return context;
}

/// The record as FHIR (refract's own export), as a prefetch: everything under the keys refract asks for.
inline nlohmann::json PrefetchOf(const nlohmann::json& record) {
  auto patient = app::Parser().Parse(fhir_testing::Kb(), record, "record");
  EXPECT_TRUE(patient) << (patient ? "" : patient.error().message);
  fhir::ExportOptions options;
  options.engine = EngineInfo{"refract", "test"};
  const nlohmann::json bundle = fhir::ExportBundle(fhir_testing::Fhir(), *patient, nullptr, nullptr, options);
  nlohmann::json by_type = nlohmann::json::object();
  for (const auto& entry : bundle["entry"]) {
    const std::string type = entry["resource"]["resourceType"];
    if (type == "Patient") {
      by_type["patient"] = entry["resource"];
      continue;
    }
    std::string key = type == "MedicationStatement"     ? "medicationStatements"
                      : type == "Condition"             ? "conditions"
                      : type == "QuestionnaireResponse" ? "questionnaireResponses"
                      : type == "Procedure"             ? "procedures"
                      : type == "AllergyIntolerance"    ? "allergies"
                                                        : "surveys";
    if (!by_type.contains(key)) by_type[key] = {{"resourceType", "Bundle"}, {"type", "searchset"}, {"entry", nlohmann::json::array()}};
    by_type[key]["entry"].push_back(entry);
  }
  by_type["medicationRequests"] = {{"resourceType", "Bundle"}, {"type", "searchset"}, {"total", 0}};
  return by_type;
}

/// A draft MedicationRequest of one product (SCD) at a number of units a day.
inline nlohmann::json DraftOrder(const std::string& id, const std::string& rxcui, double units, const std::string& unit = "{tbl}") {
  nlohmann::json quantity{{"value", units}, {"unit", unit}, {"system", "http://unitsofmeasure.org"}, {"code", unit}};
  nlohmann::json dose_and_rate = nlohmann::json::array({nlohmann::json{{"doseQuantity", quantity}}});
  nlohmann::json timing{{"repeat", {{"frequency", 1}, {"period", 1}, {"periodUnit", "d"}}}};
  nlohmann::json dosage = nlohmann::json::array({nlohmann::json{{"timing", timing}, {"doseAndRate", dose_and_rate}}});
  nlohmann::json coding = nlohmann::json::array({nlohmann::json{{"system", "http://www.nlm.nih.gov/research/umls/rxnorm"}, {"code", rxcui}}});
  return {{"resourceType", "MedicationRequest"},
          {"id", id},
          {"status", "draft"},
          {"intent", "order"},
          {"subject", {{"reference", "Patient/p1"}}},
          {"medicationCodeableConcept", {{"coding", coding}}},
          {"dosageInstruction", dosage}};
}

inline nlohmann::json Request(const std::string& hook, const std::string& patient_id, const nlohmann::json& prefetch, const std::vector<nlohmann::json>& drafts = {},
                              const std::vector<std::string>& selections = {}) {
  nlohmann::json context{{"userId", "Practitioner/pr-1"}, {"patientId", patient_id}};
  if (hook != "patient-view") {
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& draft : drafts) entries.push_back({{"resource", draft}});
    context["draftOrders"] = {{"resourceType", "Bundle"}, {"type", "collection"}, {"entry", entries}};
  }
  if (hook == "order-select") context["selections"] = selections;
  return {{"hook", hook}, {"hookInstance", "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"}, {"context", context}, {"prefetch", prefetch}};
}

inline std::size_t Utf16Length(const std::string& text) {
  std::size_t units = 0;
  for (std::size_t at = 0; at < text.size();) {
    const auto lead = static_cast<unsigned char>(text[at]);
    const std::size_t length = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    units += length == 4 ? 2 : 1;
    at += length;
  }
  return units;
}

/// Checks a hook response against the CDS Hooks 2.0 card and suggestion shapes; returns every problem.
inline std::vector<std::string> ContractProblems(const nlohmann::json& response) {
  std::vector<std::string> problems;
  const auto fail = [&](const std::string& what) { problems.push_back(what); };
  if (!response.is_object() || !response.contains("cards") || !response["cards"].is_array()) {
    fail("response has no cards array");
    return problems;
  }
  std::set<std::string> uuids;
  for (std::size_t card_idx = 0; card_idx < response["cards"].size(); ++card_idx) {
    const auto& card = response["cards"][card_idx];
    const std::string at = "cards[" + std::to_string(card_idx) + "]";
    if (!card.contains("summary") || !card["summary"].is_string() || card["summary"].get<std::string>().empty()) fail(at + ".summary missing");
    if (card.contains("summary") && Utf16Length(card["summary"].get<std::string>()) >= 140) fail(at + ".summary is 140 characters or more");
    if (!card.contains("indicator") || (card["indicator"] != "info" && card["indicator"] != "warning" && card["indicator"] != "critical")) fail(at + ".indicator invalid");
    if (!card.contains("source") || !card["source"].is_object() || !card["source"].contains("label") || !card["source"]["label"].is_string()) fail(at + ".source.label missing");
    if (card.contains("source") && card["source"].contains("topic")) {
      const auto& topic = card["source"]["topic"];
      if (!topic.contains("code") || !topic.contains("system")) fail(at + ".source.topic is not a Coding");
    }
    if (card.contains("detail") && !card["detail"].is_string()) fail(at + ".detail is not a string");
    if (!card.contains("uuid") || !card["uuid"].is_string() || !uuids.insert(card["uuid"].get<std::string>()).second) fail(at + ".uuid missing or repeated");
    if (card.contains("suggestions")) {
      if (!card.contains("selectionBehavior") || (card["selectionBehavior"] != "at-most-one" && card["selectionBehavior"] != "any")) {
        fail(at + ".selectionBehavior required with suggestions");
      }
      for (const auto& suggestion : card["suggestions"]) {
        if (!suggestion.contains("label") || !suggestion["label"].is_string()) fail(at + " suggestion without label");
        for (const auto& action : suggestion.value("actions", nlohmann::json::array())) {
          const std::string type = action.value("type", "");
          if (type != "create" && type != "update" && type != "delete") fail(at + " action type " + type);
          if (!action.contains("description") || !action["description"].is_string()) fail(at + " action without description");
          if ((type == "create" || type == "update") && (!action.contains("resource") || !action["resource"].contains("resourceType"))) fail(at + " action without resource");
          if (type == "delete" && !action.contains("resourceId")) fail(at + " delete without resourceId");
        }
      }
    }
    for (const auto& reason : card.value("overrideReasons", nlohmann::json::array())) {
      if (!reason.contains("code") || !reason.contains("display")) fail(at + " override reason is not a Coding with display");
    }
    for (const auto& link : card.value("links", nlohmann::json::array())) {
      if (!link.contains("label") || !link.contains("url") || (link.value("type", "") != "absolute" && link.value("type", "") != "smart")) fail(at + " link invalid");
    }
  }
  return problems;
}

// ---- signed tokens ----

struct KeyPair {
  std::shared_ptr<EVP_PKEY> key;
  std::string alg;
};

inline KeyPair MakeKey(const std::string& alg) {
  EVP_PKEY* key = alg.rfind("ES", 0) == 0 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", alg == "ES256" ? "P-256" : "P-384")
                                          : EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  return KeyPair{std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free), alg};
}

inline std::string PublicPem(const KeyPair& pair) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pair.key.get());
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(length));
  BIO_free(bio);
  return pem;
}

inline nlohmann::json PublicJwk(const KeyPair& pair, const std::string& kid) {
  if (pair.alg.rfind("RS", 0) == 0) {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    EVP_PKEY_get_bn_param(pair.key.get(), OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(pair.key.get(), OSSL_PKEY_PARAM_RSA_E, &e);
    std::string n_bytes(static_cast<std::size_t>(BN_num_bytes(n)), '\0');
    std::string e_bytes(static_cast<std::size_t>(BN_num_bytes(e)), '\0');
    BN_bn2bin(n, reinterpret_cast<unsigned char*>(n_bytes.data()));
    BN_bn2bin(e, reinterpret_cast<unsigned char*>(e_bytes.data()));
    BN_free(n);
    BN_free(e);
    return {{"kty", "RSA"}, {"kid", kid}, {"n", cdshooks::Base64UrlEncode(n_bytes)}, {"e", cdshooks::Base64UrlEncode(e_bytes)}};
  }
  unsigned char point[200];
  std::size_t length = 0;
  EVP_PKEY_get_octet_string_param(pair.key.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point), &length);
  const std::size_t half = (length - 1) / 2;
  const std::string x(reinterpret_cast<char*>(point) + 1, half);
  const std::string y(reinterpret_cast<char*>(point) + 1 + half, half);
  return {{"kty", "EC"}, {"kid", kid}, {"crv", pair.alg == "ES256" ? "P-256" : "P-384"}, {"x", cdshooks::Base64UrlEncode(x)}, {"y", cdshooks::Base64UrlEncode(y)}};
}

inline std::string SignToken(const KeyPair& pair, const nlohmann::json& header, const nlohmann::json& payload) {
  const std::string signing = cdshooks::Base64UrlEncode(header.dump()) + "." + cdshooks::Base64UrlEncode(payload.dump());
  const EVP_MD* digest = pair.alg.ends_with("256") ? EVP_sha256() : EVP_sha384();
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  std::size_t length = 0;
  EVP_DigestSignInit(context, nullptr, digest, nullptr, pair.key.get());
  EVP_DigestSign(context, nullptr, &length, reinterpret_cast<const unsigned char*>(signing.data()), signing.size());
  std::string signature(length, '\0');
  EVP_DigestSign(context, reinterpret_cast<unsigned char*>(signature.data()), &length, reinterpret_cast<const unsigned char*>(signing.data()), signing.size());
  signature.resize(length);
  EVP_MD_CTX_free(context);
  if (pair.alg.rfind("ES", 0) == 0) {
    // DER -> r || s, as JWS wants it.
    const unsigned char* der = reinterpret_cast<const unsigned char*>(signature.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size()));
    const int size = pair.alg == "ES256" ? 32 : 48;
    std::string raw(static_cast<std::size_t>(2 * size), '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(raw.data()), size);
    BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(raw.data()) + size, size);
    ECDSA_SIG_free(sig);
    signature = raw;
  }
  return signing + "." + cdshooks::Base64UrlEncode(signature);
}

}  // namespace refract::cdshooks_testing
