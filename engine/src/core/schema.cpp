#include "core/schema.hpp"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/hex.hpp"

namespace lumbung::core {

namespace {

using Json = nlohmann::json;

constexpr std::string_view kFormat = "lumbung-schema/1";
constexpr std::string_view kTypeKeys[] = {"integer", "real", "text", "blob"};  // by ColumnType
constexpr std::string_view kKindKeys[] = {"last_writer_wins", "server_wins", "first_writer_wins",
                                          "manual_review"};  // by MergeKind

std::string_view type_key(ColumnType type) { return kTypeKeys[static_cast<int>(type)]; }

// Text from outside, fit for a message: control bytes as \xNN, long text cut.
std::string shown(std::string_view s, std::size_t limit = 64) {
  const bool cut = s.size() > limit;
  if (cut) {
    s = s.substr(0, limit);
    while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xc0) == 0x80) s.remove_suffix(1);
    if (!s.empty() && static_cast<unsigned char>(s.back()) >= 0xc0) s.remove_suffix(1);
  }
  std::string out;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += "\\x";
      append_hex(out, &c, 1);
    } else {
      out += c;
    }
  }
  return cut ? out + "..." : out;
}

}  // namespace

std::string describe_value(const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      return "NULL";
    case ValueType::kInteger:
      return "integer " + std::to_string(v.as_integer());
    case ValueType::kReal: {
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v.as_real());
      return "real " + std::string(buf, end);
    }
    case ValueType::kText:
      return "text '" + shown(v.as_text(), 40) + "'";
    case ValueType::kBlob:
      return "blob of " + std::to_string(v.as_blob().size()) + " bytes";
  }
  return "";
}

namespace {

std::string table_prefix(const Table& table) { return "table '" + table.name + "': "; }
std::string column_prefix(const Table& table, const Column& column) {
  return table_prefix(table) + "column '" + column.name + "': ";
}

// `value` in the storage class of `type`, or kTypeMismatch with the problem alone.
Result<Value> convert(ColumnType type, const Value& value) {
  const auto mismatch = [&] {
    return Status(ErrorCode::kTypeMismatch,
                  "expected " + std::string(type_key(type)) + ", got " + describe_value(value));
  };
  switch (value.type()) {
    case ValueType::kNull:
      return value;
    case ValueType::kInteger: {
      if (type == ColumnType::kInteger) return value;
      if (type != ColumnType::kReal) return mismatch();
      // Only integers a double holds exactly: no information is lost.
      const std::int64_t i = value.as_integer();
      const auto d = static_cast<double>(i);
      if (d >= -0x1p63 && d < 0x1p63 && static_cast<std::int64_t>(d) == i) return Value(d);
      return mismatch();
    }
    case ValueType::kReal: {
      const double r = value.as_real();
      if (!std::isfinite(r)) {
        return Status(ErrorCode::kTypeMismatch,
                      "expected a finite number, got " + describe_value(value));
      }
      if (type == ColumnType::kReal) return value;
      if (type == ColumnType::kInteger && std::trunc(r) == r && r >= -0x1p63 && r < 0x1p63) {
        return Value(static_cast<std::int64_t>(r));
      }
      return mismatch();
    }
    case ValueType::kText:
      return type == ColumnType::kText ? Result<Value>(value) : mismatch();
    case ValueType::kBlob:
      return type == ColumnType::kBlob ? Result<Value>(value) : mismatch();
  }
  return mismatch();
}

// `text` parsed as a value of `type`, or kTypeMismatch with the problem alone.
// std::from_chars, unlike strtoll/strtod, ignores the locale and takes no spaces.
Result<Value> parse_text(ColumnType type, std::string_view text) {
  const auto fail = [&](std::string_view what) {
    return Status(ErrorCode::kTypeMismatch, std::string(what) + ": '" + shown(text, 40) + "'");
  };
  std::string_view digits = text;
  if (digits.size() > 1 && digits[0] == '+' && digits[1] != '-') digits.remove_prefix(1);
  const char* const end = digits.data() + digits.size();
  switch (type) {
    case ColumnType::kInteger: {
      std::int64_t v = 0;
      auto [ptr, ec] = std::from_chars(digits.data(), end, v);
      if (ec == std::errc::result_out_of_range) return fail("integer out of range");
      if (ec != std::errc() || ptr != end) return fail("not an integer");
      return Value(v);
    }
    case ColumnType::kReal: {
      // from_chars would also take "inf", "nan" and hex digits.
      if (digits.find_first_not_of("0123456789+-.eE") != std::string_view::npos) {
        return fail("not a real number");
      }
      double v = 0;
      auto [ptr, ec] = std::from_chars(digits.data(), end, v);
      if (ec == std::errc::result_out_of_range) return fail("real number out of range");
      if (ec != std::errc() || ptr != end) return fail("not a real number");
      return Value(v);
    }
    case ColumnType::kText:
      return Value(text);
    case ColumnType::kBlob: {
      std::optional<Blob> bytes = from_hex(text);
      if (!bytes) return fail("not hex (a blob is an even number of digits 0-9, a-f)");
      return Value(std::move(*bytes));
    }
  }
  return fail("unknown type");
}

// ---------------------------------------------------------------------------
// Loading. The loader stops at the first problem; it throws LoadError to keep
// each check a single line, and load_schema() turns it into a Status (nothing
// is thrown across the API).

struct LoadError {
  std::string message;
};

// Where a problem is: "desmigratif.json: table 'person': column 'sex': ".
class Where {
 public:
  explicit Where(std::string prefix) : prefix_(std::move(prefix)) {}
  Where operator/(const std::string& part) const { return Where(prefix_ + part + ": "); }
  [[noreturn]] void fail(const std::string& problem) const { throw LoadError{prefix_ + problem}; }

