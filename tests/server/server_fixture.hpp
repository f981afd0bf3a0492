// A real SyncServer on a temporary directory with a fake clock, and requests
// built with protobuf the way a device builds them.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "core/hlc.hpp"
#include "lumbung/v1/sync.pb.h"
#include "protocol/wire.hpp"
#include "server/sync_server.hpp"
#include "support/test_support.hpp"

namespace lumbung::test {

constexpr std::int64_t kNowMs = 1795838846123;  // 2026-11-28T04:07:26.123Z
constexpr const char* kVillage = "0190f1c2-7a00-7000-8000-00000000000a";
constexpr const char* kOtherVillage = "0190f1c2-7a00-7000-8000-00000000000b";

// A stamp `offset_ms` from the server's (fake) now.
inline core::Hlc stamp(std::int64_t offset_ms) {
  return core::Hlc::from_parts(kNowMs + offset_ms, 0);
}

inline v1::RequestHeader header(const std::string& device, std::uint32_t schema_version = 1) {
  v1::RequestHeader header;
  header.set_protocol_version(protocol::kProtocolVersion);
  header.set_schema_version(schema_version);
  header.set_device_id(device);
  return header;
}

// The cells of a valid household row besides its id.
inline Row household(const std::string& village = kVillage) {
  return {{"village_id", village},
          {"created_by", "sri"},
          {"created_at", "2026-11-28T04:00:00Z"},
          {"head_name", "Siti Aminah"}};
}

// One push batch of one device.
class Batch {
 public:
  Batch(const std::string& device, std::uint64_t number) {
    *request_.mutable_header() = header(device);
    request_.set_batch(number);
  }

  Batch& insert(const std::string& table, const std::string& id, Row cells, core::Hlc hlc,
                std::int64_t base_seq = 0) {
    cells["id"] = id;
    v1::Change* change = add(table, id, v1::CHANGE_OP_INSERT, hlc, base_seq);
    for (const auto& [column, value] : cells) add_cell(change, column, value);
    return *this;
  }
  Batch& update(const std::string& table, const std::string& id, const std::string& column,
                const Value& value, core::Hlc hlc, std::int64_t base_seq) {
    add_cell(add(table, id, v1::CHANGE_OP_UPDATE, hlc, base_seq), column, value);
    return *this;
  }
  Batch& remove(const std::string& table, const std::string& id, core::Hlc hlc,
                std::int64_t base_seq) {
    add(table, id, v1::CHANGE_OP_DELETE, hlc, base_seq);
    return *this;
  }

  v1::PushRequest& request() { return request_; }
  const v1::PushRequest& request() const { return request_; }

 private:
  v1::Change* add(const std::string& table, const std::string& id, v1::ChangeOp op, core::Hlc hlc,
                  std::int64_t base_seq) {
    v1::Change* change = request_.add_changes();
    change->set_id(static_cast<std::uint32_t>(request_.changes_size()));
    change->set_table(table_index(table));
    change->set_row_id(id);
    change->set_op(op);
    change->set_hlc(hlc.packed());
    change->set_base_seq(base_seq);
    return change;
  }

  void add_cell(v1::Change* change, const std::string& column, const Value& value) {
    v1::TableColumns* names = request_.mutable_tables(static_cast<int>(change->table()));
    int index = 0;
    while (index < names->columns_size() && names->columns(index) != column) ++index;
    if (index == names->columns_size()) names->add_columns(column);
    change->add_columns(static_cast<std::uint32_t>(index));
    protocol::to_wire(value, change->add_values());
  }

  std::uint32_t table_index(const std::string& table) {
    for (int i = 0; i < request_.tables_size(); ++i) {
      if (request_.tables(i).table() == table) return static_cast<std::uint32_t>(i);
    }
    request_.add_tables()->set_table(table);
    return static_cast<std::uint32_t>(request_.tables_size() - 1);
  }

  v1::PushRequest request_;
};

template <typename Message>
Message decode(const HttpResponse& response) {
  Message message;
  const Status decoded =
      protocol::decode_body(response.headers, response.body, 64u << 20, &message);
  INFO(decoded.to_string());
  REQUIRE(decoded.is_ok());
  return message;
}

// The Error a non-2xx response carries.
inline v1::Error error_of(const HttpResponse& response) { return decode<v1::Error>(response); }

// What `server` answers to `request`, waiting up to 30 s for an answer that
// comes from another thread (a push's, from the commit thread); nullopt when
// none came. Asserts nothing, so that any thread may call it.
inline std::optional<HttpResponse> wait_answer(server::SyncServer& server, HttpRequest request) {
  auto promise = std::make_shared<std::promise<HttpResponse>>();
  std::future<HttpResponse> answer = promise->get_future();
  server.handle(std::move(request),
                [promise](HttpResponse response) { promise->set_value(std::move(response)); });
  if (answer.wait_for(std::chrono::seconds(30)) != std::future_status::ready) return std::nullopt;
  return answer.get();
}

// wait_answer(), on the test's thread: an answer must come.
inline HttpResponse answer_of(server::SyncServer& server, HttpRequest request) {
  std::optional<HttpResponse> answer = wait_answer(server, std::move(request));
  REQUIRE(answer);
  return std::move(*answer);
}

class TestServer {
 public:
  // Without `authenticated`, the server runs with insecure_no_auth: the
  // tests of merging and paging are not about tokens (auth_test.cpp is).
  explicit TestServer(bool authenticated = false) : authenticated_(authenticated) { open(); }

