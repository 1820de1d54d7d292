// SPDX-License-Identifier: Apache-2.0
// Opening sources, resolving the KB's concepts at start-up, and the multi-threaded screening run.
#include "refract/omop/source.h"

#include "internal.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <charconv>
#include <cmath>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <fmt/format.h>

namespace refract::omop {
namespace internal {

std::optional<Date> DateFromNumber(double value) {
  const double days = value < 100000 ? value : value / 86400.0;
  return Date{std::chrono::sys_days{std::chrono::days{static_cast<long>(std::floor(days))}}};
}

namespace {

bool IsDigit(char ch) { return ch >= '0' && ch <= '9'; }
int Digits(const char* text, int count) {
  int value = 0;
  for (int idx = 0; idx < count; ++idx) value = value * 10 + (text[idx] - '0');
  return value;
}

// Whether text[0..9] is "DDDD-DD-DD" with D an ASCII digit: the first eight bytes checked as one
// word (bytes 0x30-0x39: high nibble 3, and adding 6 to the low nibble does not carry into it).
bool IsDigitDate(const char* text) {
  if constexpr (std::endian::native == std::endian::little) {
    std::uint64_t word = 0;
    std::memcpy(&word, text, sizeof word);
    constexpr std::uint64_t kDigitBytes = 0x00ffff00ffffffffULL;  // bytes 0-3, 5 and 6
    constexpr std::uint64_t kHighNibbles = 0xf0f0f0f0f0f0f0f0ULL & kDigitBytes;
    constexpr std::uint64_t kThrees = 0x3030303030303030ULL & kDigitBytes;
    const bool digits = (word & kHighNibbles) == kThrees && ((word + 0x0606060606060606ULL) & kHighNibbles) == kThrees;
    return digits && (word & 0xff0000ff00000000ULL) == 0x2d00002d00000000ULL && IsDigit(text[8]) && IsDigit(text[9]);
  }
  return text[4] == '-' && text[7] == '-' && IsDigit(text[0]) && IsDigit(text[1]) && IsDigit(text[2]) && IsDigit(text[3]) && IsDigit(text[5]) &&
         IsDigit(text[6]) && IsDigit(text[8]) && IsDigit(text[9]);
}

bool IsLeapYear(int year) { return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0); }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

// Days since 1970-01-01 of a valid proleptic Gregorian date (what sys_days{year_month_day} gives,
// without its general-purpose checks; H. Hinnant's days_from_civil).
constexpr long DaysFromCivil(int year, int month, int day) {
  const int shifted_year = month <= 2 ? year - 1 : year;
  const int era = (shifted_year >= 0 ? shifted_year : shifted_year - 399) / 400;
  const int year_of_era = shifted_year - era * 400;
  const int day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return static_cast<long>(era) * 146097 + day_of_era - 719468;
}

// The same by table for the years CDM dates fall in: day number of each 1 January, and the days
// before each month in common and leap years.
constexpr int kFirstTableYear = 1800;
constexpr int kTableYears = 400;
struct YearStarts {
  std::array<std::int32_t, kTableYears + 1> first_day{};
};
constexpr YearStarts MakeYearStarts() {
  YearStarts starts;
  for (int year_idx = 0; year_idx <= kTableYears; ++year_idx) {
    starts.first_day[static_cast<std::size_t>(year_idx)] = static_cast<std::int32_t>(DaysFromCivil(kFirstTableYear + year_idx, 1, 1));
  }
  return starts;
}
constexpr YearStarts kYearStarts = MakeYearStarts();
constexpr std::int16_t kDaysBefore[2][13] = {{0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365},
                                             {0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366}};

}  // namespace

std::optional<Date> ParseCdmDate(std::string_view text) {
  // The usual form, all digits: "YYYY-MM-DD" (from_chars below handles the rest the same way).
  if (text.size() >= 10 && IsDigitDate(text.data())) {
    const char* base = text.data();
    const int year = Digits(base, 4);
    const int month = Digits(base + 5, 2);
    const int day = Digits(base + 8, 2);
    if (month < 1 || month > 12 || day < 1) return std::nullopt;
    const auto year_idx = static_cast<unsigned>(year - kFirstTableYear);
    if (year_idx < static_cast<unsigned>(kTableYears)) {
      const std::int32_t first_day = kYearStarts.first_day[year_idx];
      const int leap = kYearStarts.first_day[year_idx + 1] - first_day - 365;
      const int before = kDaysBefore[leap][month - 1];
      if (day > kDaysBefore[leap][month] - before) return std::nullopt;
      return Date{std::chrono::sys_days{std::chrono::days{first_day + before + day - 1}}};
    }
    if (day > DaysInMonth(year, month)) return std::nullopt;
    return Date{std::chrono::sys_days{std::chrono::days{DaysFromCivil(year, month, day)}}};
  }
  if (text.size() >= 10 && text[4] == '-' && text[7] == '-') {
    int year = 0;
    unsigned month = 0;
    unsigned day = 0;
    const char* base = text.data();
    if (std::from_chars(base, base + 4, year).ec != std::errc() || std::from_chars(base + 5, base + 7, month).ec != std::errc() ||
        std::from_chars(base + 8, base + 10, day).ec != std::errc()) {
      return std::nullopt;
    }
    const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
    if (!ymd.ok()) return std::nullopt;
    return Date{std::chrono::sys_days{ymd}};
  }
  if (text.empty()) return std::nullopt;
  double number = 0;
  const auto parsed = std::from_chars(text.data(), text.data() + text.size(), number);
  if (parsed.ec != std::errc()) return std::nullopt;
  return DateFromNumber(number);
}

}  // namespace internal

