// Runs a program and captures what it writes, for tests that drive real
// binaries. No shell is involved: arguments and paths reach the program as given.
#pragma once

#include <string>
#include <vector>

namespace lumbung::test {

struct ProcessResult {
  int exit_code = -1;  // the exit status, or 128 + the signal number when killed
  std::string out;     // everything written to stdout
  std::string err;     // everything written to stderr
};

// Runs the program at path argv[0] with arguments `argv`, exactly the
// environment `env` ("NAME=value"), working directory `cwd` and stdin from
// /dev/null, and waits for it. Throws std::system_error when it cannot start.
ProcessResult run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                          const std::string& cwd);

}  // namespace lumbung::test
