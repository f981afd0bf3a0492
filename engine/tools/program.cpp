#include "program.hpp"

#include <algorithm>
#include <charconv>
#include <exception>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <utility>

#include "core/schema.hpp"
#include "core/split.hpp"
#include "protocol/wire.hpp"

namespace lumbung::tools {
namespace {

constexpr std::size_t kHelpWidth = 80;

bool is_help(std::string_view arg) { return arg == "--help" || arg == "-h"; }

bool is_switch(const CLI::Option& option) { return option.get_expected_max() == 0; }

// The options of `app` but its --help, in declaration order.
std::vector<const CLI::Option*> own_options(const CLI::App& app) {
  return app.get_options([&](const CLI::Option* o) { return o != app.get_help_ptr(); });
}

// The option groups of `command` (CLI11 makes them nameless subcommands).
std::vector<const CLI::App*> groups(const CLI::App& command) {
  return command.get_subcommands([](const CLI::App* sub) { return sub->get_name().empty(); });
}

// The options of `command` as its help lists them: the required ones, those
// of its option groups, then the others; the positional arguments wherever.
std::vector<const CLI::Option*> options_of(const CLI::App& command) {
  std::vector<const CLI::Option*> options;
  for (const CLI::Option* option : own_options(command)) {
    if (option->get_required()) options.push_back(option);
  }
  for (const CLI::App* group : groups(command)) {
    for (const CLI::Option* option : own_options(*group)) options.push_back(option);
  }
  for (const CLI::Option* option : own_options(command)) {
    if (!option->get_required()) options.push_back(option);
  }
  return options;
}

// The option groups of `command` that require some of their options.
std::vector<const CLI::App*> required_groups(const CLI::App& command) {
  std::vector<const CLI::App*> required = groups(command);
  std::erase_if(required,
                [](const CLI::App* group) { return group->get_require_option_min() == 0; });
  return required;
}

// "--db FILE", "--json", "TABLE", "COL=VALUE..."
std::string synopsis(const CLI::Option& option) {
  if (option.get_positional()) {
    return option.get_name() + (option.get_items_expected_max() > 1 ? "..." : "");
  }
  return is_switch(option) ? option.get_name() : option.get_name() + " " + option.get_type_name();
}

// "(--value V | --keep server|device)"
std::string synopsis(const CLI::App& group) {
  std::string text;
  for (const CLI::Option* option : own_options(group)) {
    text += (text.empty() ? "(" : " | ") + synopsis(*option);
  }
  return text + ")";
}

// `words` after `lead`, wrapped to kHelpWidth; further lines indented as far
// as the first word.
std::string wrap(const std::string& lead, const std::vector<std::string>& words) {
  std::string text = lead;
  std::size_t column = lead.size();
  for (const std::string& word : words) {
    if (word.empty()) continue;
    if (column > lead.size() && column + 1 + word.size() > kHelpWidth) {
      text += "\n" + std::string(lead.size(), ' ');
      column = lead.size();
    } else if (column > lead.size()) {
      text += ' ';
      ++column;
    }
    text += word;
    column += word.size();
  }
  return text + "\n";
}

// "usage: lumbung sync --db FILE [--server URL] ...": required options, the
// positional arguments, groups of options of which some are required, then
// optional options.
std::string usage_line(const CLI::App& command, const std::string& path) {
  std::vector<std::string> words;
  const std::vector<const CLI::Option*> own = own_options(command);
  for (const CLI::Option* option : own) {
    if (option->nonpositional() && option->get_required()) words.push_back(synopsis(*option));
  }
  for (const CLI::Option* option : own) {
    if (option->get_positional()) words.push_back(synopsis(*option));
  }
  for (const CLI::App* group : required_groups(command)) words.push_back(synopsis(*group));
  std::vector<const CLI::Option*> shown;
  for (const CLI::Option* option : own) {
    if (!option->nonpositional() || option->get_required()) continue;
    if (std::find(shown.begin(), shown.end(), option) != shown.end()) continue;
    // Two options that need each other: "[--tls-cert FILE --tls-key FILE]".
    std::string word = synopsis(*option);
    for (const CLI::Option* needed : option->get_needs()) {
      const std::set<CLI::Option*> back = needed->get_needs();
      if (std::find(back.begin(), back.end(), option) != back.end()) {
        word += " " + synopsis(*needed);
        shown.push_back(needed);
      }
    }
    words.push_back("[" + word + "]");
  }
  return wrap("usage: " + path + " ", words);
}

// Two columns: each label, then its text wrapped beside it.
std::string table(const std::string& title,
                  const std::vector<std::pair<std::string, std::string>>& rows) {
  if (rows.empty()) return {};
  std::size_t width = 0;
  for (const auto& row : rows) width = std::max(width, row.first.size());
  std::string text = "\n" + title + ":\n";
  for (const auto& [label, help] : rows) {
    const std::string lead = "  " + label + std::string(width - label.size() + 3, ' ');
    text += wrap(lead, core::split(help, ' '));
  }
  return text;
}

// Prose as written, starting on a line of its own.
std::string paragraph(const std::string& prose) {
  if (prose.empty()) return {};
  return "\n" + prose + (prose.ends_with('\n') ? "" : "\n");
}

// The layout of every help text; the content comes from the declarations.
class Help : public CLI::FormatterBase {
 public:
  explicit Help(const std::map<const CLI::App*, std::string>& summaries) : summaries_(summaries) {}

