#include "command_line.hpp"

#include <algorithm>
#include <exception>
#include <iostream>
#include <span>

namespace lumbung::tools {
namespace {

bool contains(const std::vector<std::string_view>& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

bool asks_for_help(std::span<const std::string_view> argv) {
  return std::any_of(argv.begin(), argv.end(),
                     [](std::string_view arg) { return arg == "--help" || arg == "-h"; });
}

// Returns the usage error, or an empty string when `argv` fits `command`.
std::string parse_args(const Program& program, const Command& command,
                       std::span<const std::string_view> argv, Args& args) {
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string_view arg = argv[i];
    if (!arg.starts_with("--")) {
      args.positionals.emplace_back(arg);
      continue;
    }
    const std::size_t eq = arg.find('=');
    const std::string_view name = arg.substr(0, eq);
    if (contains(command.switches, name)) {
      if (eq != std::string_view::npos) return "option " + std::string(name) + " takes no value";
      if (!args.switches.emplace(name).second) {
        return "option " + std::string(name) + " given twice";
      }
      continue;
    }
    if (name != program.required_option && !contains(command.options, name)) {
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
  if (!args.options.contains(program.required_option)) {
    return "missing " + std::string(program.required_option) + " " +
           std::string(program.required_value);
  }
  if (args.positionals.size() < command.min_positionals) {
    return "missing arguments: expected " + std::string(command.positionals);
  }
  if (args.positionals.size() > command.max_positionals) {
    return "unexpected argument '" + args.positionals[command.max_positionals] + "'";
  }
  return {};
}

int dispatch(const Program& program, std::span<const std::string_view> argv) {
  if (argv.empty()) {
    std::cerr << program.name << ": missing command\nTry '" << program.name << " --help'.\n";
    return kExitUsage;
  }
  if (argv[0] == "--help" || argv[0] == "-h") {
    std::cout << program.help;
    return kExitOk;
  }
  const auto command = std::find_if(program.commands.begin(), program.commands.end(),
                                    [&](const Command& c) { return c.name == argv[0]; });
  if (command == program.commands.end()) {
    std::cerr << program.name << ": unknown command '" << argv[0] << "'\nTry '" << program.name
              << " --help'.\n";
    return kExitUsage;
  }
  if (asks_for_help(argv.subspan(1))) {
    std::cout << command->help;
    return kExitOk;
  }
  Args args;
  if (std::string error = parse_args(program, *command, argv.subspan(1), args); !error.empty()) {
    return usage_error(program.name, command->name, error);
  }
  return command->run(args);
}

}  // namespace

int run_program(const Program& program, int argc, char** argv) {
  try {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    int exit_code = dispatch(program, args);
    // A full disk or a closed pipe must not pass for success.
    if (!std::cout.flush()) {
      std::cerr << program.name << ": cannot write to standard output\n";
      exit_code = kExitError;
    }
    return exit_code;
  } catch (const std::exception& e) {
    std::cerr << program.name << ": internal error: " << e.what() << '\n';
    return kExitError;
  }
}

int fail(std::string_view program, const Status& status) {
  std::cerr << program << ": " << status.to_string() << '\n';
  return kExitError;
}

int usage_error(std::string_view program, std::string_view command, const std::string& message) {
  std::cerr << program << ": " << message << "\nTry '" << program << " " << command
            << " --help'.\n";
  return kExitUsage;
}

}  // namespace lumbung::tools
