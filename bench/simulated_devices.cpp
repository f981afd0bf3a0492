#include "simulated_devices.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <stdexcept>

#include "core/hlc.hpp"
#include "core/schema.hpp"
#include "people.hpp"
#include "protocol/wire.hpp"
#include "support/subprocess.hpp"

namespace lumbung::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

// The columns of `table` in the schema's order: a device's INSERT carries
// every column it knows.
std::vector<std::string> column_names(const core::Schema& schema, const char* table) {
  const core::Table* found = schema.find_table(table);
  if (found == nullptr) throw std::runtime_error(std::string("the schema has no table ") + table);
  std::vector<std::string> names;
  for (const core::Column& column : found->columns) names.push_back(column.name);
  return names;
}

}  // namespace

void Tally::error(std::string what) {
  ++errors;
  if (first_errors.size() < 5) first_errors.push_back(std::move(what));
}

Workload load_workload() {
  Result<core::Schema> schema = core::load_schema(core::builtin_schema_text(), "builtin");
  if (!schema.is_ok()) throw std::runtime_error(schema.status().to_string());
  Workload workload;
  workload.schema_version = static_cast<std::uint32_t>(schema->version);
  workload.household_columns = column_names(*schema, "household");
  workload.person_columns = column_names(*schema, "person");
  const auto index_of = [&](const char* column) {
    const auto& names = workload.person_columns;
    return static_cast<std::uint32_t>(std::find(names.begin(), names.end(), column) -
                                      names.begin());
  };
  workload.person_phone = index_of("phone");
  workload.person_education = index_of("education");
  return workload;
}

// The loopback address device `index` connects from: each phone has its own,
// as the daemon's per-address connection share expects.
tcp::endpoint device_address(int index) {
  return {asio::ip::address_v4(0x7F010001u + static_cast<std::uint32_t>(index / 200) * 256 +
                               static_cast<std::uint32_t>(index % 200)),
          0};
}

class SimulatedDevices::Device {
 public:
  Device(asio::io_context& io, tcp::endpoint source, tcp::endpoint daemon, Identity identity,
         const Workload& workload, std::chrono::milliseconds think, SteadyClock::time_point end,
         bool connection_per_sync, std::uint64_t seed, Tally& tally)
      : stream_(io),
        timer_(io),
        source_(source),
        daemon_(daemon),
        identity_(std::move(identity)),
        workload_(workload),
        think_(think),
        end_(end),
        connection_per_sync_(connection_per_sync),
        rng_(seed),
        tally_(tally) {}

  // Connects, then loops until the end: think, push, think, pull.
  void start() {
    connect([this] { think_then(&Device::push); });
  }

 private:
  using Exchanged = std::function<void(const HttpResponse&)>;
  static constexpr std::size_t kKnownPeople = 64;  // the people a device picks edits from
  static constexpr auto kRequestTimeout = std::chrono::seconds(30);

  void connect(std::function<void()> then) {
    beast::error_code bound;
    stream_.socket().open(tcp::v4(), bound);
    if (!bound) stream_.socket().bind(source_, bound);
    if (bound) {
      tally_.error(identity_.device_id + ": bind: " + bound.message());
      stream_.close();
      return think_then(&Device::push);
    }
    stream_.expires_after(kRequestTimeout);
    stream_.async_connect(daemon_, [this, then = std::move(then)](beast::error_code ec) {
      if (ec) {
        tally_.error(identity_.device_id + ": connect: " + ec.message());
        return think_then(&Device::push);
      }
      then();
    });
  }

  // Waits a phone's pause (0.5 to 1.5 times the think time), then runs `next`
  // unless the run is over.
  void think_then(void (Device::*next)()) {
    std::uniform_int_distribution<std::int64_t> pause(think_.count() / 2, think_.count() * 3 / 2);
    // A pause running past the end would only stretch the run's wall time.
    timer_.expires_at(std::min(end_, SteadyClock::now() + std::chrono::milliseconds(pause(rng_))));
    timer_.async_wait([this, next](beast::error_code) {
      if (SteadyClock::now() >= end_) return stream_.close();
      if (!stream_.socket().is_open()) return connect([this, next] { (this->*next)(); });
      (this->*next)();
    });
  }

