#include "core/canonical_json.hpp"

#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string_view>
#include <vector>

namespace {

using lumbung::Blob;
using lumbung::Row;
using lumbung::Value;
using lumbung::core::canonical_json;
using lumbung::core::format_real;
using lumbung::core::TableRows;

std::string json_of(const Value& value) { return canonical_json(value); }

}  // namespace

TEST_CASE("canonical_json sorts tables, ids and columns whatever the insertion order", "[core]") {
  TableRows tables;
  tables["zeta"]["row-b"]["z"] = Value(1);
  tables["zeta"]["row-b"]["a"] = Value("x");
  tables["zeta"]["row-a"]["m"] = Value();
  tables["alpha"]["id-2"]["village_id"] = Value("3201");
  tables["alpha"]["id-2"]["age"] = Value(34);
  tables["alpha"]["id-1"]["score"] = Value(2.0);
  tables["alpha"]["id-1"]["photo"] = Value(Blob{0x00, 0x01, 0x02, 0xff});
  tables["empty"];

  CHECK(canonical_json(tables) == R"({"alpha":{"id-1":{"photo":{"base64":"AAEC/w=="},"score":2.0},)"
                                  R"("id-2":{"age":34,"village_id":"3201"}},"empty":{},)"
                                  R"("zeta":{"row-a":{"m":null},"row-b":{"a":"x","z":1}}})");
}

TEST_CASE("canonical_json orders keys by bytes", "[core]") {
  Row row;
  row["\xc3\xa9"] = Value(3);  // é: two bytes above ASCII
  row["a"] = Value(2);
  row["B"] = Value(1);
  row["_"] = Value(4);
  CHECK(canonical_json(row) == "{\"B\":1,\"_\":4,\"a\":2,\"\xc3\xa9\":3}");
  CHECK(canonical_json(TableRows{}) == "{}");
  CHECK(canonical_json(Row{}) == "{}");
}

TEST_CASE("a RowJsonWriter writes a row's values as canonical_json writes the row", "[core]") {
  const std::vector<std::string_view> names = {"\xc3\xa9", "zeta", "a\"q", "B", "_", "\x01"};
  const lumbung::core::RowJsonWriter writer(names);
  const std::vector<std::vector<Value>> rows = {
      {Value(3), Value("x"), Value(), Value(2.0), Value(Blob{0x00, 0xff}), Value(-1)},
      {Value(), Value(), Value(), Value(), Value(), Value()},
      {Value("\xff"), Value(1e300), Value(std::numeric_limits<double>::infinity()), Value(0),
       Value("\n"), Value(std::numeric_limits<std::int64_t>::min())}};
  for (const std::vector<Value>& values : rows) {
    Row row;
    for (std::size_t i = 0; i < names.size(); ++i) row[std::string(names[i])] = values[i];
    CHECK(writer.write(values) == canonical_json(row));
  }
  CHECK(lumbung::core::RowJsonWriter({}).write({}) == "{}");
}

TEST_CASE("canonical_json keeps integers and reals apart", "[core]") {
  CHECK(json_of(Value(2)) == "2");
  CHECK(json_of(Value(-7)) == "-7");
  CHECK(json_of(Value(std::numeric_limits<std::int64_t>::min())) == "-9223372036854775808");
  CHECK(json_of(Value(2.0)) == "2.0");
  CHECK(json_of(Value(-0.0)) == "-0.0");
  CHECK(json_of(Value(1.5)) == "1.5");
  CHECK(json_of(Value(0.1)) == "0.1");
  CHECK(json_of(Value(0.1 + 0.2)) == "0.30000000000000004");
  CHECK(json_of(Value(123456.0)) == "123456.0");
  CHECK(json_of(Value(1e20)) == "1e+20");
  CHECK(json_of(Value(1e-7)) == "1e-07");
  CHECK(json_of(Value(5e-324)) == "5e-324");
  CHECK(json_of(Value(std::numeric_limits<double>::max())) == "1.7976931348623157e+308");
  CHECK(json_of(Value(106.816666)) == "106.816666");
}