 private:
  std::string prefix_;
};

std::string named(std::string_view kind, std::string_view name) {
  return std::string(kind) + " '" + shown(name) + "'";
}
std::string numbered(std::string_view kind, std::size_t index) {
  return std::string(kind) + " #" + std::to_string(index + 1);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// REQUIRES: `j` is an object. Every key must be one of `keys`: a typo such as
// "not_nul" would otherwise drop a constraint without a word.
void check_keys(const Json& j, const Where& where, std::initializer_list<std::string_view> keys) {
  for (const auto& item : j.items()) {
    const std::string& key = item.key();
    if (std::find(keys.begin(), keys.end(), key) != keys.end()) continue;
    std::string problem = "unknown key '" + shown(key) + "'";
    for (std::string_view k : keys) {
      if (edit_distance(key, k) <= 2) {
        problem += " (did you mean '" + std::string(k) + "'?)";
        break;
      }
    }
    where.fail(problem);
  }
  const auto comment = j.find("comment");
  if (comment != j.end() && !comment->is_string()) where.fail("'comment' must be a string");
}

const Json* member(const Json& j, const char* key) {
  const auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

std::string get_string(const Json& j, const char* key, const Where& where) {
  const Json* v = member(j, key);
  if (v == nullptr) where.fail(std::string("missing '") + key + "'");
  if (!v->is_string()) where.fail(std::string("'") + key + "' must be a string");
  return v->get<std::string>();
}

bool get_bool(const Json& j, const char* key, const Where& where) {
  const Json* v = member(j, key);
  if (v == nullptr) return false;
  if (!v->is_boolean()) where.fail(std::string("'") + key + "' must be true or false");
  return v->get<bool>();
}

// An array member; empty when absent and not `required`, never empty when `required`.
const Json& get_array(const Json& j, const char* key, const Where& where, bool required) {
  static const Json kEmpty = Json::array();
  const Json* v = member(j, key);
  if (v == nullptr && !required) return kEmpty;
  if (v == nullptr) where.fail(std::string("missing '") + key + "'");
  if (!v->is_array()) where.fail(std::string("'") + key + "' must be an array");
  if (required && v->empty()) where.fail(std::string("'") + key + "' must not be empty");
  return *v;
}

void check_identifier(const std::string& name, const Where& where, std::string_view kind) {
  if (!is_valid_identifier(name)) {
    where.fail("invalid " + std::string(kind) + " name '" + shown(name) +
               "' (use a-z, 0-9 and _, starting with a letter, at most 63 characters)");
  }
}

// SQLite refuses tables and indexes named "sqlite_...".
void check_not_sqlite(const std::string& name, const Where& where) {
  if (name.starts_with("sqlite_"))
    where.fail("names starting with 'sqlite_' are reserved by SQLite");
}

class Loader {
  struct Names {  // of a table's columns, for its CHECKs
    std::vector<std::string> all;
    std::vector<std::string> blobs;
  };

 public:
  explicit Loader(std::string_view source) : root_(std::string(source) + ": ") {}

  Schema load(const Json& j) {
    if (!j.is_object()) root_.fail("the schema must be a JSON object");
    const std::string format = get_string(j, "format", root_);
    if (format != kFormat) {
      root_.fail("format '" + shown(format) + "' is not supported (expected '" +
                 std::string(kFormat) + "')");
    }
    check_keys(j, root_, {"format", "name", "version", "tables", "comment"});
    Schema schema;
    schema.name = get_string(j, "name", root_);
    check_identifier(schema.name, root_, "schema");
    const Json* version = member(j, "version");
    if (version == nullptr) root_.fail("missing 'version'");
    if (!version->is_number_integer() || version->get<std::int64_t>() < 1 ||
        version->get<std::int64_t>() > INT_MAX) {
      root_.fail("'version' must be a positive integer");
    }
    schema.version = version->get<int>();
    const Json& tables = get_array(j, "tables", root_, true);
    for (std::size_t i = 0; i < tables.size(); ++i) {
      schema.tables.push_back(load_table(tables[i], i, schema));
    }
    for (const Table& table : schema.tables) check_references(schema, table);
    check_object_names(schema);
    return schema;
  }

 private:
  Table load_table(const Json& j, std::size_t index, const Schema& schema) {
    Where where = root_ / numbered("table", index);
    if (!j.is_object()) where.fail("a table must be a JSON object");
    Table table;
    table.name = get_string(j, "name", where);
    check_identifier(table.name, where, "table");
    where = root_ / named("table", table.name);
    check_keys(j, where,
               {"name", "scope", "policy", "columns", "checks", "indexes", "regions", "comment"});
    check_not_sqlite(table.name, where);
    if (schema.find_table(table.name) != nullptr) where.fail("declared twice");

    // Names and types first: CHECKs, scope and indexes may name any column.
    const Json& columns = get_array(j, "columns", where, true);
    for (std::size_t i = 0; i < columns.size(); ++i) {
      table.columns.push_back(load_column_basics(columns[i], i, table, where));
    }
    check_primary_key(table, columns, where);
    Names names;
    for (const Column& c : table.columns) {
      names.all.push_back(c.name);
      if (c.type == ColumnType::kBlob) names.blobs.push_back(c.name);
    }

    table.scope_column = get_string(j, "scope", where);
    const Column* scope = table.find_column(table.scope_column);
    if (scope == nullptr)
      where.fail("scope column '" + shown(table.scope_column) + "' does not exist");
    if (scope->type != ColumnType::kText || !scope->not_null) {
      where.fail("scope column '" + table.scope_column + "' must be text and not_null");
    }

    for (std::size_t i = 0; i < columns.size(); ++i) {
      load_column_details(columns[i], table, table.columns[i], names);
    }
    // A default would place a row that names no scope in one, past the
    // writer's grant (the daemon checks the scope a change names).
    if (table.find_column(table.scope_column)->default_value) {
      where.fail("scope column '" + table.scope_column +
                 "' must not have a default: every row names its scope");
    }
    if (const Json* policy = member(j, "policy")) {
      table.policy = load_policy(*policy, where / "policy", nullptr);
    }
    const Json& checks = get_array(j, "checks", where, false);
    for (std::size_t i = 0; i < checks.size(); ++i) {
      table.checks.push_back(load_check(checks[i], names, where / numbered("CHECK", i)));
    }
    const Json& indexes = get_array(j, "indexes", where, false);
    for (std::size_t i = 0; i < indexes.size(); ++i) {
      table.indexes.push_back(load_index(indexes[i], i, table, where));
    }
    if (const Json* regions = member(j, "regions")) {
      if (schema.region_table() != nullptr) {
        where.fail("'regions' is declared by table '" + schema.region_table()->name +
                   "' already: grants read one table's regions");
      }
      load_regions(*regions, table, where / "regions");
    }
    return table;
  }

  // {"district": COLUMN, "province": COLUMN}, at least one of them: text
  // columns of the table other than its id and scope.
  void load_regions(const Json& j, Table& table, const Where& where) {
    if (!j.is_object()) where.fail("'regions' must be a JSON object");
    check_keys(j, where, {"district", "province", "comment"});
    const auto region_column = [&](const char* key) -> std::string {
      if (member(j, key) == nullptr) return {};
      std::string name = get_string(j, key, where);
      const Column* column = table.find_column(name);
      if (column == nullptr)
        where.fail(std::string(key) + " column '" + shown(name) + "' does not exist");
      if (column->type != ColumnType::kText) {
        where.fail(std::string(key) + " column '" + name + "' must be text");
      }
      if (column->primary_key || name == table.scope_column) {
        where.fail(std::string(key) + " column '" + name +
                   "' must not be the id or the scope: a region is a column of its own");
      }
      return name;
    };
    table.district_column = region_column("district");
    table.province_column = region_column("province");
    if (table.district_column.empty() && table.province_column.empty()) {
      where.fail("'regions' must name a 'district' or a 'province' column");
    }
  }

  Column load_column_basics(const Json& j, std::size_t index, const Table& table,
                            const Where& table_where) {
    Where where = table_where / numbered("column", index);
    if (!j.is_object()) where.fail("a column must be a JSON object");
    Column column;
    column.name = get_string(j, "name", where);
    check_identifier(column.name, where, "column");
    where = table_where / named("column", column.name);
    check_keys(j, where,
               {"name", "type", "primary_key", "not_null", "default", "check", "references",
                "personal", "specific", "policy", "comment"});
    if (column.name == "rowid" || column.name == "oid") {
      where.fail("'" + column.name + "' is reserved by SQLite for the row id");
    }
    if (table.find_column(column.name) != nullptr) where.fail("declared twice");
    const std::string type = get_string(j, "type", where);
    const auto it = std::find(std::begin(kTypeKeys), std::end(kTypeKeys), type);
    if (it == std::end(kTypeKeys)) {
      where.fail("type '" + shown(type) + "' is not one of integer, real, text, blob");
    }
    column.type = static_cast<ColumnType>(it - std::begin(kTypeKeys));
    column.primary_key = get_bool(j, "primary_key", where);
    column.not_null = get_bool(j, "not_null", where);
    if (get_bool(j, "specific", where)) {
      column.sensitivity = Sensitivity::kSpecific;
    } else if (get_bool(j, "personal", where)) {
      column.sensitivity = Sensitivity::kPersonal;
    }
    return column;
  }

  // Every table starts with its text primary key "id", the unit of sync.
  void check_primary_key(Table& table, const Json& columns, const Where& where) {
    Column& id = table.columns[0];
    if (id.name != "id" || id.type != ColumnType::kText || !id.primary_key) {
      where.fail(
          "the first column must be {\"name\": \"id\", \"type\": \"text\", \"primary_key\": true}");
    }
    for (const char* key : {"default", "references", "policy"}) {
      if (member(columns[0], key) != nullptr) {
        (where / "column 'id'")
            .fail("'" + std::string(key) + "' is not allowed on the primary key");
      }
    }
    // SQLite lets a TEXT PRIMARY KEY hold NULL; a synced row never does.
    id.not_null = true;
    for (std::size_t i = 1; i < table.columns.size(); ++i) {
      if (table.columns[i].primary_key) {
        (where / named("column", table.columns[i].name))
            .fail("only the first column, 'id', can be the primary key");
      }
    }
  }

  void load_column_details(const Json& j, const Table& table, Column& column, const Names& names) {
    const Where where = root_ / named("table", table.name) / named("column", column.name);
    if (const Json* check = member(j, "check"))
      column.check = load_check(*check, names, where / "CHECK");
    if (const Json* def = member(j, "default")) {
      column.default_value = load_literal(*def, column, where / "default");
    }
    if (const Json* policy = member(j, "policy")) {
      column.policy = load_policy(*policy, where / "policy", &column);
    }
    if (const Json* ref = member(j, "references")) {
      ForeignKey fk;
      if (ref->is_string()) {
        fk.table = ref->get<std::string>();
      } else if (ref->is_object()) {
        const Where ref_where = where / "references";
        check_keys(*ref, ref_where, {"table", "column"});
        fk.table = get_string(*ref, "table", ref_where);
        if (member(*ref, "column") != nullptr) fk.column = get_string(*ref, "column", ref_where);
      } else {
        where.fail("'references' must be a table name or {\"table\": ..., \"column\": ...}");
      }
      column.references = std::move(fk);
    }
  }

  static CheckExpr load_check(const Json& j, const Names& names, const Where& where) {
    if (!j.is_string()) where.fail("must be a string");
    Result<CheckExpr> check = CheckExpr::parse(j.get<std::string>(), names.all, names.blobs);
    if (!check) where.fail(check.status().message());
    return std::move(check).value();
  }

  // A JSON scalar as a value of the column's type (blobs written as hex);
  // nullopt for null.
  static std::optional<Value> load_literal(const Json& j, const Column& column,
                                           const Where& where) {
    Value v;
    if (j.is_null()) return std::nullopt;
    if (j.is_boolean()) where.fail("true and false are not values: write 1 or 0");
    if (j.is_number_unsigned()) {
      if (j.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) {
        where.fail("integer out of range");
      }
      v = Value(j.get<std::int64_t>());
    } else if (j.is_number_integer()) {
      v = Value(j.get<std::int64_t>());
    } else if (j.is_number_float()) {
      v = Value(j.get<double>());
    } else if (j.is_string() && column.type == ColumnType::kBlob) {
      Result<Value> bytes = parse_text(ColumnType::kBlob, j.get<std::string>());
      if (!bytes) where.fail(bytes.status().message());
      return bytes.value();
    } else if (j.is_string()) {
      v = Value(j.get<std::string>());
    } else {
      where.fail("must be a number or a string");
    }
    Result<Value> typed = convert(column.type, v);
    if (!typed) where.fail(typed.status().message());
    return typed.value();
  }

  // `column` is null for a table's policy.
  static MergePolicy load_policy(const Json& j, const Where& where, const Column* column) {
    MergePolicy policy;
    const Json* kind = &j;
    if (j.is_object()) {
      check_keys(j, where, {"kind", "when"});
      kind = member(j, "kind");
      if (kind == nullptr) where.fail("missing 'kind'");
      if (const Json* when = member(j, "when")) {
        if (column == nullptr) where.fail("'when' is only allowed on a column's policy");
        policy.only_when_current = load_literal(*when, *column, where / "when");
        if (!policy.only_when_current) where.fail("'when' must not be null");
      }
    }
    if (!kind->is_string()) where.fail("must be a policy name or {\"kind\": ..., \"when\": ...}");
    const std::string name = kind->get<std::string>();
    const std::optional<MergeKind> parsed = parse_merge_kind(name);
    if (!parsed) {
      where.fail("unknown policy '" + shown(name) +
                 "' (expected last_writer_wins, server_wins, first_writer_wins or manual_review)");
    }
    policy.kind = *parsed;
    return policy;
  }

  Index load_index(const Json& j, std::size_t i, const Table& table, const Where& table_where) {
    Where where = table_where / numbered("index", i);
    if (!j.is_object()) where.fail("an index must be a JSON object");
    Index index;
    index.name = get_string(j, "name", where);
    check_identifier(index.name, where, "index");
    where = table_where / named("index", index.name);
    check_keys(j, where, {"name", "columns", "comment"});
    check_not_sqlite(index.name, where);
    for (const Json& c : get_array(j, "columns", where, true)) {
      if (!c.is_string()) where.fail("'columns' must hold column names");
      const std::string name = c.get<std::string>();
      if (table.find_column(name) == nullptr) where.fail("unknown column '" + shown(name) + "'");
      index.columns.push_back(name);
    }
    return index;
  }

  // Foreign keys point at a table's "id": SQLite needs a unique parent key,
  // and natural keys are deliberately not unique (desmigratif.md).
  void check_references(const Schema& schema, const Table& table) const {
    for (const Column& column : table.columns) {
      if (!column.references) continue;
      const ForeignKey& fk = *column.references;
      const Where where = root_ / named("table", table.name) / named("column", column.name);
      const Table* parent = schema.find_table(fk.table);
      if (parent == nullptr) where.fail("references unknown table '" + shown(fk.table) + "'");
      if (parent->find_column(fk.column) == nullptr) {
        where.fail("references unknown column '" + shown(fk.column) + "' of table '" + fk.table +
                   "'");
      }
      if (fk.column != "id") {
        where.fail("references '" + fk.table + "'.'" + fk.column +
                   "': only a table's 'id' can be referenced");
      }
      if (column.type != ColumnType::kText) {
        where.fail("must be text to reference '" + fk.table + "'.'id'");
      }
    }
  }

  // Tables and indexes share one namespace in SQLite.
  void check_object_names(const Schema& schema) const {
    std::map<std::string, std::string> owner;  // name -> what has it
    for (const Table& table : schema.tables) owner[table.name] = "table '" + table.name + "'";
    for (const Table& table : schema.tables) {
      for (const Index& index : table.indexes) {
        const auto [it, fresh] =
            owner.emplace(index.name, "an index of table '" + table.name + "'");
        if (!fresh) {
          (root_ / named("table", table.name) / named("index", index.name))
              .fail("name already used by " + it->second);
        }
      }
    }
  }

  Where root_;
};

}  // namespace

std::string_view sql_type_name(ColumnType type) {
  static constexpr std::string_view kNames[] = {"INTEGER", "REAL", "TEXT", "BLOB"};
  return kNames[static_cast<int>(type)];
}

std::string_view merge_kind_name(MergeKind kind) { return kKindKeys[static_cast<int>(kind)]; }

std::optional<MergeKind> parse_merge_kind(std::string_view name) {
  const auto it = std::find(std::begin(kKindKeys), std::end(kKindKeys), name);
  if (it == std::end(kKindKeys)) return std::nullopt;
  return static_cast<MergeKind>(it - std::begin(kKindKeys));
}

const Column* Table::find_column(std::string_view column) const {
  for (const Column& c : columns) {
    if (c.name == column) return &c;
  }
  return nullptr;
}

const MergePolicy& Table::policy_for(std::string_view column) const {
  const Column* c = find_column(column);
  return c != nullptr && c->policy ? *c->policy : policy;
}

const Table* Schema::find_table(std::string_view table) const {
  for (const Table& t : tables) {
    if (t.name == table) return &t;
  }
  return nullptr;
}

const Table* Schema::region_table() const {
  for (const Table& t : tables) {
    if (t.has_regions()) return &t;
  }
  return nullptr;
}

Result<Schema> load_schema(std::string_view json_text, std::string_view source) {
  const std::string prefix = std::string(source) + ": ";
  // nlohmann keeps the last of two equal keys; a duplicated "check" would
  // silently replace the first, so duplicates are errors.
  std::vector<std::set<std::string>> open_objects;
  std::string duplicate;
  const Json::parser_callback_t on_event = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      open_objects.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      open_objects.pop_back();
    } else if (event == Json::parse_event_t::key && duplicate.empty() &&
               !open_objects.back().insert(parsed.get<std::string>()).second) {
      duplicate = parsed.get<std::string>();
    }
    return true;
  };
  Json root;
  try {
    root = Json::parse(json_text, on_event, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const Json::exception& e) {
    // what(): "[json.exception.parse_error.101] parse error at line 3, column 5: ...", or
    // "[json.exception.out_of_range.406] number overflow parsing '1e400'".
    std::string what = e.what();
    what = what.substr(what.find("] ") + 2);
    return Status(ErrorCode::kSchemaInvalid, prefix + "JSON " + what);
  }
  if (!duplicate.empty()) {
    return Status(ErrorCode::kSchemaInvalid,
                  prefix + "key '" + shown(duplicate) + "' appears twice in one object");
  }
  try {
    return Loader(source).load(root);
  } catch (const LoadError& e) {
    return Status(ErrorCode::kSchemaInvalid, e.message);
  }
}

Result<Schema> load_schema_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kNotFound, "cannot open schema file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status(ErrorCode::kIo, "cannot read schema file '" + path + "'");
  return load_schema(text.str(), path);
}

