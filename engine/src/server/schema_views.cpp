#include "server/schema_views.hpp"

#include <utility>

#include "db/check_judge.hpp"

namespace lumbung::server {
namespace {

// The view of `older` within `newest`: what it lacks of it. kSchemaIncompatible
// when `older` has a table or column `newest` lacks, or of another type.
Result<SchemaView> view_of(const core::Schema& older, const core::Schema& newest) {
  SchemaView view{.schema = &older};
  const std::string version = "schema version " + std::to_string(older.version);
  for (const core::Table& table : older.tables) {
    const core::Table* now = newest.find_table(table.name);
    if (now == nullptr) {
      return Status(ErrorCode::kSchemaIncompatible, version + " has table '" + table.name +
                                                        "', which version " +
                                                        std::to_string(newest.version) + " lacks");
    }
    for (const core::Column& column : table.columns) {
      const core::Column* same = now->find_column(column.name);
      if (same == nullptr || same->type != column.type) {
        return Status(ErrorCode::kSchemaIncompatible,
                      version + ": table '" + table.name + "': column '" + column.name + "' " +
                          (same == nullptr ? "is gone" : "changed its type") + " in version " +
                          std::to_string(newest.version));
      }
    }
  }
  for (const core::Table& table : newest.tables) {
    const core::Table* then = older.find_table(table.name);
    if (then == nullptr) {
      view.hidden_tables.insert(table.name);
      continue;
    }
    for (const core::Column& column : table.columns) {
      if (then->find_column(column.name) == nullptr) {
        view.hidden_columns[table.name].insert(column.name);
      }
    }
  }
  return view;
}

}  // namespace

bool SchemaView::hides(std::string_view table, std::string_view column) const {
  const auto found = hidden_columns.find(table);
  return found != hidden_columns.end() && found->second.contains(column);
}

std::string schema_text_meta_key(int version) { return "schema_text." + std::to_string(version); }

Status record_served_schema(WriteTransaction& txn, const core::Schema& schema,
                            std::string_view text, std::int64_t served_version) {
  if (served_version > 0 && served_version != schema.version) {
    const std::string key = schema_text_meta_key(static_cast<int>(served_version));
    LUMBUNG_ASSIGN_OR_RETURN(const std::string recorded, txn.meta(key));
    LUMBUNG_ASSIGN_OR_RETURN(const std::string served, txn.meta(kSchemaTextMetaKey));
    if (recorded.empty() && !served.empty()) LUMBUNG_RETURN_IF_ERROR(txn.set_meta(key, served));
  }
  const std::string key = schema_text_meta_key(schema.version);
  LUMBUNG_ASSIGN_OR_RETURN(const std::string recorded, txn.meta(key));
  if (!recorded.empty()) return Status::ok();
  return txn.set_meta(key, std::string(text));
}

Result<SchemaViews> SchemaViews::load(ReadTransaction& txn, const core::Schema& newest) {
  SchemaViews views;
  views.newest_ = std::make_unique<SchemaView>(SchemaView{.schema = &newest});
  for (int version = 1; version < newest.version; ++version) {
    LUMBUNG_ASSIGN_OR_RETURN(const std::string text, txn.meta(schema_text_meta_key(version)));
    if (text.empty()) continue;
    const std::string source = "schema version " + std::to_string(version) + " as served before";
    LUMBUNG_ASSIGN_OR_RETURN(core::Schema older, db::load_schema(text, source));
    auto kept = std::make_unique<core::Schema>(std::move(older));
    LUMBUNG_ASSIGN_OR_RETURN(SchemaView view, view_of(*kept, newest));
    const auto at = static_cast<std::uint32_t>(version);
    views.older_.emplace(at, std::move(view));
    views.older_schemas_.emplace(at, std::move(kept));
  }
  return views;
}

const SchemaView& SchemaViews::view(std::uint32_t version) const {
  const auto found = older_.find(version);
  return found == older_.end() ? *newest_ : found->second;
}

}  // namespace lumbung::server