  void set_header(v1::RequestHeader* header) const {
    header->set_protocol_version(protocol::kProtocolVersion);
    header->set_schema_version(workload_.schema_version);
    header->set_device_id(identity_.device_id);
  }

  // Appends an INSERT of `row` into table `table` (index into the request's
  // tables, whose columns are `columns`): every column, NULL where unset.
  void add_insert(v1::PushRequest& push, std::uint32_t table,
                  const std::vector<std::string>& columns, const Row& row) {
    v1::Change* change = push.add_changes();
    change->set_id(static_cast<std::uint32_t>(push.changes_size()));
    change->set_table(table);
    change->set_row_id(row.at("id").as_text());
    change->set_op(v1::CHANGE_OP_INSERT);
    for (std::uint32_t i = 0; i < columns.size(); ++i) {
      change->add_columns(i);
      const auto value = row.find(columns[i]);
      protocol::to_wire(value == row.end() ? Value() : value->second, change->add_values());
    }
    change->set_hlc(clock_.send().packed());
    change->set_base_seq(cursor());
  }

  void add_update(v1::PushRequest& push, std::uint32_t table, const std::string& row_id,
                  std::uint32_t column, const Value& value) {
    v1::Change* change = push.add_changes();
    change->set_id(static_cast<std::uint32_t>(push.changes_size()));
    change->set_table(table);
    change->set_row_id(row_id);
    change->set_op(v1::CHANGE_OP_UPDATE);
    change->add_columns(column);
    protocol::to_wire(value, change->add_values());
    change->set_hlc(clock_.send().packed());
    change->set_base_seq(cursor());
  }

  // A household registered today: its row and its four members'.
  void add_household(v1::PushRequest& push, std::uint32_t household_table,
                     std::uint32_t person_table) {
    char id[64];
    std::snprintf(id, sizeof id, "0193c%03x-%04x-7000-8000-%012llx",
                  static_cast<unsigned>(rng_() & 0xfff), static_cast<unsigned>(rng_() & 0xffff),
                  static_cast<unsigned long long>(rng_() & 0xffffffffffffULL));
    const std::string household_id = id;
    std::snprintf(id, sizeof id, "3212%012llu",
                  static_cast<unsigned long long>(rng_() % 1000000000000ULL));
    Row household = {{"id", Value(household_id)},
                     {"village_id", Value(identity_.village)},
                     {"no_kk", Value(id)},
                     {"dusun", Value("Krajan")},
                     {"rt", Value("003")},
                     {"rw", Value("001")},
                     {"latitude", Value(-6.33 + static_cast<double>(rng_() % 1000) / 1e5)},
                     {"longitude", Value(108.32 + static_cast<double>(rng_() % 1000) / 1e5)},
                     {"created_by", Value(identity_.device_id)},
                     {"created_at", Value("2026-11-29T05:00:00Z")}};
    std::vector<Row> members = make_people(4, rng_());
    household["head_name"] = members.front().at("full_name");
    add_insert(push, household_table, workload_.household_columns, household);
    for (Row& person : members) {
      person["village_id"] = Value(identity_.village);
      person["household_id"] = Value(household_id);
      person["created_by"] = Value(identity_.device_id);
      person["deceased"] = Value(std::int64_t{0});
      add_insert(push, person_table, workload_.person_columns, person);
    }
  }

