// SPDX-License-Identifier: Apache-2.0
// Tolerant JSON access and FHIR data-type helpers shared by import and export.
#include "fhir_json.h"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "refract/core/sha256.h"
#include "refract/fhir/knowledge.h"

namespace refract::fhir {

const nlohmann::json* Find(const nlohmann::json& json, std::string_view key) {
  if (!json.is_object()) return nullptr;
  const auto found = json.find(key);
  return found == json.end() ? nullptr : &*found;
}

std::string Str(const nlohmann::json& json, std::string_view key) {
  const nlohmann::json* value = Find(json, key);
  return value != nullptr && value->is_string() ? value->get<std::string>() : std::string();
}

std::optional<double> OptNumber(const nlohmann::json& json, std::string_view key) {
  const nlohmann::json* value = Find(json, key);
  if (value == nullptr || !value->is_number()) return std::nullopt;
  return value->get<double>();
}

std::optional<bool> OptBool(const nlohmann::json& json, std::string_view key) {
  const nlohmann::json* value = Find(json, key);
  if (value == nullptr || !value->is_boolean()) return std::nullopt;
  return value->get<bool>();
}

std::vector<std::string> Strings(const nlohmann::json& json, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& item : Array(json, key)) {
    if (item.is_string()) out.push_back(item.get<std::string>());
  }
  return out;
}

const nlohmann::json& Array(const nlohmann::json& json, std::string_view key) {
  static const nlohmann::json kEmpty = nlohmann::json::array();
  const nlohmann::json* value = Find(json, key);
  return value != nullptr && value->is_array() ? *value : kEmpty;
}

std::optional<FhirDate> ParseFhirDate(std::string_view text, bool end) {
  const auto digits = [&](std::size_t from, std::size_t count) {
    if (text.size() < from + count) return false;
    for (std::size_t idx = from; idx < from + count; ++idx) {
      if (text[idx] < '0' || text[idx] > '9') return false;
    }
    return true;
  };
  if (!digits(0, 4)) return std::nullopt;
  const int year = std::stoi(std::string(text.substr(0, 4)));
  if (text.size() == 4) {
    const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{end ? 12U : 1U}, std::chrono::day{end ? 31U : 1U}};
    return FhirDate{Date{std::chrono::sys_days{ymd}}, "year"};
  }
  if (text[4] != '-' || !digits(5, 2)) return std::nullopt;
  const unsigned month = static_cast<unsigned>(std::stoi(std::string(text.substr(5, 2))));
  if (month < 1 || month > 12) return std::nullopt;
  if (text.size() == 7) {
    const std::chrono::year_month ym{std::chrono::year{year}, std::chrono::month{month}};
    const std::chrono::year_month_day ymd = end ? std::chrono::year_month_day{ym / std::chrono::last} : std::chrono::year_month_day{ym / 1};
    return FhirDate{Date{std::chrono::sys_days{ymd}}, "month"};
  }
  if (text.size() < 10 || (text.size() > 10 && text[10] != 'T')) return std::nullopt;
  const auto date = ParseDate(text.substr(0, 10));
  if (!date) return std::nullopt;
  return FhirDate{*date, "day"};
}

std::vector<const nlohmann::json*> Codings(const nlohmann::json& codeable) {
  std::vector<const nlohmann::json*> out;
  for (const auto& coding : Array(codeable, "coding")) {
    if (coding.is_object()) out.push_back(&coding);
  }
  return out;
}

const nlohmann::json* CodingWithSystem(const nlohmann::json& codeable, std::string_view system) {
  for (const nlohmann::json* coding : Codings(codeable)) {
    if (Str(*coding, "system") == system) return coding;
  }
  return nullptr;
}

std::string ConceptText(const nlohmann::json& codeable) {
  std::string text = Str(codeable, "text");
  if (!text.empty()) return text;
  for (const nlohmann::json* coding : Codings(codeable)) {
    text = Str(*coding, "display");
    if (!text.empty()) return text;
  }
  return {};
}

