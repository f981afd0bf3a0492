// Simulated phones for the load and attack benchmarks (decision 0010): each
// device is simulated at the protocol level, keeps its own HLC, batch number
// and cursor, builds v1 push and pull requests with the project's wire code,
// and holds one kept-alive connection to a real lumbungd. Each thinks for a
// while (0.5 to 1.5 times the think time), pushes a new household with its
// four members and two single-cell edits of people it knows, thinks again,
// pulls its village until caught up, and so on until the end. Every answer is
// checked: HTTP 200, a body that decodes, every change applied or
// superseded, cursors that never go back. Anything else is an error, counted.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lumbung::bench {

// What a run observed, written by the io_context's single thread.
struct Tally {
  std::vector<double> push_ms;
  std::vector<double> pull_ms;
  std::int64_t changes_pushed = 0;
  std::int64_t rows_pulled = 0;
  std::int64_t errors = 0;
  std::vector<std::string> first_errors;

  void error(std::string what);
};

// Who a device is: its id, its officer's token and the village it works in.
struct Identity {
  std::string device_id;
  std::string token;
  std::string village;
};

// The parts of the schema the devices write.
struct Workload {
  std::uint32_t schema_version = 0;
  std::vector<std::string> household_columns;
  std::vector<std::string> person_columns;
  std::uint32_t person_phone = 0;  // indexes into person_columns: the edited cells
  std::uint32_t person_education = 0;
};

// From the built-in Desmigratif schema.
Workload load_workload();

// The id of village number `village` (0, 1, ...).
std::string village_id(int village);

// `count` devices named PREFIX-0000..., one officer each, `per_village` to a
// village, each with a token for its village issued by `lumbungd token` as an
// administrator would (with `--store store_url` when given).
std::vector<Identity> issue_identities(const std::string& lumbungd, const std::string& data_dir,
                                       const std::string& prefix, int count, int per_village,
                                       const std::string& store_url = "");

// The loopback address device `index` connects from: each phone has its own
// (127.1.x.y), as the daemon's per-address connection share expects.
boost::asio::ip::tcp::endpoint device_address(int index);

// 127.0.0.1 and the port of a daemon's "http://127.0.0.1:PORT".
boost::asio::ip::tcp::endpoint endpoint_of(const std::string& url);

// Devices syncing on `io` until `end`; they start at once. With
// `connection_per_sync`, each closes its connection after each pull, as a
// phone that syncs now and then does, and opens a new one for the next push;
// otherwise each keeps one connection alive throughout.
class SimulatedDevices {
 public:
  SimulatedDevices(boost::asio::io_context& io, boost::asio::ip::tcp::endpoint daemon,
                   const std::vector<Identity>& identities, const Workload& workload,
                   std::chrono::milliseconds think, std::chrono::steady_clock::time_point end,
                   bool connection_per_sync, Tally& tally);
  // As above, device i talking to daemons[i mod daemons.size()], as a load
  // balancer keeping connections would send it.
  SimulatedDevices(boost::asio::io_context& io,
                   const std::vector<boost::asio::ip::tcp::endpoint>& daemons,
                   const std::vector<Identity>& identities, const Workload& workload,
                   std::chrono::milliseconds think, std::chrono::steady_clock::time_point end,
                   bool connection_per_sync, Tally& tally);
  ~SimulatedDevices();
  SimulatedDevices(const SimulatedDevices&) = delete;
  SimulatedDevices& operator=(const SimulatedDevices&) = delete;

 private:
  class Device;
  std::vector<std::unique_ptr<Device>> devices_;
};

// The value below which a fraction `p` of `values` lie (sorts them).
double percentile(std::vector<double>& values, double p);

// VmHWM of `pid` in KiB: its peak resident memory.
long peak_rss_kib(pid_t pid);

// Raises this process's soft limit on open files to its hard limit: a socket
// per device, beyond the usual 1,024.
void raise_open_files_limit();

// `text` as a whole number above 0, as a benchmark's options take them;
// nullopt when it is not one.
std::optional<long> positive_number(const char* text);

}  // namespace lumbung::bench