// The rule that names start with a lowercase letter already keeps out the
// engine's reserved prefix "_lumbung".
bool is_valid_identifier(std::string_view name) {
  if (name.empty() || name.size() > 63 || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string sql_text_literal(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

std::string sql_literal(const Value& value, RealDigits digits) {
  switch (value.type()) {
    case ValueType::kNull:
      return "NULL";
    case ValueType::kInteger:
      return std::to_string(value.as_integer());
    case ValueType::kReal: {
      char buf[32];
      std::string text;
      if (digits == RealDigits::kShortest) {
        const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value.as_real());
        text.assign(buf, end);
      } else {
        std::snprintf(buf, sizeof buf, "%.17g", value.as_real());
        text = buf;
      }
      if (text.find_first_of(".eE") == std::string::npos) text += ".0";
      return text;
    }
    case ValueType::kText:
      return sql_text_literal(value.as_text());
    case ValueType::kBlob: {
      std::string text = "X'";
      append_hex(text, value.as_blob().data(), value.as_blob().size(), HexCase::kUpper);
      return text + "'";
    }
  }
  return "NULL";
}

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';  // unreachable for valid names; cheap insurance
  }
  return out + "\"";
}

Result<Value> coerce_value(const Table& table, const Column& column, const Value& value) {
  Result<Value> v = convert(column.type, value);
  if (!v)
    return Status(ErrorCode::kTypeMismatch, column_prefix(table, column) + v.status().message());
  return v;
}

