// SPDX-License-Identifier: Apache-2.0
// The assessment memo of the CDS Hooks services (least recently used, shared between serving threads)
// and the scanner that finds a request's prefetch text without building a JSON document.
#include <cstring>
#include <list>
#include <mutex>
#include <unordered_map>

#include "refract/cdshooks/service.h"

namespace refract::cdshooks {

// ------------------------------------------------------------------------------------------------
// Memo
// ------------------------------------------------------------------------------------------------

struct AssessmentMemo::State {
  using Entry = std::pair<std::string, std::shared_ptr<const void>>;
  std::size_t capacity = 0;
  mutable std::mutex mutex;
  std::list<Entry> order;  ///< Most recently used first.
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index;  ///< Views of the keys in `order`.
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
};

AssessmentMemo::AssessmentMemo(std::size_t capacity) : state_(std::make_unique<State>()) { state_->capacity = capacity; }

AssessmentMemo::~AssessmentMemo() = default;

AssessmentMemo::Counts AssessmentMemo::counts() const {
  const std::lock_guard lock(state_->mutex);
  return Counts{state_->hits, state_->misses, state_->order.size()};
}

std::shared_ptr<const void> AssessmentMemo::Find(const std::string& key) {
  const std::lock_guard lock(state_->mutex);
  const auto found = state_->index.find(std::string_view(key));
  if (found == state_->index.end()) {
    ++state_->misses;
    return nullptr;
  }
  ++state_->hits;
  state_->order.splice(state_->order.begin(), state_->order, found->second);
  return found->second->second;
}

void AssessmentMemo::Store(std::string key, std::shared_ptr<const void> value) {
  if (state_->capacity == 0 || value == nullptr) return;
  const std::lock_guard lock(state_->mutex);
  if (const auto found = state_->index.find(std::string_view(key)); found != state_->index.end()) {
    found->second->second = std::move(value);
    state_->order.splice(state_->order.begin(), state_->order, found->second);
    return;
  }
  state_->order.emplace_front(std::move(key), std::move(value));
  state_->index.emplace(std::string_view(state_->order.front().first), state_->order.begin());
  while (state_->order.size() > state_->capacity) {
    state_->index.erase(std::string_view(state_->order.back().first));
    state_->order.pop_back();
  }
}

// ------------------------------------------------------------------------------------------------
// Scanner
// ------------------------------------------------------------------------------------------------

namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t SkipSpace(std::string_view text, std::size_t at) {
  while (at < text.size() && IsSpace(text[at])) ++at;
  return at;
}

// `at` is on the opening quote; returns the position after the closing quote, or npos. A quote
// closes the string unless an odd number of backslashes precedes it.
std::size_t SkipString(std::string_view text, std::size_t at, bool* escaped) {
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  for (const char* from = begin + at + 1; from < end;) {
    const auto* quote = static_cast<const char*>(std::memchr(from, '"', static_cast<std::size_t>(end - from)));
    if (quote == nullptr) return std::string_view::npos;
    std::size_t backslashes = 0;
    for (const char* back = quote - 1; back >= from && *back == '\\'; --back) ++backslashes;
    if (escaped != nullptr && std::memchr(from, '\\', static_cast<std::size_t>(quote - from)) != nullptr) *escaped = true;
    if (backslashes % 2 == 0) return static_cast<std::size_t>(quote - begin) + 1;
    from = quote + 1;
  }
  return std::string_view::npos;
}

// `at` is on the first character of a value; returns the position after it, or npos. Checks nesting
// and strings only: the real parser judges the rest.
std::size_t SkipValue(std::string_view text, std::size_t at) {
  if (at >= text.size()) return std::string_view::npos;
  if (text[at] == '"') return SkipString(text, at, nullptr);
  if (text[at] != '{' && text[at] != '[') {
    while (at < text.size() && text[at] != ',' && text[at] != '}' && text[at] != ']' && !IsSpace(text[at])) ++at;
    return at;
  }
  std::string nesting;
  for (; at < text.size(); ++at) {
    const char c = text[at];
    if (c == '"') {
      at = SkipString(text, at, nullptr);
      if (at == std::string_view::npos) return at;
      --at;
    } else if (c == '{' || c == '[') {
      nesting.push_back(c == '{' ? '}' : ']');
    } else if (c == '}' || c == ']') {
      if (nesting.empty() || nesting.back() != c) return std::string_view::npos;
      nesting.pop_back();
      if (nesting.empty()) return at + 1;
    }
  }
  return std::string_view::npos;
}

}  // namespace

std::optional<MemberText> SplitTopLevelMember(std::string_view text, std::string_view name) {
  std::size_t at = SkipSpace(text, 0);
  if (at >= text.size() || text[at] != '{') return std::nullopt;
  at = SkipSpace(text, at + 1);
  // Where the member starts (its key, or the comma before it when it is the last) and ends.
  std::size_t cut_from = std::string_view::npos;
  std::size_t cut_to = std::string_view::npos;
  std::string_view value;
  std::size_t previous_end = std::string_view::npos;  // after the previous member's value
  if (at < text.size() && text[at] == '}') return std::nullopt;
  while (true) {
    if (at >= text.size() || text[at] != '"') return std::nullopt;
    bool escaped = false;
    const std::size_t key_start = at;
    const std::size_t key_end = SkipString(text, at, &escaped);
    if (key_end == std::string_view::npos || escaped) return std::nullopt;
    const std::string_view key = text.substr(key_start + 1, key_end - key_start - 2);
    at = SkipSpace(text, key_end);
    if (at >= text.size() || text[at] != ':') return std::nullopt;
    const std::size_t value_start = SkipSpace(text, at + 1);
    const std::size_t value_end = SkipValue(text, value_start);
    if (value_end == std::string_view::npos || value_end == value_start) return std::nullopt;
    at = SkipSpace(text, value_end);
    if (at >= text.size()) return std::nullopt;
    if (key == name) {
      if (cut_from != std::string_view::npos) return std::nullopt;  // repeated: the parser would keep one of them
      value = text.substr(value_start, value_end - value_start);
      if (text[at] == ',') {
        cut_from = key_start;
        cut_to = at + 1;
      } else {
        cut_from = previous_end == std::string_view::npos ? key_start : previous_end;
        cut_to = at;
      }
    }
    if (text[at] == '}') break;
    if (text[at] != ',') return std::nullopt;
    previous_end = at;
    at = SkipSpace(text, at + 1);
  }
  if (cut_from == std::string_view::npos) return std::nullopt;
  MemberText member;
  member.value = value;
  member.rest.reserve(text.size() - (cut_to - cut_from));
  member.rest.append(text.substr(0, cut_from));
  member.rest.append(text.substr(cut_to));
  return member;
}

}  // namespace refract::cdshooks
