// A push of one new household, built by hand the way a device builds it, for
// tests that speak the protocol without a Replica.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "protocol/wire.hpp"

namespace lumbung::test {

inline v1::PushRequest household_push(const v1::RequestHeader& header, std::uint64_t batch,
                                      const std::string& row_id, const std::string& village,
                                      const std::string& head_name) {
  v1::PushRequest push;
  *push.mutable_header() = header;
  push.set_batch(batch);
  v1::TableColumns* table = push.add_tables();
  table->set_table("household");
  v1::Change* change = push.add_changes();
  change->set_id(1);
  change->set_table(0);
  change->set_row_id(row_id);
  change->set_op(v1::CHANGE_OP_INSERT);
  change->set_hlc(std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count()
                  << 16);
  for (const auto& [column, text] :
       std::vector<std::pair<std::string, std::string>>{{"id", row_id},
                                                        {"village_id", village},
                                                        {"head_name", head_name},
                                                        {"created_by", header.device_id()},
                                                        {"created_at", "2026-11-28T04:07:26Z"}}) {
    change->add_columns(static_cast<std::uint32_t>(table->columns_size()));
    table->add_columns(column);
    change->add_values()->set_text(text);
  }
  return push;
}

}  // namespace lumbung::test