Result<std::unique_ptr<Source>> OpenSource(std::string_view url) {
  const std::string text(url);
  if (text.rfind("postgresql://", 0) == 0 || text.rfind("postgres://", 0) == 0) return internal::OpenPostgres(text);
  if (text.rfind("sqlite:", 0) == 0) return internal::OpenSqlite(text.substr(7));
  if (text.rfind("csv:", 0) == 0) return internal::OpenCsv(text.substr(4));
  std::error_code error;
  if (std::filesystem::is_directory(text, error)) return internal::OpenCsv(text);
  for (const char* suffix : {".sqlite", ".sqlite3", ".db"}) {
    const std::string_view ending(suffix);
    if (text.size() > ending.size() && text.compare(text.size() - ending.size(), ending.size(), ending) == 0) return internal::OpenSqlite(text);
  }
  return Fail(ErrorCode::InvalidInput,
              fmt::format("cannot tell what kind of OMOP source \"{}\" is (expected sqlite:PATH, postgresql://..., csv:DIR or a directory)", text),
              "--omop");
}

Result<ConceptIndex> PrepareIndex(Source& source, const KnowledgeBase& kb, const OmopConfig& config) {
  auto rows = source.LookupConcepts(LookupsFor(config));
  if (!rows) return tl::unexpected(rows.error());
  std::vector<ConceptResolution> resolutions = ResolveConcepts(config, *rows);
  std::set<ConceptId> roots;
  std::set<ConceptId> ingredients;
  for (const ConceptResolution& resolution : resolutions) {
    if (!resolution.site_id) continue;
    if (resolution.entry->descendants) roots.insert(*resolution.site_id);
    if (resolution.entry->domain == ConceptDomain::Drug) ingredients.insert(*resolution.site_id);
  }
  // Ingredients of combinations that are not KB drugs themselves (dextromethorphan) need their strengths too.
  for (const ConceptRow& row : *rows) {
    for (const CombinationEntry& combination : config.combinations) {
      for (const ConceptCode& code : combination.ingredients) {
        if (code.vocabulary == row.vocabulary && code.code == row.code) ingredients.insert(row.concept_id);
      }
    }
  }
  const std::vector<ConceptId> root_list(roots.begin(), roots.end());
  const std::vector<ConceptId> ingredient_list(ingredients.begin(), ingredients.end());
  auto descendants = source.Descendants(root_list);
  if (!descendants) return tl::unexpected(descendants.error());
  auto strengths = source.Strengths(ingredient_list);
  if (!strengths) return tl::unexpected(strengths.error());
  auto known = source.KnownConcepts();
  if (!known) return tl::unexpected(known.error());
  return BuildConceptIndex(kb, config, std::move(resolutions), *descendants, *strengths, std::move(*known));
}

ReadFilter FilterFor(const ConceptIndex& index) { return ReadFilter{index.ConditionIds(), index.ProcedureIds(), index.phq9}; }

void ReadStats::Merge(const ReadStats& other) {
  for (const auto& [table, reads] : other.tables) {
    TableReads& into = tables[table];
    into.from_pages += reads.from_pages;
    into.rowid_cursor += reads.rowid_cursor;
    into.by_query += reads.by_query;
  }
}

