// SPDX-License-Identifier: Apache-2.0
/// Internal helpers of the FHIR adapter: tolerant JSON access, FHIR dates, codings, references,
/// refract extensions and name-based UUIDs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/date.h"

namespace refract::fhir {

/// A member of an object, or null when `json` is not an object or has no such member.
[[nodiscard]] const nlohmann::json* Find(const nlohmann::json& json, std::string_view key);
/// A string member, or empty when absent or not a string.
[[nodiscard]] std::string Str(const nlohmann::json& json, std::string_view key);
/// A number member, or nothing.
[[nodiscard]] std::optional<double> OptNumber(const nlohmann::json& json, std::string_view key);
/// A boolean member, or nothing.
[[nodiscard]] std::optional<bool> OptBool(const nlohmann::json& json, std::string_view key);
/// An array member of strings (other items skipped), or empty.
[[nodiscard]] std::vector<std::string> Strings(const nlohmann::json& json, std::string_view key);
/// An array member, or an empty array.
[[nodiscard]] const nlohmann::json& Array(const nlohmann::json& json, std::string_view key);

/// A FHIR date or dateTime read as a calendar date. `precision` says what the text gave: "day",
/// "month" or "year"; a month or year is read as its first day, or its last day when `end` is set.
struct FhirDate {
  Date date;
  std::string precision;
};
[[nodiscard]] std::optional<FhirDate> ParseFhirDate(std::string_view text, bool end = false);

/// The codings of a CodeableConcept (empty when it has none).
[[nodiscard]] std::vector<const nlohmann::json*> Codings(const nlohmann::json& codeable);
/// The first coding of a CodeableConcept with this system, or null.
[[nodiscard]] const nlohmann::json* CodingWithSystem(const nlohmann::json& codeable, std::string_view system);
/// The text of a CodeableConcept, else the display of its first coding that has one.
[[nodiscard]] std::string ConceptText(const nlohmann::json& codeable);
/// Whether a CodeableConcept (or a Coding list) has this system and code.
[[nodiscard]] bool HasCoding(const nlohmann::json& codeable, std::string_view system, std::string_view code);

/// "Type/id" of a resource (empty parts when missing).
[[nodiscard]] std::string ResourceKey(const nlohmann::json& resource);
/// A JSON pointer token with "~" and "/" escaped.
[[nodiscard]] std::string PointerToken(std::string_view token);

/// A refract extension URL: kRefractBase + "/StructureDefinition/" + name.
[[nodiscard]] std::string ExtensionUrl(std::string_view name);
/// A refract code system URL: kRefractBase + "/CodeSystem/" + name.
[[nodiscard]] std::string CodeSystemUrl(std::string_view name);
/// The extension with this URL, or null.
[[nodiscard]] const nlohmann::json* FindExtension(const nlohmann::json& element, std::string_view url);
/// A flat or nested JSON object as complex-extension children: strings valueString, booleans
/// valueBoolean, integers valueInteger, other numbers valueDecimal, objects nested, arrays repeated.
[[nodiscard]] nlohmann::json ToSubExtensions(const nlohmann::json& object);
/// The reverse of ToSubExtensions; members named in `arrays` are always read as arrays.
[[nodiscard]] nlohmann::json FromSubExtensions(const nlohmann::json& extension, const std::vector<std::string>& arrays);

/// A UUID (version 8 layout, name-based) derived from SHA-256 of `seed`: the same seed gives the same UUID.
[[nodiscard]] std::string NameUuid(std::string_view seed);

/// A number as JSON: an integer when it is whole (136, not 136.0), else a float.
[[nodiscard]] nlohmann::json JsonNumber(double value);

/// Rounds a computed dose to a millionth, so that 0.1 x 3 prints as 0.3.
[[nodiscard]] double RoundDose(double value);

}  // namespace refract::fhir
