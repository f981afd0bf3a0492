// The command lines of `lumbung` and `lumbungd`, on CLI11: a program with
// subcommands, each taking options with a value ('--db FILE' or '--db=FILE'),
// switches without one, and positional arguments. Help is generated from the
// declarations; '--help' (or '-h') anywhere after the command prints the
// command's help, whatever else is on the line. A usage error prints one line
// naming the problem and points at the command's help. Exit status: 0 success,
// 1 error (message on stderr), 2 usage error. 'NAME --version', alone on the
// line, prints version_text().
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "lumbung/status.hpp"

namespace lumbung::tools {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

class Program {
 public:
  // 'NAME --help' prints the usage line, `description`, the commands with
  // their summaries, then `footer`.
  Program(std::string name, std::string description, std::string footer);

  // Adds the command `name`, listed in the program's help with `summary`; its
  // own help prints `description` between the usage line and the options.
  // `run` is called once the command line parsed, and returns the exit status.
  CLI::App* command(const std::string& name, std::string summary, std::string description,
                    std::function<int()> run);

  // Runs the command `argv` names (argv[0] is the program's path) and returns
  // the exit status. Output that cannot be written to stdout is an error.
  int run(int argc, char** argv);
  // The same for the arguments after the program's path.
  int run(std::vector<std::string> args);
  // Parses `args` as run() does, without running the command: kExitOk, or
  // kExitUsage with the usage error printed.
  int check(std::vector<std::string> args);

  // Prints "NAME: STATUS" on stderr and returns kExitError.
  int fail(const Status& status) const;

  // Prints "NAME: MESSAGE" and a pointer to the command's help on stderr, and
  // returns kExitUsage.
  int usage_error(std::string_view command, const std::string& message) const;

 private:
  int dispatch(std::vector<std::string> args, bool run);

  std::string name_;
  CLI::App app_;
  std::map<const CLI::App*, std::function<int()>> runs_;
  std::map<const CLI::App*, std::string> summaries_;  // for the help's list of commands
};

// The project's VERSION (CMakeLists.txt) and what `git describe --always
// --dirty` said of the sources when the tools were built, "unknown" outside a
// git checkout; defined in a file generated at each build
// (cmake/build_revision.cmake).
std::string_view build_release();
std::string_view build_revision();

// What 'NAME --version' prints, one item a line (docs/decisions/0026):
//   NAME RELEASE
//   revision: REVISION
//   protocol: 1
//   schema format: lumbung-schema/1
//   built-in schema: desmigratif 1
// The protocol version is the one requests carry (protocol::kProtocolVersion);
// the schema format is the one schema files must declare, and the built-in
// schema's name and version are its file's (examples/desmigratif/schema.json).
std::string version_text(std::string_view name);

// Option declarations, for the conventions both tools keep.

// An option taking a value shown as `value_name` in help; given at most once.
template <typename T>
CLI::Option* add_option(CLI::App* command, const std::string& name, T& value,
                        const std::string& value_name, const std::string& help) {
  return command->add_option(name, value, help)
      ->type_name(value_name)
      ->multi_option_policy(CLI::MultiOptionPolicy::Throw);
}

// A switch: no value, given at most once.
CLI::Option* add_switch(CLI::App* command, const std::string& name, bool& value,
                        const std::string& help);

// Refuses a value that `valid` does not accept, with the usage error
// "malformed NAME 'VALUE': expected WHAT".
CLI::Option* expect(CLI::Option* option, const std::string& what,
                    std::function<bool(std::string_view)> valid);

// A whole number from `min` to `max`, in decimal digits.
CLI::Option* expect_number(CLI::Option* option, std::uint64_t min, std::uint64_t max,
                           const std::string& what);

// One of `names`, shown as "a|b|c" in help; anything else is the usage error
// "unknown NAME 'VALUE': expected a, b or c".
CLI::Option* expect_one_of(CLI::Option* option, const std::vector<std::string>& names);

}  // namespace lumbung::tools
