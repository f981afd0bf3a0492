// What devices of older schema versions are served (docs/protocol.md,
// "Schema versions"): the server serves the newest version of its schema, and
// a device on an older one gets only the tables and columns its version has,
// with checksums over those alone, so that it keeps verifying its state.
//
// The store keeps the text of every version it was served with (meta keys
// "schema_text.N"); an older version's view is that text, checked to be a
// part of the newest (the same tables and columns, of the same types). A
// device of a version the store never served is served the newest version
// whole, as before views existed: its device leaves out what it does not know
// and stops comparing checksums until its schema changes.
//
// Thread-safety: a loaded SchemaViews may be shared read-only.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/schema.hpp"
#include "lumbung/status.hpp"
#include "server/store.hpp"

namespace lumbung::server {

// The schema one version of devices holds, and what of the newest it lacks.
struct SchemaView {
  const core::Schema* schema = nullptr;  // the device's version of the schema
  // Tables of the newest version the device lacks, and the columns it lacks
  // of the tables it has.
  std::set<std::string, std::less<>> hidden_tables{};
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> hidden_columns{};

  bool hides_nothing() const { return hidden_tables.empty() && hidden_columns.empty(); }
  bool hides(std::string_view table) const { return hidden_tables.contains(table); }
  bool hides(std::string_view table, std::string_view column) const;
};

// The meta key of version `version`'s text.
std::string schema_text_meta_key(int version);

// Records `schema` (loaded from `text`) as served, unless its version is
// recorded already; the text kept under kSchemaTextMetaKey before (the last
// served, of version `served_version`) is recorded too when its version is
// not, so that stores from before views keep their older version.
Status record_served_schema(WriteTransaction& txn, const core::Schema& schema,
                            std::string_view text, std::int64_t served_version);

class SchemaViews {
 public:
  // The views of every older version the store records, beside `newest`
  // (which must outlive the views). An older text that does not load, or is
  // not a part of the newest (a table or column gone or retyped), is
  // kSchemaIncompatible naming what differs.
  static Result<SchemaViews> load(ReadTransaction& txn, const core::Schema& newest);

  // The view served to a device of `version`: the newest whole for the newest
  // version and for versions the store never served.
  const SchemaView& view(std::uint32_t version) const;

 private:
  std::unique_ptr<SchemaView> newest_;
  // Older schemas and their views, by version.
  std::map<std::uint32_t, std::unique_ptr<core::Schema>> older_schemas_;
  std::map<std::uint32_t, SchemaView> older_;
};

}  // namespace lumbung::server
