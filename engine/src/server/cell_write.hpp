// The check a write of one cell of a live row passes before the server stores
// it: the same for a push's UPDATE (docs/protocol.md, "Push") and for a
// reviewer's resolution ("Resolve"). Store-independent.
#pragma once

#include <vector>

#include "core/schema.hpp"
#include "db/check_judge.hpp"
#include "lumbung/status.hpp"
#include "lumbung/value.hpp"
#include "server/store.hpp"

namespace lumbung::server {

// Coerces `value` to the type of `column` (core::coerce_value), then validates
// the row the write makes (`judge`): every other column holds its stored cell
// from `cells`, else its default, else NULL. Returns the coerced value, or
// kTypeMismatch / kConstraint with the schema's message.
Result<Value> check_cell_write(db::CheckJudge& judge, const core::Table& table,
                               const core::Column& column, const Value& value,
                               const std::vector<StoredCell>& cells);

}  // namespace lumbung::server
