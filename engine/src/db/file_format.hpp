// The format of a SQLite file this engine writes, and how an older one moves
// to the newest: a number, and a list of steps by the number each reaches,
// applied in one transaction from the file's number to the newest. A new file
// is made at the oldest format (its CREATE TABLEs) and then takes every step,
// like an old file, so that each column is declared once.
//
// Each file records its number its own way: the daemon's store and credential
// store in PRAGMA user_version (user_version() below), a replica as the text
// 'lumbung-replica/N' in _lumbung_meta (replica.cpp).
#pragma once

#include <span>
#include <string_view>

#include "db/database.hpp"
#include "lumbung/status.hpp"

namespace lumbung::db {

// SQL, one or more statements, that moves a file of format `to - 1` to `to`.
struct FormatStep {
  int to;
  std::string_view sql;
};

struct FileFormat {
  int oldest;                         // the oldest this code opens; a new file's tables
  std::span<const FormatStep> steps;  // oldest first, from oldest + 1 to the newest

  int newest() const { return steps.empty() ? oldest : steps.back().to; }
  // Whether this code opens a file of `format`, upgrading it to the newest.
  bool opens(int format) const { return format >= oldest && format <= newest(); }

  // Runs each step past `from`, oldest first. REQUIRES: opens(from); inside
  // the transaction that records the newest format.
  Status upgrade(Database& db, int from) const {
    for (const FormatStep& step : steps) {
      if (step.to > from) LUMBUNG_RETURN_IF_ERROR(db.exec(step.sql));
    }
    return Status::ok();
  }
};

// PRAGMA user_version: the format of the daemon's files, 0 in a new one.
inline Result<int> user_version(Database& db) {
  LUMBUNG_ASSIGN_OR_RETURN(Statement version, db.prepare("PRAGMA user_version"));
  LUMBUNG_RETURN_IF_ERROR(version.step().status());
  return static_cast<int>(version.column_int(0));
}

inline Status set_user_version(Database& db, int format) {
  return db.exec("PRAGMA user_version = " + std::to_string(format));
}

}  // namespace lumbung::db
