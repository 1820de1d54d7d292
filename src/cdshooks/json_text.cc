// SPDX-License-Identifier: Apache-2.0
// Compact JSON text of a document, byte for byte what nlohmann::json::dump() gives, written in runs
// instead of character by character (card answers are mostly long ASCII strings).
#include "refract/cdshooks/json_text.h"

namespace refract::cdshooks {
namespace {

// Length of the valid UTF-8 sequence starting at `at` (1-4), or 0 when it is not valid (overlong
// forms, surrogates and code points above U+10FFFF included, as nlohmann rejects them).
std::size_t Utf8Length(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t offset) { return static_cast<unsigned char>(text[at + offset]); };
  const auto continuation = [&](std::size_t offset) { return at + offset < text.size() && (byte(offset) & 0xC0) == 0x80; };
  const unsigned char lead = byte(0);
  if (lead >= 0xC2 && lead <= 0xDF) return continuation(1) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (!continuation(1) || !continuation(2)) return 0;
    if (lead == 0xE0 && byte(1) < 0xA0) return 0;  // overlong
    if (lead == 0xED && byte(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (!continuation(1) || !continuation(2) || !continuation(3)) return 0;
    if (lead == 0xF0 && byte(1) < 0x90) return 0;  // overlong
    if (lead == 0xF4 && byte(1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

bool AppendString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  std::size_t run = 0;  // start of the bytes not yet copied
  for (std::size_t at = 0; at < text.size();) {
    const auto c = static_cast<unsigned char>(text[at]);
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++at;
      continue;
    }
    if (c >= 0x80) {
      const std::size_t length = Utf8Length(text, at);
      if (length == 0) return false;
      at += length;
      continue;
    }
    out.append(text.substr(run, at - run));
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
    run = ++at;
  }
  out.append(text.substr(run));
  out.push_back('"');
  return true;
}

bool Append(std::string& out, const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object: {
      out.push_back('{');
      bool first = true;
      for (const auto& [key, member] : value.get_ref<const nlohmann::json::object_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        if (!AppendString(out, key)) return false;
        out.push_back(':');
        if (!Append(out, member)) return false;
      }
      out.push_back('}');
      return true;
    }
    case nlohmann::json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& element : value.get_ref<const nlohmann::json::array_t&>()) {
        if (!first) out.push_back(',');
        first = false;
        if (!Append(out, element)) return false;
      }
      out.push_back(']');
      return true;
    }
    case nlohmann::json::value_t::string: return AppendString(out, value.get_ref<const std::string&>());
    case nlohmann::json::value_t::boolean: out.append(value.get<bool>() ? "true" : "false"); return true;
    case nlohmann::json::value_t::null: out.append("null"); return true;
    case nlohmann::json::value_t::number_integer: out.append(std::to_string(value.get<std::int64_t>())); return true;
    case nlohmann::json::value_t::number_unsigned: out.append(std::to_string(value.get<std::uint64_t>())); return true;
    default: out.append(value.dump()); return true;  // floating point (nlohmann's shortest form), binary, discarded
  }
}

}  // namespace

std::string JsonText(const nlohmann::json& value) {
  std::string out;
  out.reserve(4096);
  if (!Append(out, value)) return value.dump();  // invalid UTF-8: nlohmann says where and why (it throws)
  return out;
}

}  // namespace refract::cdshooks
