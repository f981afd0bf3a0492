#include "replica/meta.hpp"

namespace lumbung::replica {

Result<std::string> read_meta(db::Database& db, const std::string& key) {
  Result<db::Statement*> stmt = db.cached("SELECT value FROM _lumbung_meta WHERE key = ?1");
  if (!stmt.is_ok()) return stmt.status();
  (*stmt)->bind(1, Value(key));
  Result<bool> row = (*stmt)->step();
  if (!row.is_ok()) return row.status();
  std::string value = *row ? (*stmt)->column_text(0) : std::string();
  (*stmt)->reset();
  return value;
}

Status write_meta(db::Database& db, const std::string& key, const Value& value) {
  Result<db::Statement*> stmt =
      db.cached("INSERT OR REPLACE INTO _lumbung_meta (key, value) VALUES (?1, ?2)");
  if (!stmt.is_ok()) return stmt.status();
  (*stmt)->bind(1, Value(key));
  (*stmt)->bind(2, value);
  return (*stmt)->run();
}

}  // namespace lumbung::replica
