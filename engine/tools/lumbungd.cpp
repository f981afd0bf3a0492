// lumbungd: the merge daemon. A thin main over the protocol core
// (server/sync_server.hpp) and the HTTP server (net/http_server.hpp). Exit
// status: 0 success, 1 error, 2 usage error, as for `lumbung`.
#include <algorithm>
#include <charconv>
#include <csignal>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lumbung/status.hpp"
#include "net/host_port.hpp"
#include "net/http_server.hpp"
#include "server/sync_server.hpp"

namespace {

using lumbung::ErrorCode;
using lumbung::Result;
using lumbung::Status;
using lumbung::server::SyncServer;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

constexpr std::string_view kDefaultListen = "127.0.0.1:8787";

constexpr std::string_view kMainHelp = R"(usage: lumbungd COMMAND --data DIR [ARGS...]

The Lumbung merge daemon: serves the sync protocol over HTTP from one data
directory.

Commands:
  serve   serve devices until SIGTERM or SIGINT
  dump    print the server's live rows as one line of canonical JSON

'lumbungd COMMAND --help' describes one command.
Options take their value as '--data DIR' or '--data=DIR'.

Exit status: 0 success, 1 error (message on stderr), 2 usage error.
)";

// What a command line parsed into.
struct Args {
  std::map<std::string, std::string, std::less<>> options;  // "--data" -> "DIR"

  std::optional<std::string_view> get(std::string_view name) const {
    const auto found = options.find(name);
    if (found == options.end()) return std::nullopt;
    return found->second;
  }
};

struct Command {
  std::string_view name = {};
  std::vector<std::string_view> options = {};  // each takes a value; --data is required
  std::string_view help = {};
  int (*run)(const Args&) = nullptr;
};

int fail(const Status& status) {
  std::cerr << "lumbungd: " << status.to_string() << '\n';
  return kExitError;
}

int usage_error(std::string_view command, const std::string& message) {
  std::cerr << "lumbungd: " << message << "\nTry 'lumbungd " << command << " --help'.\n";
  return kExitUsage;
}

bool asks_for_help(std::span<const std::string_view> argv) {
  return std::any_of(argv.begin(), argv.end(),
                     [](std::string_view arg) { return arg == "--help" || arg == "-h"; });
}

// Returns the usage error, or an empty string when `argv` fits `command`.
std::string parse_args(const Command& command, std::span<const std::string_view> argv, Args& args) {
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string_view arg = argv[i];
    if (!arg.starts_with("--")) return "unexpected argument '" + std::string(arg) + "'";
    const std::size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    if (std::find(command.options.begin(), command.options.end(), name) == command.options.end()) {
      return "unknown option '" + std::string(name) + "'";
    }
    if (args.options.contains(name)) return "option " + std::string(name) + " given twice";
    if (eq != std::string_view::npos) {
      args.options.emplace(name, arg.substr(eq + 1));
    } else if (i + 1 < argv.size()) {
      args.options.emplace(name, argv[++i]);
    } else {
      return "option " + std::string(name) + " needs a value";
    }
  }
  if (!args.options.contains("--data")) return "missing --data DIR";
  return {};
}

// A decimal number in [min, max], or nullopt.
std::optional<unsigned> parse_number(std::string_view text, unsigned min, unsigned max) {
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || value < min || value > max) {
    return std::nullopt;
  }
  return value;
}

Result<std::string> read_schema(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status(ErrorCode::kNotFound, "cannot read schema file '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status(ErrorCode::kIo, "cannot read schema file '" + path + "'");
  // An empty schema_text means the built-in schema: never for a file given.
  if (text.view().empty()) {
    return Status(ErrorCode::kSchemaInvalid, path + ": the file is empty");
  }
  return std::move(text).str();
}

// --- serve ---

constexpr std::string_view kServeHelp =
    R"(usage: lumbungd serve --data DIR [--listen HOST:PORT] [--schema FILE]
                      [--max-clock-skew SECONDS] [--threads N]

Serves the sync protocol (docs/protocol.md) over HTTP. Prints
'lumbungd listening on http://HOST:PORT' once it accepts connections. On
SIGTERM or SIGINT it stops accepting, answers the requests in flight and
exits 0.
  --data DIR                the server's store; created when missing
  --listen HOST:PORT        default 127.0.0.1:8787; port 0 picks a free port
  --schema FILE             the schema (JSON, docs/schema-format.md); default:
                            the built-in Desmigratif schema
  --max-clock-skew SECONDS  device stamps further ahead of server time are
                            re-stamped; default 300
  --threads N               threads serving requests; default: one per core
)";