  void push() {
    v1::PushRequest push;
    set_header(push.mutable_header());
    push.set_batch(++batch_);
    v1::TableColumns* household_table = push.add_tables();
    household_table->set_table("household");
    for (const std::string& column : workload_.household_columns) {
      household_table->add_columns(column);
    }
    v1::TableColumns* person_table = push.add_tables();
    person_table->set_table("person");
    for (const std::string& column : workload_.person_columns) person_table->add_columns(column);
    add_household(push, 0, 1);
    // Corrections of people registered before, by this device or another of
    // the village: the latter may meet a concurrent edit (a conflict).
    for (int i = 0; i < 2 && !known_people_.empty(); ++i) {
      const std::string& row_id = known_people_[rng_() % known_people_.size()];
      char phone[32];
      std::snprintf(phone, sizeof phone, "+62813%08d", static_cast<int>(rng_() % 100000000));
      if (i == 0) add_update(push, 1, row_id, workload_.person_phone, Value(phone));
      if (i == 1) add_update(push, 1, row_id, workload_.person_education, Value("SMA"));
    }
    exchange("/v1/push", push, tally_.push_ms, [this, push](const HttpResponse& http) {
      check_push(push, http);
      think_then(&Device::pull);
    });
  }

  void check_push(const v1::PushRequest& push, const HttpResponse& http) {
    v1::PushResponse response;
    if (!decoded(http, &response, "push")) return;
    if (response.batch() != push.batch() || response.outcomes_size() != push.changes_size()) {
      return tally_.error(identity_.device_id +
                          ": push: " + std::to_string(response.outcomes_size()) +
                          " outcomes for batch " + std::to_string(response.batch()) + ", " +
                          std::to_string(push.changes_size()) + " changes in batch " +
                          std::to_string(push.batch()));
    }
    for (const v1::ChangeOutcome& outcome : response.outcomes()) {
      if (outcome.id() == 0 || outcome.id() > static_cast<std::uint32_t>(push.changes_size())) {
        tally_.error(identity_.device_id + ": push: an outcome for change " +
                     std::to_string(outcome.id()) + ", which the batch does not have");
        continue;
      }
      if (outcome.outcome() != v1::OUTCOME_APPLIED && outcome.outcome() != v1::OUTCOME_SUPERSEDED) {
        tally_.error(identity_.device_id + ": push: change " + std::to_string(outcome.id()) +
                     " refused: " + outcome.message());
        continue;
      }
      ++tally_.changes_pushed;
      const v1::Change& change = push.changes(static_cast<int>(outcome.id() - 1));
      if (change.op() == v1::CHANGE_OP_INSERT && change.table() == 1) {
        remember_person(change.row_id());
      }
    }
    clock_.receive(core::Hlc(response.server_hlc()));
  }

  void pull() {
    v1::PullRequest request;
    set_header(request.mutable_header());
    for (const auto& [scope, seq] : cursors_) {
      v1::ScopeCursor* cursor = request.add_cursors();
      cursor->set_scope(scope);
      cursor->set_seq(seq);
    }
    exchange("/v1/pull", request, tally_.pull_ms, [this](const HttpResponse& http) {
      if (check_pull(http)) return pull();  // the next page at once
      if (connection_per_sync_) {           // a phone's sync session ends
        stream_.close();
        reused_ = false;
      }
      think_then(&Device::push);
    });
  }

  // Takes the page's cursors and people; true when another page follows.
  bool check_pull(const HttpResponse& http) {
    v1::PullPage page;
    if (!decoded(http, &page, "pull")) return false;
    if (!page.dropped_scopes().empty()) {
      tally_.error(identity_.device_id + ": pull dropped scope " + page.dropped_scopes(0));
    }
    for (const v1::ScopeCursor& cursor : page.cursors()) {
      if (cursor.scope() != identity_.village) {
        tally_.error(identity_.device_id + ": pull brought scope " + cursor.scope());
      }
      std::int64_t& held = cursors_[cursor.scope()];
      if (cursor.seq() < held) {
        tally_.error(identity_.device_id + ": pull moved a cursor back from " +
                     std::to_string(held) + " to " + std::to_string(cursor.seq()));
      }
      held = std::max(held, cursor.seq());
    }
    for (const v1::RowState& row : page.rows()) {
      ++tally_.rows_pulled;
      if (!row.deleted() && row.table() < static_cast<std::uint32_t>(page.tables_size()) &&
          page.tables(static_cast<int>(row.table())).table() == "person") {
        remember_person(row.row_id());
      }
    }
    clock_.receive(core::Hlc(page.server_hlc()));
    return page.more();
  }

