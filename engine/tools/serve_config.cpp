#include "serve_config.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <map>

namespace lumbung::tools {
namespace {

// The value of `--config` on the line, if any.
std::optional<std::string> config_file(const std::vector<std::string>& line) {
  for (std::size_t i = 0; i < line.size(); ++i) {
    if (line[i] == "--config" && i + 1 < line.size()) return line[i + 1];
    if (line[i].starts_with("--config=")) return line[i].substr(9);
  }
  return std::nullopt;
}

// Whether the line gives option `name`, as "--name" or "--name=...".
bool on_line(const std::vector<std::string>& line, const std::string& name) {
  const std::string flag = "--" + name;
  return std::any_of(line.begin(), line.end(), [&](const std::string& arg) {
    return arg == flag || arg.starts_with(flag + "=");
  });
}

// The file's options as values ("" for a switch set true); a switch set
// false is left out.
Result<std::map<std::string, std::string>> read_config(const std::string& path,
                                                       const std::vector<ServeOption>& options) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& error) {
    const std::string_view what = error.description();
    if (what.find("File could not be opened") != std::string_view::npos) {
      return Status(ErrorCode::kNotFound, "cannot read configuration file '" + path + "'");
    }
    return Status(
        ErrorCode::kInvalidArgument,
        path + ":" + std::to_string(error.source().begin.line) + ": " + std::string(what));
  }
  std::map<std::string, std::string> values;
  for (const auto& [key, node] : table) {
    const std::string name(key.str());
    const std::string where = path + ":" + std::to_string(node.source().begin.line) + ": ";
    const auto option = std::find_if(options.begin(), options.end(),
                                     [&](const ServeOption& o) { return o.name == name; });
    if (option == options.end()) {
      return Status(ErrorCode::kInvalidArgument,
                    where + "unknown key '" + name +
                        "': keys are the options of 'lumbungd "
                        "serve' without their dashes (docs/lumbungd.md, \"Configuration\")");
    }
    if (option->is_switch) {
      const std::optional<bool> on = node.value<bool>();
      if (!node.is_boolean() || !on) {
        return Status(ErrorCode::kInvalidArgument, where + "'" + name + "' takes true or false");
      }
      if (*on) values[name] = "";
    } else if (node.is_string()) {
      values[name] = *node.value<std::string>();
    } else if (node.is_integer()) {
      values[name] = std::to_string(*node.value<std::int64_t>());
    } else {
      return Status(ErrorCode::kInvalidArgument,
                    where + "'" + name + "' takes a string or a whole number");
    }
  }
  return values;
}

}  // namespace

std::string environment_name(std::string_view name) {
  std::string variable = "LUMBUNGD_";
  for (const char c : name) {
    variable += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return variable;
}

Result<std::vector<std::string>> serve_arguments(const std::vector<std::string>& line,
                                                 const std::vector<ServeOption>& options,
                                                 const Environment& environment) {
  std::map<std::string, std::string> values;
  if (const std::optional<std::string> path = config_file(line)) {
    LUMBUNG_ASSIGN_OR_RETURN(values, read_config(*path, options));
  }
  for (const ServeOption& option : options) {
    const std::string variable = environment_name(option.name);
    const std::optional<std::string> value = environment(variable);
    if (!value) continue;
    if (!option.is_switch) {
      values[option.name] = *value;
    } else if (*value == "1" || *value == "true" || *value == "yes" || *value == "on") {
      values[option.name] = "";
    } else if (value->empty() || *value == "0" || *value == "false" || *value == "no" ||
               *value == "off") {
      values.erase(option.name);
    } else {
      return Status(ErrorCode::kInvalidArgument,
                    variable + "='" + *value + "': expected 1, true, yes, on, 0, false, no or off");
    }
  }
  std::vector<std::string> arguments;
  for (const auto& [name, value] : values) {
    if (on_line(line, name)) continue;
    const bool is_switch = std::any_of(options.begin(), options.end(), [&](const ServeOption& o) {
      return o.name == name && o.is_switch;
    });
    arguments.push_back(is_switch ? "--" + name : "--" + name + "=" + value);
  }
  arguments.insert(arguments.end(), line.begin(), line.end());
  return arguments;
}

}  // namespace lumbung::tools