int run_serve(const Args& args) {
  // Every usage error before anything is opened.
  const std::string_view listen = args.get("--listen").value_or(kDefaultListen);
  const std::optional<lumbung::net::HostPort> address =
      lumbung::net::parse_host_port(listen, std::nullopt);
  if (!address) {
    return usage_error("serve",
                       "malformed --listen '" + std::string(listen) + "': expected HOST:PORT");
  }
  lumbung::server::ServerOptions server_options;
  server_options.data_dir = *args.get("--data");
  if (const auto skew = args.get("--max-clock-skew")) {
    const std::optional<unsigned> seconds = parse_number(*skew, 0, UINT32_MAX);
    if (!seconds) {
      return usage_error("serve", "malformed --max-clock-skew '" + std::string(*skew) +
                                      "': expected a number of seconds");
    }
    server_options.max_clock_skew = std::chrono::seconds(*seconds);
  }
  lumbung::net::HttpServerOptions http_options;
  http_options.host = address->host;
  http_options.port = address->port;
  http_options.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (const auto threads = args.get("--threads")) {
    const std::optional<unsigned> count = parse_number(*threads, 1, 1024);
    if (!count) {
      return usage_error("serve", "malformed --threads '" + std::string(*threads) +
                                      "': expected a number from 1 to 1024");
    }
    http_options.threads = static_cast<int>(*count);
  }
  if (const auto schema = args.get("--schema")) {
    Result<std::string> text = read_schema(std::string(*schema));
    if (!text) return fail(text.status());
    server_options.schema_text = std::move(*text);
    server_options.schema_source = *schema;
  }

  Result<std::unique_ptr<SyncServer>> opened = SyncServer::open(server_options);
  if (!opened) return fail(opened.status());
  SyncServer* const sync = opened->get();
  http_options.stop_signals = {SIGINT, SIGTERM};
  http_options.tick = [sync] { sync->tick(); };
  http_options.on_stop = [sync] { sync->stop(); };
  Result<std::unique_ptr<lumbung::net::HttpServer>> server = lumbung::net::HttpServer::start(
      std::move(http_options),
      [sync](lumbung::HttpRequest request, lumbung::net::Responder respond) {
        sync->handle(std::move(request), std::move(respond));
      });
  if (!server) return fail(server.status());
  // An IPv6 literal needs its brackets back in a URL.
  const bool ipv6 = address->host.find(':') != std::string::npos;
  std::cout << "lumbungd listening on http://" << (ipv6 ? "[" : "") << address->host
            << (ipv6 ? "]" : "") << ':' << (*server)->port() << std::endl;
  (*server)->wait();
  return kExitOk;
}

// --- dump ---

constexpr std::string_view kDumpHelp = R"(usage: lumbungd dump --data DIR [--village ID]

Prints every live row of the server's state as canonical JSON on one line, in
the format of 'lumbung dump': {"table":{"id":{"column":value}}}, keys sorted.
A device that has synced everything it may read holds exactly this.
  --village ID   only the rows of that village (scope)
)";

int run_dump(const Args& args) {
  lumbung::server::ServerOptions options;
  options.data_dir = *args.get("--data");
  // Opening creates a missing store: a mistyped DIR must fail instead.
  std::error_code ec;
  if (!std::filesystem::is_directory(options.data_dir, ec)) {
    return fail(
        Status(ErrorCode::kNotFound, "data directory '" + options.data_dir + "' does not exist"));
  }
  Result<std::unique_ptr<SyncServer>> server = SyncServer::open(options);
  if (!server) return fail(server.status());
  std::optional<std::string> village;
  if (const auto id = args.get("--village")) village = std::string(*id);
  Result<std::string> dump = (*server)->dump_json(village);
  if (!dump) return fail(dump.status());
  std::cout << *dump << '\n';
  return kExitOk;
}

// --- the command table ---

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands = {
      {.name = "serve",
       .options = {"--data", "--listen", "--schema", "--max-clock-skew", "--threads"},
       .help = kServeHelp,
       .run = &run_serve},
      {.name = "dump", .options = {"--data", "--village"}, .help = kDumpHelp, .run = &run_dump},
  };
  return kCommands;
}

int run(std::span<const std::string_view> argv) {
  if (argv.empty()) {
    std::cerr << "lumbungd: missing command\nTry 'lumbungd --help'.\n";
    return kExitUsage;
  }
  if (argv[0] == "--help" || argv[0] == "-h") {
    std::cout << kMainHelp;
    return kExitOk;
  }
  const auto& all = commands();
  const auto command =
      std::find_if(all.begin(), all.end(), [&](const Command& c) { return c.name == argv[0]; });
  if (command == all.end()) {
    std::cerr << "lumbungd: unknown command '" << argv[0] << "'\nTry 'lumbungd --help'.\n";
    return kExitUsage;
  }
  // Help wins over whatever else is on the line.
  if (asks_for_help(argv.subspan(1))) {
    std::cout << command->help;
    return kExitOk;
  }
  Args args;
  if (std::string error = parse_args(*command, argv.subspan(1), args); !error.empty()) {
    return usage_error(command->name, error);
  }
  return command->run(args);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    int exit_code = run(args);
    // A full disk or a closed pipe must not pass for success.
    if (!std::cout.flush()) {
      std::cerr << "lumbungd: cannot write to standard output\n";
      exit_code = kExitError;
    }
    return exit_code;
  } catch (const std::exception& e) {
    std::cerr << "lumbungd: internal error: " << e.what() << '\n';
    return kExitError;
  }
}
