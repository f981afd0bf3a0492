// Load: N simulated devices, all connected at once, push and pull against one
// real lumbungd over loopback, with a token each, as officers' phones do.
//
//   build/bench/load_bench [--devices N] [--seconds S] [--think-ms M]
//                          [--devices-per-village K]
//   (default: N = 100, then N = 1000; S = 60; M = 10000; K = 10)
//
// A device is simulated at the protocol level (decision 0010): it keeps its
// own HLC, batch number and cursor, builds v1 push and pull requests with the
// project's wire code, and holds one kept-alive connection. Each thinks for
// M ms (0.5 M to 1.5 M), pushes a new household with its four members and
// two single-cell edits of people it knows, thinks again, pulls its village
// until caught up, and so on for S seconds. Every answer is checked: HTTP
// 200, a body that decodes, every change applied or superseded, cursors that
// never go back. Anything else is an error, counted and shown.
//
// The daemon's peak memory (VmHWM) and CPU (utime + stime) come from /proc.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/hlc.hpp"
#include "core/schema.hpp"
#include "measure.hpp"
#include "people.hpp"
#include "protocol/wire.hpp"
#include "support/daemon_process.hpp"
#include "support/subprocess.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;
using lumbung::Row;
using lumbung::Value;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "load_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Settings {
  int devices = 0;
  std::chrono::seconds duration{60};
  std::chrono::milliseconds think{10000};
  int devices_per_village = 10;
};

// What one run observed, written by the generator's single thread.
struct Tally {
  std::vector<double> push_ms;
  std::vector<double> pull_ms;
  std::int64_t changes_pushed = 0;
  std::int64_t rows_pulled = 0;
  std::int64_t errors = 0;
  std::vector<std::string> first_errors;

  void error(std::string what) {
    ++errors;
    if (first_errors.size() < 5) first_errors.push_back(std::move(what));
  }
};

// Who a device is: its id, its officer's token and the village it works in.
struct Identity {
  std::string device_id;
  std::string token;
  std::string village;
};

// The columns of `table` in the schema's order: a device's INSERT carries
// every column it knows.
std::vector<std::string> column_names(const lumbung::core::Schema& schema, const char* table) {
  const lumbung::core::Table* found = schema.find_table(table);
  if (found == nullptr) fail(std::string("the schema has no table ") + table);
  std::vector<std::string> names;
  for (const lumbung::core::Column& column : found->columns) names.push_back(column.name);
  return names;
}

// The parts of the schema the devices write.
struct Workload {
  std::uint32_t schema_version = 0;
  std::vector<std::string> household_columns;
  std::vector<std::string> person_columns;
  std::uint32_t person_phone = 0;  // indexes into person_columns: the edited cells
  std::uint32_t person_education = 0;
};