  std::string make_help(const CLI::App* app, std::string path, CLI::AppFormatMode) const override {
    return app->get_parent() == nullptr ? program_help(*app, path) : command_help(*app, path);
  }

 private:
  std::string program_help(const CLI::App& program, const std::string& path) const {
    const std::vector<const CLI::App*> commands =
        program.get_subcommands([](const CLI::App* c) { return !c->get_name().empty(); });
    // The options every command requires, as "--db FILE".
    std::vector<std::string> words = {"COMMAND"};
    for (const CLI::Option* option : commands.front()->get_options()) {
      const bool everywhere =
          option->get_required() && option->nonpositional() &&
          std::all_of(commands.begin(), commands.end(), [&](const CLI::App* command) {
            const CLI::Option* same = command->get_option_no_throw(option->get_name());
            return same != nullptr && same->get_required();
          });
      if (everywhere) words.push_back(synopsis(*option));
    }
    words.emplace_back("[ARGS...]");
    std::vector<std::pair<std::string, std::string>> rows;
    for (const CLI::App* command : commands) {
      rows.emplace_back(command->get_name(), summaries_.at(command));
    }
    return wrap("usage: " + path + " ", words) + paragraph(program.get_description()) +
           table("Commands", rows) +
           paragraph("'" + program.get_name() +
                     " --version' prints the release, revision, protocol and schema versions.") +
           paragraph(program.get_footer());
  }

  static std::string command_help(const CLI::App& command, const std::string& path) {
    std::vector<std::pair<std::string, std::string>> arguments;
    std::vector<std::pair<std::string, std::string>> options;
    for (const CLI::Option* option : options_of(command)) {
      (option->get_positional() ? arguments : options)
          .emplace_back(synopsis(*option), option->get_description());
    }
    return usage_line(command, path) + paragraph(command.get_description()) +
           table("Arguments", arguments) + table("Options", options) +
           paragraph(command.get_footer());
  }

