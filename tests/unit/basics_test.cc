// SPDX-License-Identifier: Apache-2.0
#include <gtest/gtest.h>

#include "refract/core/date.h"
#include "refract/core/sha256.h"
#include "refract/core/text.h"

namespace refract {
namespace {

TEST(ParseDate, AcceptsCalendarDates) {
  const auto date = ParseDate("2024-02-29");
  ASSERT_TRUE(date);
  EXPECT_EQ(FormatDate(*date), "2024-02-29");
}

TEST(ParseDate, RejectsImpossibleAndMalformedDates) {
  EXPECT_FALSE(ParseDate("2026-02-30"));
  EXPECT_FALSE(ParseDate("2025-02-29"));
  EXPECT_FALSE(ParseDate("2026-13-01"));
  EXPECT_FALSE(ParseDate("2026-1-01"));
  EXPECT_FALSE(ParseDate("01/02/2026"));
  EXPECT_FALSE(ParseDate(""));
}

TEST(InclusiveDays, CountsBothEnds) {
  EXPECT_EQ(InclusiveDays(*ParseDate("2026-01-01"), *ParseDate("2026-02-11")), 42);
  EXPECT_EQ(InclusiveDays(*ParseDate("2026-01-01"), *ParseDate("2026-01-01")), 1);
}

TEST(WholeMonthsBetween, CountsCompletedMonthsOnly) {
  EXPECT_EQ(WholeMonthsBetween(*ParseDate("2025-01-15"), *ParseDate("2026-01-14")), 11);
  EXPECT_EQ(WholeMonthsBetween(*ParseDate("2025-01-15"), *ParseDate("2026-01-15")), 12);
  EXPECT_EQ(WholeMonthsBetween(*ParseDate("2025-01-31"), *ParseDate("2025-02-28")), 0);
  EXPECT_EQ(WholeMonthsBetween(*ParseDate("2026-01-15"), *ParseDate("2025-01-15")), 0);
}

TEST(Sha256, MatchesFips180Vectors) {
  Sha256 empty;
  EXPECT_EQ(empty.HexDigest(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Sha256 abc;
  abc.Update("abc");
  EXPECT_EQ(abc.HexDigest(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 long_message;
  long_message.Update("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  EXPECT_EQ(long_message.HexDigest(), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Suggest, FindsCloseNamesOnly) {
  const std::vector<std::string> names = {"sertraline", "escitalopram", "citalopram"};
  EXPECT_EQ(Suggest("sertralin", names), "sertraline");
  EXPECT_EQ(Suggest("Escitalopran", names), "escitalopram");
  EXPECT_FALSE(Suggest("lithium", names));
}

TEST(FormatNumber, DropsTrailingZeros) {
  EXPECT_EQ(FormatNumber(42), "42");
  EXPECT_EQ(FormatNumber(0.5), "0.5");
  EXPECT_EQ(FormatNumber(62.5), "62.5");
}

TEST(NormalizeName, FoldsCaseAndSpace) { EXPECT_EQ(NormalizeName("  Wellbutrin   XL "), "wellbutrin xl"); }

}  // namespace
}  // namespace refract
