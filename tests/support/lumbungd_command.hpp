// `lumbungd ARGS...` run to its end, for the tests that drive the daemon's
// commands (dump, token, snapshot, backup, restore...): the binary the test
// target names in LUMBUNGD, started without a shell, bounded in time.
#pragma once

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "support/subprocess.hpp"

namespace lumbung::test {

// How long a command may take before the test gives up on it.
inline constexpr std::chrono::seconds kLumbungdCommandTimeout{60};

// "lumbungd ARGS...", for messages.
inline std::string lumbungd_command_line(const std::vector<std::string>& args) {
  std::string line = "lumbungd";
  for (const std::string& arg : args) line += " " + arg;
  return line;
}

// The command's exit status and output; fails the test when it does not end in time.
inline ProcessResult run_lumbungd(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {LUMBUNGD};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess child(argv, {}, std::filesystem::current_path().string());
  std::optional<ProcessResult> result =
      child.wait(Deadline::clock::now() + kLumbungdCommandTimeout);
  INFO(lumbungd_command_line(args));
  REQUIRE(result);
  return *result;
}

// A command that must succeed: its stdout.
inline std::string lumbungd_output(const std::vector<std::string>& args) {
  const ProcessResult result = run_lumbungd(args);
  INFO(lumbungd_command_line(args) << ": " << result.err);
  REQUIRE(result.exit_code == 0);
  return result.out;
}

}  // namespace lumbung::test
