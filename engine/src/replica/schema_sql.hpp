// SQL for the synced tables themselves: DDL from a validated core::Schema, and
// the plan of an additive migration between two schema versions. Every
// identifier comes from a validated schema and is quoted; literals are escaped.
#pragma once

#include <string>
#include <vector>

#include "core/schema.hpp"
#include "lumbung/status.hpp"

namespace lumbung::replica {

std::string create_table_sql(const core::Table& table);
std::vector<std::string> create_index_sql(const core::Table& table);
std::string add_column_sql(const core::Table& table, const core::Column& column);

// What an additive migration adds.
struct MigrationPlan {
  std::vector<const core::Table*> new_tables;
  std::vector<std::pair<const core::Table*, const core::Column*>> new_columns;
  std::vector<std::pair<const core::Table*, const core::Index*>> new_indexes;
};

// Plans the move from `from` to `to` (a newer version). Only additions are
// allowed: new tables, new nullable (or defaulted) columns, new indexes. Any
// other difference is kSchemaIncompatible naming what changed.
Result<MigrationPlan> plan_migration(const core::Schema& from, const core::Schema& to);

}  // namespace lumbung::replica