Workload load_workload() {
  lumbung::Result<lumbung::core::Schema> schema =
      lumbung::core::load_schema(lumbung::core::builtin_schema_text(), "builtin");
  if (!schema.is_ok()) fail(schema.status().to_string());
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

// One officer's phone, as the daemon sees it: requests on one connection.
class SimulatedDevice {
 public:
  SimulatedDevice(asio::io_context& io, tcp::endpoint source, tcp::endpoint daemon,
                  Identity identity, const Workload& workload, const Settings& settings,
                  SteadyClock::time_point end, std::uint64_t seed, Tally& tally)
      : stream_(io),
        timer_(io),
        source_(source),
        daemon_(daemon),
        identity_(std::move(identity)),
        workload_(workload),
        settings_(settings),
        end_(end),
        rng_(seed),
        tally_(tally) {}

  // Connects, then loops until the end: think, push, think, pull.
  void start() {
    connect([this] { think_then(&SimulatedDevice::push); });
  }

 private:
  using Exchanged = std::function<void(const lumbung::HttpResponse&)>;
  static constexpr std::size_t kKnownPeople = 64;  // the people a device picks edits from
  static constexpr auto kRequestTimeout = std::chrono::seconds(30);

  void connect(std::function<void()> then) {
    beast::error_code bound;
    stream_.socket().open(tcp::v4(), bound);
    if (!bound) stream_.socket().bind(source_, bound);
    if (bound) {
      tally_.error(identity_.device_id + ": bind: " + bound.message());
      stream_.close();
      return think_then(&SimulatedDevice::push);
    }
    stream_.expires_after(kRequestTimeout);
    stream_.async_connect(daemon_, [this, then = std::move(then)](beast::error_code ec) {
      if (ec) {
        tally_.error(identity_.device_id + ": connect: " + ec.message());
        return think_then(&SimulatedDevice::push);
      }
      then();
    });
  }

  // Waits a phone's pause (0.5 to 1.5 times the think time), then runs `next`
  // unless the run is over.
  void think_then(void (SimulatedDevice::*next)()) {
    std::uniform_int_distribution<std::int64_t> pause(settings_.think.count() / 2,
                                                      settings_.think.count() * 3 / 2);
    // A pause running past the end would only stretch the run's wall time.
    timer_.expires_at(std::min(end_, SteadyClock::now() + std::chrono::milliseconds(pause(rng_))));
    timer_.async_wait([this, next](beast::error_code) {
      if (SteadyClock::now() >= end_) return stream_.close();
      if (!stream_.socket().is_open()) return connect([this, next] { (this->*next)(); });
      (this->*next)();
    });
  }

  void set_header(lumbung::v1::RequestHeader* header) const {
    header->set_protocol_version(lumbung::protocol::kProtocolVersion);
    header->set_schema_version(workload_.schema_version);
    header->set_device_id(identity_.device_id);
  }

  // Appends an INSERT of `row` into table `table` (index into the request's
  // tables, whose columns are `columns`): every column, NULL where unset.
  void add_insert(lumbung::v1::PushRequest& push, std::uint32_t table,
                  const std::vector<std::string>& columns, const Row& row) {
    lumbung::v1::Change* change = push.add_changes();
    change->set_id(static_cast<std::uint32_t>(push.changes_size()));
    change->set_table(table);
    change->set_row_id(row.at("id").as_text());
    change->set_op(lumbung::v1::CHANGE_OP_INSERT);
    for (std::uint32_t i = 0; i < columns.size(); ++i) {
      change->add_columns(i);
      const auto value = row.find(columns[i]);
      lumbung::protocol::to_wire(value == row.end() ? Value() : value->second,
                                 change->add_values());
    }
    change->set_hlc(clock_.send().packed());
    change->set_base_seq(cursor());
  }

  void add_update(lumbung::v1::PushRequest& push, std::uint32_t table, const std::string& row_id,
                  std::uint32_t column, const Value& value) {
    lumbung::v1::Change* change = push.add_changes();
    change->set_id(static_cast<std::uint32_t>(push.changes_size()));
    change->set_table(table);
    change->set_row_id(row_id);
    change->set_op(lumbung::v1::CHANGE_OP_UPDATE);
    change->add_columns(column);
    lumbung::protocol::to_wire(value, change->add_values());
    change->set_hlc(clock_.send().packed());
    change->set_base_seq(cursor());
  }

  // A household registered today: its row and its four members'.
  void add_household(lumbung::v1::PushRequest& push, std::uint32_t household_table,
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
    std::vector<Row> members = lumbung::bench::make_people(4, rng_());
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
    lumbung::v1::PushRequest push;
    set_header(push.mutable_header());
    push.set_batch(++batch_);
    lumbung::v1::TableColumns* household_table = push.add_tables();
    household_table->set_table("household");
    for (const std::string& column : workload_.household_columns) {
      household_table->add_columns(column);
    }
    lumbung::v1::TableColumns* person_table = push.add_tables();
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
    exchange("/v1/push", push, tally_.push_ms, [this, push](const lumbung::HttpResponse& http) {
      check_push(push, http);
      think_then(&SimulatedDevice::pull);
    });
  }

  void check_push(const lumbung::v1::PushRequest& push, const lumbung::HttpResponse& http) {
    lumbung::v1::PushResponse response;
    if (!decoded(http, &response, "push")) return;
    if (response.batch() != push.batch() || response.outcomes_size() != push.changes_size()) {
      return tally_.error(identity_.device_id +
                          ": push: " + std::to_string(response.outcomes_size()) +
                          " outcomes for batch " + std::to_string(response.batch()) + ", " +
                          std::to_string(push.changes_size()) + " changes in batch " +
                          std::to_string(push.batch()));
    }
    for (const lumbung::v1::ChangeOutcome& outcome : response.outcomes()) {
      if (outcome.id() == 0 || outcome.id() > static_cast<std::uint32_t>(push.changes_size())) {
        tally_.error(identity_.device_id + ": push: an outcome for change " +
                     std::to_string(outcome.id()) + ", which the batch does not have");
        continue;
      }
      if (outcome.outcome() != lumbung::v1::OUTCOME_APPLIED &&
          outcome.outcome() != lumbung::v1::OUTCOME_SUPERSEDED) {
        tally_.error(identity_.device_id + ": push: change " + std::to_string(outcome.id()) +
                     " refused: " + outcome.message());
        continue;
      }
      ++tally_.changes_pushed;
      const lumbung::v1::Change& change = push.changes(static_cast<int>(outcome.id() - 1));
      if (change.op() == lumbung::v1::CHANGE_OP_INSERT && change.table() == 1) {
        remember_person(change.row_id());
      }
    }
    clock_.receive(lumbung::core::Hlc(response.server_hlc()));
  }

  void pull() {
    lumbung::v1::PullRequest request;
    set_header(request.mutable_header());
    for (const auto& [scope, seq] : cursors_) {
      lumbung::v1::ScopeCursor* cursor = request.add_cursors();
      cursor->set_scope(scope);
      cursor->set_seq(seq);
    }
    exchange("/v1/pull", request, tally_.pull_ms, [this](const lumbung::HttpResponse& http) {
      if (check_pull(http)) return pull();  // the next page at once
      think_then(&SimulatedDevice::push);
    });
  }

  // Takes the page's cursors and people; true when another page follows.
  bool check_pull(const lumbung::HttpResponse& http) {
    lumbung::v1::PullPage page;
    if (!decoded(http, &page, "pull")) return false;
    if (!page.dropped_scopes().empty()) {
      tally_.error(identity_.device_id + ": pull dropped scope " + page.dropped_scopes(0));
    }
    for (const lumbung::v1::ScopeCursor& cursor : page.cursors()) {
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
    for (const lumbung::v1::RowState& row : page.rows()) {
      ++tally_.rows_pulled;
      if (!row.deleted() && row.table() < static_cast<std::uint32_t>(page.tables_size()) &&
          page.tables(static_cast<int>(row.table())).table() == "person") {
        remember_person(row.row_id());
      }
    }
    clock_.receive(lumbung::core::Hlc(page.server_hlc()));
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
  bool decoded(const lumbung::HttpResponse& http, google::protobuf::MessageLite* message,
               const char* what) {
    lumbung::Status status = lumbung::protocol::status_from_response(http);
    if (status.is_ok() && http.status != 200) {
      status = lumbung::Status(lumbung::ErrorCode::kProtocol,
                               "HTTP status " + std::to_string(http.status));
    }
    if (status.is_ok()) {
      status = lumbung::protocol::decode_body(http.headers, http.body, 64u << 20, message);
    }
    if (status.is_ok()) return true;
    tally_.error(identity_.device_id + ": " + what + ": " + status.to_string());
    return false;
  }

  // Sends `message` to `target` and reads the answer, timing it into
  // `latencies_ms`. A broken connection is an error: it is closed and the
  // device thinks, then connects again.
  void exchange(const char* target, const google::protobuf::MessageLite& message,
                std::vector<double>& latencies_ms, Exchanged then) {
    const lumbung::HttpRequest request = lumbung::protocol::make_request(target, message);
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
    const SteadyClock::time_point start = SteadyClock::now();
    stream_.expires_after(kRequestTimeout);
    http::async_write(
        stream_, request_,
        [this, target, start, &latencies_ms, then = std::move(then)](beast::error_code ec,
                                                                     std::size_t) mutable {
          if (ec) return broken(target, ec);
          response_ = {};
          http::async_read(
              stream_, buffer_, response_,
              [this, target, start, &latencies_ms, then = std::move(then)](beast::error_code ec,
                                                                           std::size_t) {
                if (ec) return broken(target, ec);
                latencies_ms.push_back(
                    std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
                lumbung::HttpResponse http;
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

  void broken(const char* target, const beast::error_code& ec) {
    tally_.error(identity_.device_id + ": " + target + ": " + ec.message());
    stream_.close();
    buffer_.clear();
    think_then(&SimulatedDevice::push);
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
  const Settings& settings_;
  const SteadyClock::time_point end_;
  std::mt19937_64 rng_;
  Tally& tally_;
  lumbung::core::HlcClock clock_{nullptr};
  std::uint64_t batch_ = 0;
  std::map<std::string, std::int64_t> cursors_;
  std::deque<std::string> known_people_;
};

// --- the daemon's and the generator's use of the machine ---

struct CpuSample {
  double daemon_seconds = 0;
  double generator_seconds = 0;
};

CpuSample sample_cpu(pid_t daemon) {
  return {lumbung::bench::cpu_seconds(daemon), lumbung::bench::own_cpu_seconds()};
}

// VmHWM of `pid` in KiB: its peak resident memory.
long peak_rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

// --- a run ---

std::string village_id(int village) {
  char id[64];
  std::snprintf(id, sizeof id, "0193a000-0000-7000-8000-%012d", village + 1);
  return id;
}

// One officer per device, each with a token for the device's village, issued
// by `lumbungd token` as an administrator would.
std::vector<Identity> issue_identities(const std::string& data_dir, const Settings& settings) {
  std::vector<Identity> identities;
  for (int i = 0; i < settings.devices; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "load-%04d", i);
    Identity identity{std::string("device-") + name, "",
                      village_id(i / settings.devices_per_village)};
    const lumbung::test::ProcessResult issued =
        lumbung::test::run_process({LUMBUNGD, "token", "--data", data_dir, "--officer",
                                    std::string("officer-") + name, "--villages", identity.village},
                                   {}, data_dir);
    if (issued.exit_code != 0) fail("lumbungd token: " + issued.err);
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

// Returns the number of errors.
std::int64_t run(const Settings& settings, const Workload& workload) {
  const std::string dir = (std::filesystem::temp_directory_path() /
                           ("lumbung-load-bench-" + std::to_string(::getpid())))
                              .string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::vector<Identity> identities = issue_identities(dir, settings);
  lumbung::test::DaemonProcess daemon(LUMBUNGD, dir);

  asio::io_context io;
  Tally tally;
  const SteadyClock::time_point start = SteadyClock::now();
  const SteadyClock::time_point end = start + settings.duration;
  const CpuSample cpu_before = sample_cpu(daemon.pid());
  std::vector<std::unique_ptr<SimulatedDevice>> devices;
  for (int i = 0; i < settings.devices; ++i) {
    devices.push_back(std::make_unique<SimulatedDevice>(
        io, device_address(i), endpoint_of(daemon.url()), identities[static_cast<std::size_t>(i)],
        workload, settings, end, static_cast<std::uint64_t>(i) + 1, tally));
    devices.back()->start();
  }
  io.run();
  const double wall = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const CpuSample cpu_after = sample_cpu(daemon.pid());
  const long daemon_peak_kib = peak_rss_kib(daemon.pid());
  daemon.terminate();
  std::filesystem::remove_all(dir);

  const auto requests = tally.push_ms.size() + tally.pull_ms.size();
  std::printf("\n%d devices, %d per village, think %lld ms, %.1f s\n", settings.devices,
              settings.devices_per_village, static_cast<long long>(settings.think.count()), wall);
  std::printf("  requests      %zu (%zu pushes, %zu pulls), %.0f/s\n", requests,
              tally.push_ms.size(), tally.pull_ms.size(), static_cast<double>(requests) / wall);
  std::printf("  changes       %lld pushed, %.0f/s sustained; %lld rows pulled\n",
              static_cast<long long>(tally.changes_pushed),
              static_cast<double>(tally.changes_pushed) / wall,
              static_cast<long long>(tally.rows_pulled));
  for (auto* latencies : {&tally.push_ms, &tally.pull_ms}) {
    std::printf("  %-13s p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                latencies == &tally.push_ms ? "push latency" : "pull latency",
                percentile(*latencies, 0.50), percentile(*latencies, 0.99),
                percentile(*latencies, 1.0));
  }
  std::printf("  errors        %lld\n", static_cast<long long>(tally.errors));
  for (const std::string& error : tally.first_errors) std::printf("    %s\n", error.c_str());
  std::printf("  lumbungd      peak RSS %.1f MiB, CPU %.1f s = %.0f%% of wall\n",
              daemon_peak_kib / 1024.0, cpu_after.daemon_seconds - cpu_before.daemon_seconds,
              100 * (cpu_after.daemon_seconds - cpu_before.daemon_seconds) / wall);
  std::printf("  generator     CPU %.1f s = %.0f%% of wall\n",
              cpu_after.generator_seconds - cpu_before.generator_seconds,
              100 * (cpu_after.generator_seconds - cpu_before.generator_seconds) / wall);
  std::fflush(stdout);
  return tally.errors;
}

long parse_positive(const char* flag, const char* text) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || value <= 0) fail(std::string("malformed ") + flag);
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  std::vector<int> device_counts;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 == argc) fail("usage: load_bench [--devices N] [--seconds S] [--think-ms M]");
    const long value = parse_positive(argv[i], argv[i + 1]);
    ++i;
    if (flag == "--devices") {
      device_counts.push_back(static_cast<int>(value));
    } else if (flag == "--seconds") {
      settings.duration = std::chrono::seconds(value);
    } else if (flag == "--think-ms") {
      // A pause of 1.5 M must stay within the daemon's keep-alive (60 s).
      if (value > 40000) fail("--think-ms must be at most 40000");
      settings.think = std::chrono::milliseconds(value);
    } else if (flag == "--devices-per-village") {
      settings.devices_per_village = static_cast<int>(value);
    } else {
      fail("unknown option " + flag);
    }
  }
  if (device_counts.empty()) device_counts = {100, 1000};
  // A socket per device here and in the daemon: beyond the usual 1024.
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);

  const Workload workload = load_workload();
  std::printf("load_bench: simulated devices against one lumbungd over loopback\n");
  std::int64_t errors = 0;
  for (int count : device_counts) {
    settings.devices = count;
    errors += run(settings, workload);
  }
  return errors == 0 ? 0 : 1;
}