  const std::map<const CLI::App*, std::string>& summaries_;
};

// "TABLE ID COL=VALUE...": the positional arguments of `command`.
std::string positionals(const CLI::App& command) {
  std::string text;
  for (const CLI::Option* option : command.get_options()) {
    if (option->get_positional()) text += (text.empty() ? "" : " ") + synopsis(*option);
  }
  return text;
}

// What was wrong with the command line, in the tools' words, from the error
// CLI11 threw and the state it left `command` in.
std::string usage_problem(const CLI::App& command, const std::vector<std::string>& args,
                          const CLI::ParseError& error) {
  const std::vector<const CLI::Option*> options = options_of(command);
  const auto given = [](const CLI::Option* option) { return option->count() > 0; };
  if (dynamic_cast<const CLI::ValidationError*>(&error) != nullptr) {
    // CLI11 puts "NAME: " before the message our checks wrote whole.
    const std::string_view message = error.what();
    for (const CLI::Option* option : options) {
      if (message.starts_with(option->get_name() + ": ")) {
        return std::string(message.substr(option->get_name().size() + 2));
      }
    }
  }
  if (dynamic_cast<const CLI::RequiresError*>(&error) != nullptr) {
    for (const CLI::Option* option : options) {
      if (!given(option)) continue;
      for (const CLI::Option* needed : option->get_needs()) {
        if (!given(needed))
          return option->get_name() + " and " + needed->get_name() + " go together";
      }
    }
  }
  if (dynamic_cast<const CLI::ExtrasError*>(&error) != nullptr) {
    // Arguments after '--' that no positional takes go to the program.
    std::vector<std::string> extras = command.remaining();
    if (extras.empty()) extras = command.get_parent()->remaining();
    if (!extras.empty()) {
      return extras.front().starts_with("-") ? "unknown option '" + extras.front() + "'"
                                             : "unexpected argument '" + extras.front() + "'";
    }
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr) {
    for (const CLI::Option* option : options) {
      if (option->nonpositional() && option->count() > 1) {
        return "option " + option->get_name() + " given twice";
      }
    }
    // CLI11 stops at an option that ends the line without its value.
    if (const CLI::Option* last = command.get_option_no_throw(args.back());
        last != nullptr && !is_switch(*last)) {
      return "option " + last->get_name() + " needs a value";
    }
  }
  if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr ||
      dynamic_cast<const CLI::ArgumentMismatch*>(&error) != nullptr) {
    for (const CLI::Option* option : options) {
      if (!option->get_required() || given(option)) continue;
      return option->get_positional() ? "missing arguments: expected " + positionals(command)
                                      : "missing " + synopsis(*option);
    }
    for (const CLI::Option* option : options) {
      if (option->get_positional() &&
          option->count() < static_cast<std::size_t>(option->get_items_expected_min())) {
        return "missing arguments: expected " + positionals(command);
      }
    }
    for (const CLI::App* group : required_groups(command)) {
      std::string names;
      const std::vector<const CLI::Option*> members = own_options(*group);
      for (std::size_t i = 0; i < members.size(); ++i) {
        names += (i == 0 ? "" : i + 1 == members.size() ? " and " : ", ") + synopsis(*members[i]);
      }
      return (group->get_require_option_max() == 1 ? "give exactly one of " : "give one of ") +
             names;
    }
  }
  return error.what();
}

}  // namespace

Program::Program(std::string name, std::string description, std::string footer)
    : name_(name), app_(std::move(description), std::move(name)) {
  app_.footer(std::move(footer));
  app_.formatter(std::make_shared<Help>(summaries_));
  app_.set_help_flag("-h,--help", "print this help");
  app_.require_subcommand(1);
}

CLI::App* Program::command(const std::string& name, std::string summary, std::string description,
                           std::function<int()> run) {
  CLI::App* command = app_.add_subcommand(name, std::move(description));
  command->footer("");  // not the program's
  summaries_.emplace(command, std::move(summary));
  runs_.emplace(command, std::move(run));
  return command;
}

int Program::run(int argc, char** argv) {
  return run(std::vector<std::string>(argv + 1, argv + argc));
}

int Program::run(std::vector<std::string> args) {
  try {
    int exit_code = dispatch(std::move(args), true);
    // A full disk or a closed pipe must not pass for success.
    if (!std::cout.flush()) {
      std::cerr << name_ << ": cannot write to standard output\n";
      exit_code = kExitError;
    }
    return exit_code;
  } catch (const std::exception& e) {
    std::cerr << name_ << ": internal error: " << e.what() << '\n';
    return kExitError;
  }
}

int Program::check(std::vector<std::string> args) { return dispatch(std::move(args), false); }

