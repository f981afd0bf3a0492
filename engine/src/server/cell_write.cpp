#include "server/cell_write.hpp"

#include <algorithm>

namespace lumbung::server {

Result<Value> check_cell_write(db::CheckJudge& judge, const core::Table& table,
                               const core::Column& column, const Value& value,
                               const std::vector<StoredCell>& cells) {
  LUMBUNG_ASSIGN_OR_RETURN(const Value coerced, core::coerce_value(table, column, value));
  Row row;
  for (const core::Column& other : table.columns) {
    const auto stored = std::find_if(cells.begin(), cells.end(), [&](const StoredCell& cell) {
      return cell.column == other.name;
    });
    row[other.name] =
        stored != cells.end() ? stored->cell.value : other.default_value.value_or(Value());
  }
  row[column.name] = coerced;
  LUMBUNG_RETURN_IF_ERROR(judge.validate_row(table, row));
  return coerced;
}

}  // namespace lumbung::server
