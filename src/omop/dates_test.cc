// SPDX-License-Identifier: Apache-2.0
// CDM date parsing: the fast "YYYY-MM-DD" path against std::chrono for every day and every
// impossible day of the years 1600-2400, and the other forms a CDM holds.
#include <chrono>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "internal.h"

namespace refract::omop::internal {
namespace {

TEST(CdmDate, IsoTextMatchesChronoForEveryDayAndRejectsImpossibleDays) {
  for (int year = 1600; year <= 2400; ++year) {
    for (unsigned month = 0; month <= 13; ++month) {
      for (unsigned day = 0; day <= 32; ++day) {
        const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
        const std::string text = fmt::format("{:04d}-{:02d}-{:02d}", year, month, day);
        const auto parsed = ParseCdmDate(text);
        if (!ymd.ok()) {
          EXPECT_FALSE(parsed) << text;
          continue;
        }
        ASSERT_TRUE(parsed) << text;
        EXPECT_EQ(parsed->days, std::chrono::sys_days{ymd}) << text;
      }
    }
  }
}

TEST(CdmDate, ReadsTimesNumbersAndRejectsNonsense) {
  const Date new_year{std::chrono::sys_days{std::chrono::year{2024} / 1 / 1}};
  EXPECT_EQ(ParseCdmDate("2024-01-01 13:45:00"), new_year);
  EXPECT_EQ(ParseCdmDate("19723"), new_year);                 // days since 1970-01-01
  EXPECT_EQ(ParseCdmDate("1704067200"), new_year);            // seconds since 1970-01-01
  EXPECT_EQ(DateFromNumber(1704067200.0 + 3600), new_year);   // within the day
  EXPECT_FALSE(ParseCdmDate(""));
  EXPECT_FALSE(ParseCdmDate("2024-02-30"));
  EXPECT_FALSE(ParseCdmDate("yesterday"));
}

}  // namespace
}  // namespace refract::omop::internal
