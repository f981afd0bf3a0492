// Logger: the daemon's structured log, one line per event, written whole to
// a file descriptor (stderr): as text, `TIME LEVEL EVENT name=value ...`, or
// as one JSON object, {"time":...,"level":...,"event":...,"name":value,...}
// (`lumbungd serve --log-format text|json`, docs/lumbungd.md "Logs").
//
// What goes in a line is the caller's choice, within one rule: no token and
// no personal data, ever (ids of officers, devices, villages and requests,
// counts, sizes and times only; refusals by their error code, not their
// message, which may quote a value).
//
// Thread-safety: safe to share; each line is one write(2), so lines from
// threads never interleave.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace lumbung::server {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat : int { kText = 0, kJson = 1 };

// "debug", "info", "warn", "error"; "text", "json".
std::string_view log_level_name(LogLevel level);
std::optional<LogLevel> parse_log_level(std::string_view name);
std::optional<LogFormat> parse_log_format(std::string_view name);

// A field's value: text, a whole number, a real or a list of texts.
using LogValue = std::variant<std::string, std::int64_t, double, std::vector<std::string>>;

struct LogField {
  std::string name;  // [a-z_]+
  LogValue value;
};

class Logger {
 public:
  // Lines below `level` are dropped.
  Logger(int fd, LogFormat format, LogLevel level);

  bool enabled(LogLevel level) const { return level >= level_; }
  // Writes one line of `event` with `fields`, in their order, stamped with
  // the current UTC time (milliseconds).
  void log(LogLevel level, std::string_view event, const std::vector<LogField>& fields) const;

  // The line log() writes, stamped at `unix_ms`, without its newline.
  std::string format_line(std::int64_t unix_ms, LogLevel level, std::string_view event,
                          const std::vector<LogField>& fields) const;

 private:
  const int fd_;
  const LogFormat format_;
  const LogLevel level_;
};

}  // namespace lumbung::server