int Program::dispatch(std::vector<std::string> args, bool run) {
  if (args.empty()) {
    std::cerr << name_ << ": missing command\nTry '" << name_ << " --help'.\n";
    return kExitUsage;
  }
  if (is_help(args.front())) {
    std::cout << app_.help();
    return kExitOk;
  }
  if (args.front() == "--version") {
    if (args.size() > 1) {
      std::cerr << name_ << ": --version takes no arguments\nTry '" << name_ << " --help'.\n";
      return kExitUsage;
    }
    std::cout << version_text(name_);
    return kExitOk;
  }
  const std::vector<CLI::App*> named =
      app_.get_subcommands([&](CLI::App* c) { return c->get_name() == args.front(); });
  if (named.empty() || args.front().empty()) {
    std::cerr << name_ << ": unknown command '" << args.front() << "'\nTry '" << name_
              << " --help'.\n";
    return kExitUsage;
  }
  CLI::App& command = *named.front();
  // Help wins over everything else on the line, a bad option or a missing
  // file included (CLI11 would check the other options first).
  if (std::any_of(args.begin() + 1, args.end(), is_help)) {
    std::cout << command.help(name_);
    return kExitOk;
  }
  // '--name=value' as two arguments: CLI11 2.1 would take the argument after
  // '--name=' for its value, where an empty value is meant. A switch takes none.
  std::vector<std::string> split = {args.front()};
  for (auto arg = args.begin() + 1; arg != args.end(); ++arg) {
    const std::size_t eq = arg->find('=');
    if (!arg->starts_with("--") || eq == std::string::npos) {
      split.push_back(*arg);
      continue;
    }
    const std::string name = arg->substr(0, eq);
    if (const CLI::Option* option = command.get_option_no_throw(name);
        option != nullptr && is_switch(*option)) {
      return usage_error(command.get_name(), "option " + name + " takes no value");
    }
    split.push_back(name);
    split.push_back(arg->substr(eq + 1));
  }
  try {
    std::vector<std::string> reversed(split.rbegin(), split.rend());  // as CLI11 takes them
    app_.parse(reversed);
  } catch (const CLI::ParseError& error) {
    return usage_error(command.get_name(), usage_problem(command, split, error));
  }
  return run ? runs_.at(&command)() : kExitOk;
}

int Program::fail(const Status& status) const {
  std::cerr << name_ << ": " << status.to_string() << '\n';
  return kExitError;
}

int Program::usage_error(std::string_view command, const std::string& message) const {
  std::cerr << name_ << ": " << message << "\nTry '" << name_ << " " << command << " --help'.\n";
  return kExitUsage;
}

std::string version_text(std::string_view name) {
  std::string text = std::string(name) + " " + std::string(build_release()) + "\n";
  text += "revision: " + std::string(build_revision()) + "\n";
  text += "protocol: " + std::to_string(protocol::kProtocolVersion) + "\n";
  // The format load_schema() accepts is the one the built-in schema, which
  // it loads, declares.
  const std::string_view builtin = core::builtin_schema_text();
  const nlohmann::json file = nlohmann::json::parse(builtin.begin(), builtin.end());
  text += "schema format: " + file.at("format").get<std::string>() + "\n";
  const Result<core::Schema> schema = core::load_schema(builtin, "built-in schema");
  if (!schema.is_ok()) throw std::runtime_error(schema.status().to_string());
  text += "built-in schema: " + schema.value().name + " " + std::to_string(schema.value().version) +
          "\n";
  return text;
}

CLI::Option* add_switch(CLI::App* command, const std::string& name, bool& value,
                        const std::string& help) {
  return command->add_flag(name, value, help)->multi_option_policy(CLI::MultiOptionPolicy::Throw);
}

CLI::Option* expect(CLI::Option* option, const std::string& what,
                    std::function<bool(std::string_view)> valid) {
  const std::string name = option->get_name();
  return option->check(CLI::Validator(
      [name, what, valid = std::move(valid)](std::string& value) {
        return valid(value) ? std::string()
                            : "malformed " + name + " '" + value + "': expected " + what;
      },
      ""));
}

CLI::Option* expect_number(CLI::Option* option, std::uint64_t min, std::uint64_t max,
                           const std::string& what) {
  return expect(option, what, [min, max](std::string_view text) {
    std::uint64_t number = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    return error == std::errc() && end == text.data() + text.size() && number >= min &&
           number <= max;
  });
}

CLI::Option* expect_one_of(CLI::Option* option, const std::vector<std::string>& names) {
  std::string shown;   // "a|b|c"
  std::string listed;  // "a, b or c"
  for (std::size_t i = 0; i < names.size(); ++i) {
    shown += (i == 0 ? "" : "|") + names[i];
    listed += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  }
  const std::string name = option->get_name();
  return option->type_name(shown)->check(CLI::Validator(
      [name, listed, names](std::string& value) {
        return std::find(names.begin(), names.end(), value) != names.end()
                   ? std::string()
                   : "unknown " + name + " '" + value + "': expected " + listed;
      },
      ""));
}

}  // namespace lumbung::tools
