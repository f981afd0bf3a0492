// The command lines of `lumbung` and `lumbungd`: a program with subcommands,
// each taking options with a value ('--db FILE' or '--db=FILE'), switches
// without one, and positional arguments; '--help' anywhere prints the
// command's help. Exit status: 0 success, 1 error (message on stderr),
// 2 usage error.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "lumbung/status.hpp"

namespace lumbung::tools {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// What a command line parsed into.
struct Args {
  std::map<std::string, std::string, std::less<>> options;  // "--db" -> "FILE"
  std::set<std::string, std::less<>> switches;              // "--json"
  std::vector<std::string> positionals;

  // Whether the option or switch `name` was given.
  bool has(std::string_view name) const {
    return options.contains(name) || switches.contains(name);
  }

  std::optional<std::string_view> get(std::string_view name) const {
    const auto found = options.find(name);
    if (found == options.end()) return std::nullopt;
    return found->second;
  }
};

struct Command {
  std::string_view name = {};
  std::string_view positionals = {};  // as in the usage line, for error messages
  std::size_t min_positionals = 0;
  std::size_t max_positionals = 0;
  std::vector<std::string_view> options = {};   // take a value
  std::vector<std::string_view> switches = {};  // take no value
  std::string_view help = {};
  int (*run)(const Args&) = nullptr;
};

struct Program {
  std::string_view name;  // "lumbung"
  std::string_view help;  // for 'NAME --help'
  // The option every command takes and requires, and its value's name in
  // the usage error: "--db" and "FILE".
  std::string_view required_option;
  std::string_view required_value;
  std::vector<Command> commands;
};

// Runs the command `argv` names (argv[0] is the program's path) and returns
// the exit status. Output that cannot be written to stdout is an error.
int run_program(const Program& program, int argc, char** argv);

// Prints "NAME: STATUS" on stderr and returns kExitError.
int fail(std::string_view program, const Status& status);

// Prints the usage error with a hint and returns kExitUsage.
int usage_error(std::string_view program, std::string_view command, const std::string& message);

}  // namespace lumbung::tools
