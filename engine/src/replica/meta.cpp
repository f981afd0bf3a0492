#include "replica/meta.hpp"

namespace lumbung::replica {

Result<std::string> read_meta(db::Database& db, const std::string& key) {
  LUMBUNG_ASSIGN_OR_RETURN(
      db::Query query,
      db::Query::cached(db, "SELECT value FROM _lumbung_meta WHERE key = ?1", {Value(key)}));
  LUMBUNG_ASSIGN_OR_RETURN(const bool row, query.step());
  return row ? query.text(0) : std::string();
}

Status write_meta(db::Database& db, const std::string& key, const Value& value) {
  return db::run_cached(db, "INSERT OR REPLACE INTO _lumbung_meta (key, value) VALUES (?1, ?2)",
                        {Value(key), value});
}

}  // namespace lumbung::replica