TEST_CASE("canonical_json reals read back to the same double", "[core]") {
  std::mt19937_64 random(42);
  for (int i = 0; i < 20000; ++i) {
    const double d = std::bit_cast<double>(random());
    if (!std::isfinite(d)) continue;
    const std::string text = format_real(d);
    INFO(text);
    REQUIRE(text.find_first_of(".e") != std::string::npos);
    REQUIRE(std::bit_cast<std::uint64_t>(std::strtod(text.c_str(), nullptr)) ==
            std::bit_cast<std::uint64_t>(d));
  }
}

TEST_CASE("canonical_json writes inf and NaN as tagged objects", "[core]") {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  CHECK(json_of(Value(kInf)) == R"({"real":"inf"})");
  CHECK(json_of(Value(-kInf)) == R"({"real":"-inf"})");
  CHECK(json_of(Value(std::nan(""))) == R"({"real":"nan"})");
}

TEST_CASE("canonical_json writes text as JSON strings with UTF-8 kept", "[core]") {
  CHECK(json_of(Value("")) == R"("")");
  CHECK(json_of(Value("1")) == R"("1")");
  // Latin, CJK and an emoji outside the BMP, all as raw UTF-8.
  CHECK(json_of(Value("D\xc3\xa9sa \xe6\x97\xa5 \xf0\x9f\x98\x80")) ==
        "\"D\xc3\xa9sa \xe6\x97\xa5 \xf0\x9f\x98\x80\"");
  CHECK(json_of(Value("say \"hi\" \\ /")) == R"("say \"hi\" \\ /")");
}

TEST_CASE("canonical_json escapes control characters", "[core]") {
  CHECK(json_of(Value("a\nb\tc\rd\be\ff")) == R"("a\nb\tc\rd\be\ff")");
  CHECK(json_of(Value(std::string("\0\x01\x1f", 3))) == R"("\u0000\u0001\u001f")");
  CHECK(json_of(Value("\x7f")) == R"("\u007f")");
  CHECK(json_of(Value("\xc2\x80\xc2\x9f\xc2\xa0")) == "\"\\u0080\\u009f\xc2\xa0\"");
}

TEST_CASE("canonical_json escapes bytes of invalid UTF-8 as lone surrogates", "[core]") {
  CHECK(json_of(Value("a\xff"
                      "b")) == R"("a\udcffb")");
  CHECK(json_of(Value("\x80")) == R"("\udc80")");                      // stray continuation byte
  CHECK(json_of(Value("\xe2\x82")) == R"("\udce2\udc82")");            // truncated sequence
  CHECK(json_of(Value("\xe2\x82x")) == R"("\udce2\udc82x")");          // interrupted sequence
  CHECK(json_of(Value("\xc0\xaf")) == R"("\udcc0\udcaf")");            // overlong '/'
  CHECK(json_of(Value("\xe0\x80\xaf")) == R"("\udce0\udc80\udcaf")");  // overlong
  CHECK(json_of(Value("\xed\xa0\x80")) == R"("\udced\udca0\udc80")");  // encoded surrogate
  CHECK(json_of(Value("\xf4\x90\x80\x80")) == R"("\udcf4\udc90\udc80\udc80")");  // > U+10FFFF
  CHECK(json_of(Value("\xf4\x8f\xbf\xbf")) == "\"\xf4\x8f\xbf\xbf\"");           // U+10FFFF is fine
  Row row;
  row["\xfe"] = Value(1);
  CHECK(canonical_json(row) == R"({"\udcfe":1})");
}

TEST_CASE("canonical_json writes blobs as base64 objects", "[core]") {
  CHECK(json_of(Value(Blob{})) == R"({"base64":""})");
  CHECK(json_of(Value(Blob{'f', 'o', 'o'})) == R"({"base64":"Zm9v"})");
}

TEST_CASE("canonical_json gives different values different text", "[core]") {
  const Value values[] = {Value(),
                          Value(1),
                          Value(1.0),
                          Value("1"),
                          Value("1.0"),
                          Value(Blob{1}),
                          Value("\xdc\x80"),
                          Value("\x80"),
                          Value(std::numeric_limits<double>::infinity()),
                          Value(R"({"real":"inf"})")};
  for (const auto& a : values) {
    for (const auto& b : values) {
      if (&a != &b) CHECK(json_of(a) != json_of(b));
    }
  }
}
