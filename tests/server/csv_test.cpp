// The CSV dialect of `lumbungd import` and `export`
// (docs/decisions/0029-csv-import-export.md): what CsvReader reads, where it
// says a malformed record begins, and that CsvWriter's output reads back.
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "server/csv_reader.hpp"
#include "server/csv_writer.hpp"

namespace lumbung::server {
namespace {

// A record as the tests write it: its line, then each field, a quoted one as "\"text\"".
struct Read {
  std::int64_t line = 0;
  std::vector<std::string> fields;
  bool operator==(const Read&) const = default;
};

std::ostream& operator<<(std::ostream& out, const Read& read) {
  out << read.line << ':';
  for (const std::string& field : read.fields) out << " [" << field << ']';
  return out;
}

// Every record of `text`, and every problem as "LINE/FIELD: message".
std::pair<std::vector<Read>, std::vector<std::string>> read_all(const std::string& text,
                                                                std::size_t max_bytes = 1u << 20) {
  std::istringstream in(text);
  CsvReader reader(in, max_bytes);
  CsvRecord record;
  CsvProblem problem;
  std::vector<Read> records;
  std::vector<std::string> problems;
  for (;;) {
    const CsvReader::Next next = reader.next(&record, &problem);
    if (next == CsvReader::Next::kEnd) break;
    if (next == CsvReader::Next::kMalformed) {
      problems.push_back(std::to_string(problem.line) + "/" + std::to_string(problem.field) + ": " +
                         problem.message + (problem.fatal ? " (fatal)" : ""));
      continue;
    }
    Read read{record.line, {}};
    for (const CsvField& field : record.fields) {
      read.fields.push_back(field.quoted ? "\"" + field.text + "\"" : field.text);
    }
    records.push_back(std::move(read));
  }
  return {records, problems};
}

}  // namespace

TEST_CASE("csv: fields, quotes, embedded line ends and line numbers", "[server][csv]") {
  const auto [records, problems] = read_all(
      "id,name,notes\r\n"
      "h1,\"Tarsono, Pak\",\"said \"\"hello\"\"\"\r\n"
      "h2,,\"\"\n"
      "h3,\"two\nlines\",x\n"
      "\n"
      "h4,a,b");
  CHECK(problems.empty());
  CHECK(records == std::vector<Read>{{1, {"id", "name", "notes"}},
                                     {2, {"h1", "\"Tarsono, Pak\"", "\"said \"hello\"\""}},
                                     {3, {"h2", "", "\"\""}},
                                     {4, {"h3", "\"two\nlines\"", "x"}},
                                     {7, {"h4", "a", "b"}}});
}

TEST_CASE("csv: a byte order mark is skipped, a lone CR ends a line", "[server][csv]") {
  const auto [records, problems] = read_all("\xef\xbb\xbfid,name\ra,b\r\n");
  CHECK(problems.empty());
  CHECK(records == std::vector<Read>{{1, {"id", "name"}}, {2, {"a", "b"}}});
}

TEST_CASE("csv: a malformed record is reported at its line and reading goes on", "[server][csv]") {
  const auto [records, problems] = read_all(
      "id,name\n"
      "a,b\"c\n"
      "d,\"e\"f\n"
      "g,\"multi\nline\"\n"
      "h,\xff\n"
      "i,j\n");
  CHECK(
      problems ==
      std::vector<std::string>{
          "2/1: a '\"' inside an unquoted field (quote the whole field and write each '\"' twice)",
          "3/1: text after the closing '\"' of a quoted field (write each '\"' inside it twice)",
          "6/1: not UTF-8 text"});
  CHECK(records ==
        std::vector<Read>{{1, {"id", "name"}}, {4, {"g", "\"multi\nline\""}}, {7, {"i", "j"}}});
}

TEST_CASE("csv: an open quote at the end, or a record over the bound, ends the reading",
          "[server][csv]") {
  {
    const auto [records, problems] = read_all("id,name\na,\"open\nb,c\n");
    CHECK(records == std::vector<Read>{{1, {"id", "name"}}});
    CHECK(problems == std::vector<std::string>{
                          "2/1: a quoted field is still open at the end of the file (fatal)"});
  }
  {
    const auto [records, problems] = read_all("id\n" + std::string(100, 'x') + "\nshort\n", 64);
    CHECK(records == std::vector<Read>{{1, {"id"}}});
    REQUIRE(problems.size() == 1);
    CHECK(problems.front().starts_with("2/0: the record is longer than 64 bytes"));
  }
}

TEST_CASE("csv: what the writer writes reads back field for field", "[server][csv]") {
  const std::vector<std::vector<std::pair<std::string, bool>>> rows = {
      {{"id", false}, {"text", false}},
      {{"a", false}, {"plain", false}},
      {{"b", false}, {"comma, \"quote\"\r\nand lines\n", false}},
      {{"c", false}, {"", false}},  // NULL
      {{"d", false}, {"", true}},   // empty text
      {{"e", false}, {"\xe2\x82\xac 5", false}}};
  std::ostringstream out;
  CsvWriter writer(out);
  for (const auto& row : rows) {
    for (const auto& [text, quote] : row) writer.field(text, quote);
    writer.end_record();
  }
  CHECK(out.str().substr(0, 13) == "id,text\r\na,pl");
  const auto [records, problems] = read_all(out.str());
  CHECK(problems.empty());
  REQUIRE(records.size() == rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::string& text = rows[i][1].first;
    const bool quoted = rows[i][1].second || text.find_first_of(",\"\r\n") != std::string::npos;
    CHECK(records[i].fields[1] == (quoted ? "\"" + text + "\"" : text));
  }
}

TEST_CASE("csv: UTF-8 is checked strictly", "[server][csv]") {
  CHECK(is_utf8("Desa Juntinyuat \xe2\x82\xac \xf0\x9f\x8c\xbe"));
  CHECK_FALSE(is_utf8("\xc0\xaf"));          // overlong '/'
  CHECK_FALSE(is_utf8("\xed\xa0\x80"));      // a surrogate
  CHECK_FALSE(is_utf8("\xf4\x90\x80\x80"));  // beyond U+10FFFF
  CHECK_FALSE(is_utf8("\xe2\x82"));          // cut short
}

}  // namespace lumbung::server