bool HasCoding(const nlohmann::json& codeable, std::string_view system, std::string_view code) {
  for (const nlohmann::json* coding : Codings(codeable)) {
    if (Str(*coding, "system") == system && Str(*coding, "code") == code) return true;
  }
  return false;
}

std::string ResourceKey(const nlohmann::json& resource) { return Str(resource, "resourceType") + "/" + Str(resource, "id"); }

std::string PointerToken(std::string_view token) {
  std::string out;
  for (const char character : token) {
    if (character == '~') {
      out += "~0";
    } else if (character == '/') {
      out += "~1";
    } else {
      out += character;
    }
  }
  return out;
}

std::string ExtensionUrl(std::string_view name) { return std::string(kRefractBase) + "/StructureDefinition/" + std::string(name); }
std::string CodeSystemUrl(std::string_view name) { return std::string(kRefractBase) + "/CodeSystem/" + std::string(name); }

const nlohmann::json* FindExtension(const nlohmann::json& element, std::string_view url) {
  for (const auto& extension : Array(element, "extension")) {
    if (Str(extension, "url") == url) return &extension;
  }
  return nullptr;
}

namespace {

nlohmann::json ValueExtension(const std::string& url, const nlohmann::json& value) {
  nlohmann::json extension{{"url", url}};
  if (value.is_object()) {
    extension["extension"] = ToSubExtensions(value);
  } else if (value.is_boolean()) {
    extension["valueBoolean"] = value;
  } else if (value.is_number_integer()) {
    extension["valueInteger"] = value;
  } else if (value.is_number()) {
    extension["valueDecimal"] = value;
  } else {
    extension["valueString"] = value.is_string() ? value : nlohmann::json(value.dump());
  }
  return extension;
}

}  // namespace

nlohmann::json ToSubExtensions(const nlohmann::json& object) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [key, value] : object.items()) {
    if (value.is_null()) continue;
    if (value.is_array()) {
      for (const auto& item : value) out.push_back(ValueExtension(key, item));
      continue;
    }
    out.push_back(ValueExtension(key, value));
  }
  return out;
}

nlohmann::json FromSubExtensions(const nlohmann::json& extension, const std::vector<std::string>& arrays) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& child : Array(extension, "extension")) {
    const std::string url = Str(child, "url");
    if (url.empty()) continue;
    nlohmann::json value;
    if (const auto* nested = Find(child, "extension"); nested != nullptr && nested->is_array()) {
      value = FromSubExtensions(child, arrays);
    } else {
      for (const char* key : {"valueString", "valueBoolean", "valueInteger", "valueDecimal", "valueCode", "valueDate"}) {
        if (const auto* found = Find(child, key)) {
          value = *found;
          break;
        }
      }
    }
    if (value.is_null()) continue;
    const bool is_array = std::find(arrays.begin(), arrays.end(), url) != arrays.end();
    if (is_array) {
      if (!out.contains(url)) out[url] = nlohmann::json::array();
      out[url].push_back(value);
    } else {
      out[url] = value;
    }
  }
  return out;
}

std::string NameUuid(std::string_view seed) {
  Sha256 hash;
  hash.Update(seed);
  std::string hex = hash.HexDigest().substr(0, 32);
  // Version 8 (custom) and the RFC 4122 variant, so that validators accept the UUID.
  hex[12] = '8';
  const int variant = 8 + (std::stoi(std::string(1, hex[16]), nullptr, 16) & 0x3);
  hex[16] = "0123456789abcdef"[variant];
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

nlohmann::json JsonNumber(double value) {
  if (std::isfinite(value) && std::fabs(value) < 1e15 && value == std::floor(value)) return static_cast<std::int64_t>(value);
  return value;
}

double RoundDose(double value) { return std::round(value * 1e6) / 1e6; }

}  // namespace refract::fhir