  void remember_person(const std::string& row_id) {
    if (known_people_.size() == kKnownPeople) known_people_.pop_front();
    known_people_.push_back(row_id);
  }

  std::int64_t cursor() const {
    const auto found = cursors_.find(identity_.village);
    return found == cursors_.end() ? 0 : found->second;
  }

  // A 200 answer whose body decodes into `message`; otherwise an error.
  bool decoded(const HttpResponse& http, google::protobuf::MessageLite* message, const char* what) {
    Status status = protocol::status_from_response(http);
    if (status.is_ok() && http.status != 200) {
      status = Status(ErrorCode::kProtocol, "HTTP status " + std::to_string(http.status));
    }
    if (status.is_ok()) {
      status = protocol::decode_body(http.headers, http.body, 64u << 20, message);
    }
    if (status.is_ok()) return true;
    tally_.error(identity_.device_id + ": " + what + ": " + status.to_string());
    return false;
  }

  // Sends `message` to `target` and reads the answer, timing it into
  // `latencies_ms`. As the device's HTTP client does, a request on a reused
  // connection that the server had closed meanwhile (idle, or its slot given
  // to another client) is sent again on a new one. Otherwise a broken
  // connection is an error: it is closed and the device thinks, then
  // connects again.
  void exchange(const char* target, const google::protobuf::MessageLite& message,
                std::vector<double>& latencies_ms, Exchanged then) {
    const HttpRequest request = protocol::make_request(target, message);
    request_ = {};
    request_.method(http::verb::post);
    request_.target(request.target);
    request_.version(11);
    request_.set(http::field::host, "127.0.0.1");
    request_.set(http::field::authorization, "Bearer " + identity_.token);
    for (const auto& [name, value] : request.headers) request_.set(name, value);
    request_.body() = request.body;
    request_.keep_alive(true);
    request_.prepare_payload();
    send(target, SteadyClock::now(), latencies_ms, std::move(then), reused_);
  }