  std::string data_dir() const { return dir_.file("server"); }

  void open() {
    server::ServerOptions options;
    options.data_dir = data_dir();
    options.clock = clock;
    options.insecure_no_auth = !authenticated_;
    if (configure) configure(options);
    Result<std::unique_ptr<server::SyncServer>> opened = server::SyncServer::open(options);
    INFO(opened.status().to_string());
    REQUIRE(opened.is_ok());
    server = std::move(opened).value();
  }
  // Closes and opens the server on the same data, as a daemon restart does.
  void restart() {
    server.reset();
    open();
  }

  // Handles a request that is answered without waiting for other requests:
  // at once, or (a push) once the server's commit thread committed it.
  // With `token` set, as "Authorization: Bearer TOKEN".
  HttpResponse call(HttpRequest request) {
    if (!token.empty()) request.headers.emplace_back("Authorization", "Bearer " + token);
    return answer_of(*server, std::move(request));
  }

  v1::PushResponse push(const Batch& batch) {
    const HttpResponse response = call(protocol::make_request("/v1/push", batch.request()));
    INFO(response.status << " " << error_of_text(response));
    REQUIRE(response.status == 200);
    return decode<v1::PushResponse>(response);
  }

  static v1::PullRequest pull_request(const std::string& device,
                                      const std::map<std::string, std::int64_t>& cursors = {},
                                      std::uint32_t budget = 0) {
    v1::PullRequest request;
    *request.mutable_header() = header(device);
    for (const auto& [scope, seq] : cursors) {
      v1::ScopeCursor* cursor = request.add_cursors();
      cursor->set_scope(scope);
      cursor->set_seq(seq);
    }
    request.set_page_budget_bytes(budget);
    return request;
  }

  v1::PullPage pull(const std::string& device,
                    const std::map<std::string, std::int64_t>& cursors = {},
                    std::uint32_t budget = 0) {
    const HttpResponse response =
        call(protocol::make_request("/v1/pull", pull_request(device, cursors, budget)));
    INFO(response.status << " " << error_of_text(response));
    REQUIRE(response.status == 200);
    return decode<v1::PullPage>(response);
  }

  std::string dump() {
    Result<std::string> dump = server->dump_json();
    REQUIRE(dump.is_ok());
    return *dump;
  }

  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>(kNowMs);
  std::unique_ptr<server::SyncServer> server;
  std::string token;  // sent with every request when set
  // Changes the options open() uses (a restart() applies them).
  std::function<void(server::ServerOptions&)> configure;

 private:
  static std::string error_of_text(const HttpResponse& response) {
    return response.status == 200 ? "" : protocol::status_from_response(response).to_string();
  }

  const bool authenticated_;
  TempDir dir_;
};

inline const v1::ChangeOutcome& outcome(const v1::PushResponse& response, std::uint32_t id) {
  for (const v1::ChangeOutcome& outcome : response.outcomes()) {
    if (outcome.id() == id) return outcome;
  }
  FAIL("no outcome for change " << id);
  return response.outcomes(0);
}

// The cursors of a page as a map.
inline std::map<std::string, std::int64_t> cursors_of(const v1::PullPage& page) {
  std::map<std::string, std::int64_t> cursors;
  for (const v1::ScopeCursor& cursor : page.cursors()) cursors[cursor.scope()] = cursor.seq();
  return cursors;
}

// A cell of a page's row by column name, or nullopt.
inline std::optional<Value> cell_of(const v1::PullPage& page, const v1::RowState& row,
                                    const std::string& column) {
  const v1::TableColumns& names = page.tables(static_cast<int>(row.table()));
  for (int i = 0; i < row.values_size(); ++i) {
    const int index = row.columns_size() == 0 ? i : static_cast<int>(row.columns(i));
    if (names.columns(index) == column) return protocol::from_wire(row.values(i));
  }
  return std::nullopt;
}

}  // namespace lumbung::test
