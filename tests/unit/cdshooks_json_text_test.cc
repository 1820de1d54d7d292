// SPDX-License-Identifier: Apache-2.0
// JsonText writes exactly what nlohmann::json::dump() writes, and refuses invalid UTF-8 as it does.
#include <gtest/gtest.h>

#include "../fhir/fhir_test_support.h"
#include "refract/cdshooks/json_text.h"

namespace refract {
namespace {

TEST(CdsHooksJsonText, SameBytesAsDump) {
  const std::vector<nlohmann::json> values = {
      nullptr,
      true,
      false,
      0,
      -42,
      std::numeric_limits<std::int64_t>::min(),
      std::numeric_limits<std::uint64_t>::max(),
      1.0,
      0.1,
      -2.5e-300,
      std::nan(""),
      "",
      "plain ASCII text with spaces",
      "quotes \" and backslashes \\ and / slash",
      std::string("controls \b\f\n\r\t \x01\x1f\x7f and a NUL ") + std::string(1, '\0') + " inside",
      "UTF-8: caf\u00e9, \u2265 20 mg, \u2026, \xF0\x9F\x92\x8A pill",
      nlohmann::json::object(),
      nlohmann::json::array(),
      nlohmann::json::parse(R"({"z":1,"a":[1,2.5,"x",{"k":null,"b":[[],{}]}],"m":{"\u00e9":"\n"}})"),
  };
  for (const auto& value : values) EXPECT_EQ(cdshooks::JsonText(value), value.dump()) << value.dump();
  // A whole FHIR bundle from the test data.
  const nlohmann::json bundle = fhir_testing::ReadJson(fhir_testing::SourceDir() / "tests" / "fhir" / "uscore-trd.bundle.json");
  EXPECT_EQ(cdshooks::JsonText(bundle), bundle.dump());
}

TEST(CdsHooksJsonText, InvalidUtf8ThrowsAsDumpDoes) {
  for (const std::string& bad : {std::string("\xC3"), std::string("a\xC0\xAF"), std::string("\xED\xA0\x80"), std::string("\xF4\x90\x80\x80"),
                                std::string("\xE2\x28\xA1"), std::string("\x80")}) {
    const nlohmann::json value{{"text", bad}};
    EXPECT_THROW((void)value.dump(), nlohmann::json::type_error);
    EXPECT_THROW((void)cdshooks::JsonText(value), nlohmann::json::type_error);
  }
}

}  // namespace
}  // namespace refract