Result<Value> parse_value_text(const Table& table, const Column& column, std::string_view text) {
  Result<Value> v = parse_text(column.type, text);
  if (!v)
    return Status(ErrorCode::kTypeMismatch, column_prefix(table, column) + v.status().message());
  return v;
}

namespace {

// Types and NOT NULL of the row whose column i holds *value_of(i) (null:
// missing, as NULL), in column order.
template <typename ValueOf>
Status validate_columns(const Table& table, const ValueOf& value_of) {
  for (std::size_t i = 0; i < table.columns.size(); ++i) {
    const Column& column = table.columns[i];
    const Value* value = value_of(i);
    if (value == nullptr || value->is_null()) {
      if (column.not_null) {
        return Status(ErrorCode::kConstraint,
                      table_prefix(table) + "column '" + column.name + "' is NOT NULL");
      }
      continue;
    }
    const Value& v = *value;
    const bool typed = (column.type == ColumnType::kInteger && v.type() == ValueType::kInteger) ||
                       (column.type == ColumnType::kReal && v.type() == ValueType::kReal) ||
                       (column.type == ColumnType::kText && v.type() == ValueType::kText) ||
                       (column.type == ColumnType::kBlob && v.type() == ValueType::kBlob);
    if (!typed) {
      return Status(ErrorCode::kTypeMismatch, column_prefix(table, column) + "expected " +
                                                  std::string(type_key(column.type)) + ", got " +
                                                  describe_value(v));
    }
  }
  return Status();
}

}  // namespace

Status validate_cells(const Table& table, const Row& row) {
  for (const auto& [name, value] : row) {
    if (table.find_column(name) == nullptr) {
      return Status(ErrorCode::kNotFound,
                    table_prefix(table) + "unknown column '" + shown(name) + "'");
    }
  }
  return validate_columns(table, [&](std::size_t i) -> const Value* {
    const auto it = row.find(table.columns[i].name);
    return it == row.end() ? nullptr : &it->second;
  });
}

Status validate_cells(const Table& table, const std::vector<Value>& values) {
  return validate_columns(table, [&](std::size_t i) { return &values[i]; });
}

}  // namespace lumbung::core