  void send(const char* target, SteadyClock::time_point start, std::vector<double>& latencies_ms,
            Exchanged then, bool may_resend) {
    stream_.expires_after(kRequestTimeout);
    http::async_write(
        stream_, request_,
        [this, target, start, &latencies_ms, then = std::move(then), may_resend](
            beast::error_code ec, std::size_t) mutable {
          if (ec) return broken(target, start, latencies_ms, std::move(then), may_resend, ec);
          response_ = {};
          http::async_read(
              stream_, buffer_, response_,
              [this, target, start, &latencies_ms, then = std::move(then), may_resend](
                  beast::error_code ec, std::size_t) mutable {
                if (ec) return broken(target, start, latencies_ms, std::move(then), may_resend, ec);
                reused_ = true;
                latencies_ms.push_back(
                    std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
                HttpResponse http;
                http.status = static_cast<int>(response_.result_int());
                for (const auto& field : response_) {
                  http.headers.emplace_back(std::string(field.name_string()),
                                            std::string(field.value()));
                }
                http.body = std::move(response_.body());
                then(http);
              });
        });
  }

  void broken(const char* target, SteadyClock::time_point start, std::vector<double>& latencies_ms,
              Exchanged then, bool may_resend, const beast::error_code& ec) {
    stream_.close();
    buffer_.clear();
    reused_ = false;
    const bool closed_by_server = ec == http::error::end_of_stream ||
                                  ec == asio::error::connection_reset ||
                                  ec == asio::error::broken_pipe || ec == asio::error::eof;
    if (may_resend && closed_by_server) {
      return connect([this, target, start, &latencies_ms, then = std::move(then)]() mutable {
        send(target, start, latencies_ms, std::move(then), false);
      });
    }
    tally_.error(identity_.device_id + ": " + target + ": " + ec.message());
    think_then(&Device::push);
  }

  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
  const tcp::endpoint source_;
  const tcp::endpoint daemon_;
  const Identity identity_;
  const Workload& workload_;
  const std::chrono::milliseconds think_;
  const SteadyClock::time_point end_;
  const bool connection_per_sync_;
  std::mt19937_64 rng_;
  Tally& tally_;
  core::HlcClock clock_{nullptr};
  std::uint64_t batch_ = 0;
  bool reused_ = false;  // the connection has carried an exchange
  std::map<std::string, std::int64_t> cursors_;
  std::deque<std::string> known_people_;
};

SimulatedDevices::SimulatedDevices(asio::io_context& io, tcp::endpoint daemon,
                                   const std::vector<Identity>& identities,
                                   const Workload& workload, std::chrono::milliseconds think,
                                   SteadyClock::time_point end, bool connection_per_sync,
                                   Tally& tally)
    : SimulatedDevices(io, std::vector<tcp::endpoint>{daemon}, identities, workload, think, end,
                       connection_per_sync, tally) {}

SimulatedDevices::SimulatedDevices(asio::io_context& io, const std::vector<tcp::endpoint>& daemons,
                                   const std::vector<Identity>& identities,
                                   const Workload& workload, std::chrono::milliseconds think,
                                   SteadyClock::time_point end, bool connection_per_sync,
                                   Tally& tally) {
  for (std::size_t i = 0; i < identities.size(); ++i) {
    devices_.push_back(std::make_unique<Device>(
        io, device_address(static_cast<int>(i)), daemons[i % daemons.size()], identities[i],
        workload, think, end, connection_per_sync, i + 1, tally));
    devices_.back()->start();
  }
}

SimulatedDevices::~SimulatedDevices() = default;

// VmHWM of `pid` in KiB: its peak resident memory.
long peak_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

void raise_open_files_limit() {
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
}

std::optional<long> positive_number(const char* text) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || value <= 0) return std::nullopt;
  return value;
}

std::string village_id(int village) {
  char id[64];
  std::snprintf(id, sizeof id, "0193a000-0000-7000-8000-%012d", village + 1);
  return id;
}

std::vector<Identity> issue_identities(const std::string& lumbungd, const std::string& data_dir,
                                       const std::string& prefix, int count, int per_village,
                                       const std::string& store_url) {
  std::vector<Identity> identities;
  for (int i = 0; i < count; ++i) {
    char number[16];
    std::snprintf(number, sizeof number, "-%04d", i);
    const std::string name = prefix + number;
    Identity identity{"device-" + name, "", village_id(i / per_village)};
    std::vector<std::string> command = {lumbungd,     "token",         "--data",
                                        data_dir,     "--officer",     "officer-" + name,
                                        "--villages", identity.village};
    if (!store_url.empty()) command.insert(command.end(), {"--store", store_url});
    const test::ProcessResult issued = test::run_process(command, {}, data_dir);
    if (issued.exit_code != 0) throw std::runtime_error("lumbungd token: " + issued.err);
    identity.token = issued.out.substr(0, issued.out.find('\n'));
    identities.push_back(std::move(identity));
  }
  return identities;
}

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[rank];
}

tcp::endpoint endpoint_of(const std::string& url) {
  const std::size_t colon = url.rfind(':');
  return {asio::ip::make_address("127.0.0.1"),
          static_cast<std::uint16_t>(std::atoi(url.c_str() + colon + 1))};
}

}  // namespace lumbung::bench