Result<ScreenRun> RunScreen(Source& source, const KnowledgeBase& kb, const OmopConfig& config, const ConceptIndex& index,
                                const RunOptions& options) {
  Result<std::vector<std::int64_t>> ids = options.person_ids ? Result<std::vector<std::int64_t>>(*options.person_ids) : source.PersonIds();
  if (!ids) return tl::unexpected(ids.error());
  const std::int64_t per_chunk = std::max<std::int64_t>(1, options.persons_per_chunk);
  struct Chunk {
    std::int64_t first_id = 0;
    std::int64_t last_id = 0;
  };
  std::vector<Chunk> chunks;
  for (std::size_t first = 0; first < ids->size(); first += static_cast<std::size_t>(per_chunk)) {
    const std::size_t last = std::min(ids->size(), first + static_cast<std::size_t>(per_chunk)) - 1;
    chunks.push_back(Chunk{(*ids)[first], (*ids)[last]});
  }
  const ReadFilter filter = FilterFor(index);
  const int threads = std::max(1, std::min<int>(options.threads, static_cast<int>(std::max<std::size_t>(1, chunks.size()))));

  std::mutex mutex;
  std::condition_variable chunk_written;
  std::atomic<std::size_t> next_chunk{0};
  std::size_t next_to_write = 0;
  std::map<std::size_t, std::string> pending;
  std::vector<ScreenSummary> summaries(chunks.size());
  std::optional<Error> failure;
  Progress progress;
  ReadStats reading;
  progress.persons_total = static_cast<std::int64_t>(ids->size());

  const auto worker = [&]() {
    auto reader = source.OpenReader(filter);
    if (!reader) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!failure) failure = reader.error();
      return;
    }
    // However the worker ends, what its reader did joins the run's reading figures (the locks of the
    // loop below are released before this runs).
    struct AtExit {
      std::function<void()> run;
      ~AtExit() { run(); }
    } merge_stats{[&] {
      std::lock_guard<std::mutex> lock(mutex);
      reading.Merge((*reader)->Stats());
    }};
    std::vector<PersonRows> persons;  // reused from chunk to chunk
    while (true) {
      const std::size_t chunk_idx = next_chunk.fetch_add(1);
      if (chunk_idx >= chunks.size()) return;
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (failure) return;
      }
      if (auto read = (*reader)->ReadInto(chunks[chunk_idx].first_id, chunks[chunk_idx].last_id, persons); !read) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = read.error();
        return;
      }
      std::string text;
      ScreenSummary& summary = summaries[chunk_idx];
      std::int64_t drug_rows = 0;
      for (const PersonRows& person : persons) {
        auto result = ScreenPerson(kb, config, index, person, options.screen);
        if (!result) {
          std::lock_guard<std::mutex> lock(mutex);
          if (!failure) failure = result.error();
          return;
        }
        summary.Add(*result, person.drug_exposures.size());
        drug_rows += static_cast<std::int64_t>(person.drug_exposures.size());
        if (options.on_rows) AppendResultCsvRow(*result, text);
      }
      std::unique_lock<std::mutex> lock(mutex);
      progress.persons_done += static_cast<std::int64_t>(persons.size());
      progress.drug_rows_done += drug_rows;
      if (options.on_progress) options.on_progress(progress);
      if (!options.on_rows) continue;
      // Write chunks in order; keep a bounded number waiting so memory stays flat.
      pending.emplace(chunk_idx, std::move(text));
      while (!pending.empty() && pending.begin()->first == next_to_write) {
        options.on_rows(pending.begin()->second);
        pending.erase(pending.begin());
        ++next_to_write;
      }
      chunk_written.notify_all();
      chunk_written.wait(lock, [&] { return failure.has_value() || chunk_idx < next_to_write + static_cast<std::size_t>(4 * threads); });
    }
  };
  if (threads == 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (int thread_idx = 0; thread_idx < threads; ++thread_idx) pool.emplace_back(worker);
    for (std::thread& thread : pool) thread.join();
  }
  if (failure) return tl::unexpected(*failure);
  ScreenRun run;
  for (const ScreenSummary& summary : summaries) run.summary.Merge(summary);
  run.reading = std::move(reading);
  return run;
}

}  // namespace refract::omop
