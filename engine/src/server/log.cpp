#include "server/log.hpp"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "core/canonical_json.hpp"
#include "lumbung/value.hpp"

namespace lumbung::server {
namespace {

constexpr LogLevel kLevels[] = {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
                                LogLevel::kError};

// "2026-12-07T03:50:00.123Z".
std::string utc_ms(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char seconds_text[32];
  std::strftime(seconds_text, sizeof seconds_text, "%Y-%m-%dT%H:%M:%S", &tm);
  char ms_text[8];
  std::snprintf(ms_text, sizeof ms_text, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return std::string(seconds_text) + ms_text;
}

std::string json_text(std::string_view text) { return core::canonical_json(Value(text)); }

// A text value as the text format writes it: bare when it is a plain word,
// otherwise quoted as in JSON.
std::string text_word(std::string_view text) {
  bool plain = !text.empty();
  for (const char c : text) {
    plain = plain && c > ' ' && c < 0x7f && c != '"' && c != '=' && c != '\\';
  }
  return plain ? std::string(text) : json_text(text);
}

std::string number_text(double value) { return core::format_real(value); }

std::string value_text(const LogValue& value, LogFormat format) {
  const bool json = format == LogFormat::kJson;
  if (const auto* text = std::get_if<std::string>(&value)) {
    return json ? json_text(*text) : text_word(*text);
  }
  if (const auto* whole = std::get_if<std::int64_t>(&value)) return std::to_string(*whole);
  if (const auto* real = std::get_if<double>(&value)) return number_text(*real);
  const auto& list = std::get<std::vector<std::string>>(value);
  std::string out;
  for (const std::string& item : list) {
    if (json) {
      out += (out.empty() ? "" : ",") + json_text(item);
    } else {
      out += (out.empty() ? "" : ",") + item;
    }
  }
  if (json) return "[" + out + "]";
  return out.empty() ? "-" : text_word(out);
}

}  // namespace

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::optional<LogLevel> parse_log_level(std::string_view name) {
  for (const LogLevel level : kLevels) {
    if (log_level_name(level) == name) return level;
  }
  return std::nullopt;
}

std::optional<LogFormat> parse_log_format(std::string_view name) {
  if (name == "text") return LogFormat::kText;
  if (name == "json") return LogFormat::kJson;
  return std::nullopt;
}

Logger::Logger(int fd, LogFormat format, LogLevel level)
    : fd_(fd), format_(format), level_(level) {}

std::string Logger::format_line(std::int64_t unix_ms, LogLevel level, std::string_view event,
                                const std::vector<LogField>& fields) const {
  std::string line;
  if (format_ == LogFormat::kJson) {
    line = "{\"time\":\"" + utc_ms(unix_ms) + "\",\"level\":\"" +
           std::string(log_level_name(level)) + "\",\"event\":" + json_text(event);
    for (const LogField& field : fields) {
      line += ",\"" + field.name + "\":" + value_text(field.value, format_);
    }
    return line + "}";
  }
  std::string level_word(log_level_name(level));
  for (char& c : level_word) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  line = utc_ms(unix_ms) + " " + level_word + " " + text_word(event);
  for (const LogField& field : fields) {
    line += " " + field.name + "=" + value_text(field.value, format_);
  }
  return line;
}

void Logger::log(LogLevel level, std::string_view event,
                 const std::vector<LogField>& fields) const {
  if (!enabled(level)) return;
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const std::string line = format_line(now_ms, level, event, fields) + "\n";
  // One write: lines of several threads never interleave (a pipe or a
  // terminal takes it whole up to PIPE_BUF; a journal reads lines).
  std::size_t written = 0;
  while (written < line.size()) {
    const ssize_t n = ::write(fd_, line.data() + written, line.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a log that cannot be written is not the requests' problem
    written += static_cast<std::size_t>(n);
  }
}

}  // namespace lumbung::server
