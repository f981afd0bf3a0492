// The configuration of `lumbungd serve` beyond its command line: a TOML file
// (`serve --config FILE`) and the environment (LUMBUNGD_LISTEN...), turned
// into the command-line options they stand for, so that one parser checks
// every value however it was given (docs/lumbungd.md, "Configuration"). The
// command line wins over the environment, which wins over the file.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lumbung/status.hpp"

namespace lumbung::tools {

// An option of `serve`, by its long name without "--" ("listen"), as a key
// of the file.
struct ServeOption {
  std::string name;
  bool is_switch = false;  // takes no value: true or false in the file
};

// The environment variable of option `name`: LUMBUNGD_ and the name
// upper-cased, '-' as '_' (LUMBUNGD_MAX_CHANGES_PER_PUSH).
std::string environment_name(std::string_view name);

using Environment = std::function<std::optional<std::string>(const std::string& variable)>;

// `line`, the arguments after "serve", with the options that the file named
// by its `--config FILE` (if any) and the environment set put before them,
// each as "--name=value" (a switch as "--name"), and each option once: one
// the line gives is not added; one whose variable is set in `environment` is
// added with the variable's value instead of the file's. A switch's variable
// is 1, true, yes or on, or 0, false, no, off or empty.
// kNotFound or kIo when the file cannot be read; kInvalidArgument, naming
// the file and line, for a TOML syntax error, a key that is no option of
// `options`, a table or list, or a value of the wrong type (a switch takes a
// boolean, the others a string or a whole number), and for a switch's
// variable of another value.
Result<std::vector<std::string>> serve_arguments(const std::vector<std::string>& line,
                                                 const std::vector<ServeOption>& options,
                                                 const Environment& environment);

}  // namespace lumbung::tools
