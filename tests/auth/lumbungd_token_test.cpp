// `lumbungd token`, `grant`, `ungrant`, `officers`, `revoke`, `rotate-key`
// and `retire-key` as an operator's script runs them: the real binary on a
// fresh data directory, its tokens then checked in process as the daemon
// checks them.
#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "auth/token_authority.hpp"
#include "support/subprocess.hpp"
#include "support/test_support.hpp"

extern char** environ;

namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using lumbung::ErrorCode;
using lumbung::auth::Grant;
using lumbung::auth::Role;
using lumbung::auth::TokenAuthority;
using lumbung::test::ProcessResult;

// The value of the "NAME: value" line of `text`.
std::string field(const std::string& text, const std::string& name) {
  const std::size_t start = text.find(name + ": ");
  if (start == std::string::npos) return "";
  const std::size_t value = start + name.size() + 2;
  return text.substr(value, text.find('\n', value) - value);
}

std::vector<std::string> environment() {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) env.emplace_back(*entry);
  return env;
}

class Lumbungd {
 protected:
  lumbung::test::TempDir dir_;
  std::string data_ = dir_.file("data");
  std::vector<std::string> env_ = environment();

  ProcessResult run(std::vector<std::string> args) const {
    args.insert(args.begin(), LUMBUNGD);
    return lumbung::test::run_process(args, env_, dir_.path().string());
  }

  // Runs `lumbungd token --data DATA ARGS...`, which must succeed; returns the token.
  std::string token(std::vector<std::string> args, std::string* details = nullptr) const {
    args.insert(args.begin(), {"token", "--data", data_});
    const ProcessResult result = run(args);
    INFO("stderr: " << result.err);
    REQUIRE(result.exit_code == 0);
    REQUIRE(result.out.starts_with("lbt1."));
    REQUIRE(result.out.find('\n') == result.out.size() - 1);  // one line
    if (details != nullptr) *details = result.err;
    return result.out.substr(0, result.out.size() - 1);
  }

  // What the daemon makes of `token` from `device`, at `now_ms` by default.
  lumbung::Result<Grant> authenticate(const std::string& token,
                                      const std::string& device = "phone-1",
                                      std::int64_t now_ms = 0) const {
    std::shared_ptr<lumbung::Clock> clock =
        now_ms == 0 ? lumbung::system_clock() : std::make_shared<lumbung::test::FakeClock>(now_ms);
    auto authority = TokenAuthority::open(data_, clock);
    REQUIRE(authority.is_ok());
    return (*authority)->authenticate("Bearer " + token, device);
  }

  ErrorCode refusal(const std::string& token, const std::string& device = "phone-1") const {
    const auto grant = authenticate(token, device);
    return grant.is_ok() ? ErrorCode::kOk : grant.status().code();
  }

  // Runs `lumbungd COMMAND --data DATA ARGS...`, which must succeed; returns its stdout.
  std::string ok(const std::string& command, std::vector<std::string> args) const {
    args.insert(args.begin(), {command, "--data", data_});
    const ProcessResult result = run(args);
    INFO(command << " stderr: " << result.err);
    REQUIRE(result.exit_code == 0);
    return result.out;
  }

  // `lumbungd officers --json`, one parsed object per officer.
  std::vector<nlohmann::json> officers() const {
    std::vector<nlohmann::json> listed;
    std::istringstream lines(ok("officers", {"--json"}));
    for (std::string line; std::getline(lines, line);)
      listed.push_back(nlohmann::json::parse(line));
    return listed;
  }
};

// A failed command: `exit_code` and one "lumbungd: " line naming the problem.
void check_failure(const ProcessResult& result, int exit_code, const std::string& problem) {
  CHECK(result.exit_code == exit_code);
  CHECK_THAT(result.err, StartsWith("lumbungd: ") && Contains(problem));
  CHECK(result.out.empty());
}

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST_CASE_METHOD(Lumbungd, "lumbungd token prints a token for the grant asked", "[auth][cli]") {
  std::string details;
  const std::string issued = token(
      {"--officer", "sri", "--villages", "krasak,juntinyuat", "--role", "supervisor"}, &details);
  CHECK(field(details, "token id").size() == 32);
  CHECK(field(details, "key id").size() == 16);
  CHECK_THAT(field(details, "expires"), StartsWith("20") && Contains("Z"));
  CHECK(issued.starts_with("lbt1." + field(details, "key id") + "."));

  const auto grant = authenticate(issued);
  REQUIRE(grant.is_ok());
  CHECK(grant->token_id == field(details, "token id"));
  CHECK(grant->officer == "sri");
  CHECK(grant->role == Role::kSupervisor);
  CHECK(grant->villages == std::set<std::string, std::less<>>{"juntinyuat", "krasak"});

  struct stat info {};
  REQUIRE(::stat((data_ + "/keys").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0700);
}

TEST_CASE_METHOD(Lumbungd, "lumbungd token --ttl and --device shape the token", "[auth][cli]") {
  const std::string bound =
      token({"--officer=sri", "--villages=krasak", "--ttl=90m", "--device", "phone-9"});
  CHECK(authenticate(bound, "phone-1").status().code() == ErrorCode::kDeviceMismatch);
  CHECK(authenticate(bound, "phone-9", now_ms() + 89 * 60'000).is_ok());
  CHECK(authenticate(bound, "phone-9", now_ms() + 91 * 60'000).status().code() ==
        ErrorCode::kTokenExpired);

  for (const auto& [ttl, valid_ms] : std::vector<std::pair<std::string, std::int64_t>>{
           {"30d", 30 * 86'400'000LL}, {"12h", 12 * 3'600'000LL}, {"3600s", 3'600'000LL}}) {
    INFO(ttl);
    const std::string timed = token({"--officer", "sri", "--villages", "krasak", "--ttl", ttl});
    CHECK(authenticate(timed, "phone-1", now_ms() + valid_ms - 60'000).is_ok());
    CHECK(authenticate(timed, "phone-1", now_ms() + valid_ms + 60'000).status().code() ==
          ErrorCode::kTokenExpired);
  }
}

TEST_CASE_METHOD(Lumbungd, "lumbungd token refuses bad arguments", "[auth][cli]") {
  const std::vector<std::string> base = {"token", "--data", data_};
  const auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return run(args);
  };
  check_failure(with({"--villages", "krasak"}), 2, "missing --officer");
  check_failure(with({"--officer", "sri", "--villages", "krasak", "--role", "king"}), 2,
                "unknown --role 'king'");
  for (const std::string ttl : {"30", "d", "5x", "-3d", "1.5h", ""}) {
    INFO(ttl);
    check_failure(with({"--officer", "sri", "--villages", "krasak", "--ttl=" + ttl}), 2,
                  "malformed --ttl");
  }
  check_failure(with({"--officer", "sri", "--villages", "krasak", "--ttl", "0s"}), 1,
                "more than 0 seconds");
  check_failure(with({"--officer", "sri"}), 1, "needs at least one village");
  check_failure(with({"--officer", "sri\"", "--villages", "krasak"}), 1, "officer id may not hold");
  check_failure(with({"--officer", "sri", "--villages", "krasak,,juntinyuat"}), 1,
                "village id is empty");
  check_failure(with({"--officer", "sri ani", "--villages", "krasak"}), 1,
                "officer id may hold only printable ASCII");
  check_failure(with({"--officer", "sri", "--villages", "krasak", "--token-id", "x"}), 2,
                "unknown option '--token-id'");
  check_failure(run({"token", "--officer", "sri", "--villages", "krasak"}), 2, "missing --data");

  // An admin needs no villages.
  const std::string admin = token({"--officer", "root", "--role", "admin"});
  const auto grant = authenticate(admin, "laptop");
  REQUIRE(grant.is_ok());
  CHECK(grant->all_villages());
}

TEST_CASE_METHOD(Lumbungd, "lumbungd revoke makes a token useless", "[auth][cli]") {
  std::string details;
  const std::string revoked = token({"--officer", "sri", "--villages", "krasak"}, &details);
  const std::string kept = token({"--officer", "sri", "--villages", "krasak"});
  REQUIRE(refusal(revoked) == ErrorCode::kOk);

  const ProcessResult result =
      run({"revoke", "--data", data_, "--token-id", field(details, "token id")});
  INFO("stderr: " << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.empty());
  CHECK(refusal(revoked) == ErrorCode::kTokenRevoked);
  CHECK(refusal(kept) == ErrorCode::kOk);

  check_failure(run({"revoke", "--data", data_}), 2, "give exactly one of --token-id ID");
  check_failure(run({"revoke", "--data", data_, "--token-id", "sri"}), 1, "is not a token id");
  // An id this server never issued is an error naming it, and revokes nothing.
  check_failure(run({"revoke", "--data", data_, "--token-id", std::string(32, 'b')}), 1,
                "token " + std::string(32, 'b') + " is unknown");
  CHECK(refusal(kept) == ErrorCode::kOk);
  check_failure(run({"revoke", "--data", dir_.file("typo"), "--token-id", std::string(32, 'a')}), 1,
                "does not exist");
}

TEST_CASE_METHOD(Lumbungd, "lumbungd rotate-key and retire-key", "[auth][cli]") {
  std::string old_details;
  const std::string old_token = token({"--officer", "sri", "--villages", "krasak"}, &old_details);
  const std::string old_key = field(old_details, "key id");

  const ProcessResult rotated = run({"rotate-key", "--data", data_});
  INFO("stderr: " << rotated.err);
  REQUIRE(rotated.exit_code == 0);
  REQUIRE(rotated.out.size() == 17);
  const std::string new_key = rotated.out.substr(0, 16);
  CHECK(new_key != old_key);
  std::string new_details;
  const std::string new_token = token({"--officer", "sri", "--villages", "krasak"}, &new_details);
  CHECK(field(new_details, "key id") == new_key);
  CHECK(refusal(old_token) == ErrorCode::kOk);

  check_failure(run({"retire-key", "--data", data_, "--key-id", new_key}), 1,
                "is the current signing key");
  check_failure(run({"retire-key", "--data", data_}), 2, "missing --key-id");
  const ProcessResult retired = run({"retire-key", "--data", data_, "--key-id", old_key});
  CHECK(retired.exit_code == 0);
  CHECK(retired.out.empty());
  CHECK(refusal(old_token) == ErrorCode::kTokenForged);
  CHECK(refusal(new_token) == ErrorCode::kOk);
  check_failure(run({"retire-key", "--data", data_, "--key-id", old_key}), 1, "no signing key");
  check_failure(run({"rotate-key", "--data", dir_.file("typo")}), 1, "does not exist");
}

TEST_CASE_METHOD(Lumbungd, "each credential command has --help", "[auth][cli]") {
  for (const std::string command :
       {"token", "grant", "ungrant", "officers", "revoke", "rotate-key", "retire-key"}) {
    INFO(command);
    const ProcessResult result = run({command, "--help"});
    CHECK(result.exit_code == 0);
    CHECK_THAT(result.out, StartsWith("usage: lumbungd " + command + " --data DIR"));
  }
  const ProcessResult main_help = run({"--help"});
  for (const char* command :
       {"token", "grant", "ungrant", "officers", "revoke", "rotate-key", "retire-key"}) {
    CHECK_THAT(main_help.out, Contains(std::string("\n  ") + command + " "));
  }
}

TEST_CASE_METHOD(Lumbungd, "lumbungd grant and ungrant change what every token of an officer may",
                 "[auth][cli]") {
  const std::string issued = token({"--officer", "sri", "--villages", "krasak"});
  CHECK(ok("grant", {"--officer", "sri", "--villages", "juntinyuat,cikedung"}).empty());
  ok("grant", {"--officer", "sri", "--district", "Kabupaten Indramayu", "--role", "supervisor"});
  ok("grant", {"--officer", "sri", "--province", "Jawa Barat"});
  auto grant = authenticate(issued);
  REQUIRE(grant.is_ok());
  CHECK(grant->role == Role::kSupervisor);
  CHECK(grant->villages == lumbung::auth::Names{"cikedung", "juntinyuat", "krasak"});
  CHECK(grant->districts == lumbung::auth::Names{"Kabupaten Indramayu"});
  CHECK(grant->provinces == lumbung::auth::Names{"Jawa Barat"});

  CHECK(ok("ungrant", {"--officer", "sri", "--villages", "krasak,cikedung"}).empty());
  ok("ungrant", {"--officer", "sri", "--district", "Kabupaten Indramayu"});
  ok("grant", {"--officer", "sri", "--role", "officer"});  // the role alone
  grant = authenticate(issued);
  REQUIRE(grant.is_ok());
  CHECK(grant->role == Role::kOfficer);
  CHECK(grant->villages == lumbung::auth::Names{"juntinyuat"});
  CHECK(grant->districts.empty());

  // The first grant creates the officer; its token needs no --villages then.
  ok("grant", {"--officer", "ani", "--all"});
  const auto all = authenticate(token({"--officer", "ani"}), "phone-2");
  REQUIRE(all.is_ok());
  CHECK(all->all_villages());
  CHECK(all->role == Role::kOfficer);
  ok("ungrant", {"--officer", "ani", "--all"});
  CHECK_FALSE(
      authenticate(token({"--officer", "ani", "--villages", "krasak"}), "phone-2")->all_villages());
}

TEST_CASE_METHOD(Lumbungd, "lumbungd grant and ungrant refuse bad arguments", "[auth][cli]") {
  std::filesystem::create_directory(data_);  // as `serve` or `token` leave it
  const auto with = [&](const std::string& command, std::vector<std::string> extra) {
    extra.insert(extra.begin(), {command, "--data", data_});
    return run(extra);
  };
  const std::string one_of = "give exactly one of --villages V1,V2, --district D";
  check_failure(with("grant", {"--officer", "sri"}), 2, one_of);
  check_failure(with("grant", {"--officer", "sri", "--all", "--district", "D"}), 2, one_of);
  check_failure(with("grant", {"--all"}), 2, "missing --officer");
  check_failure(with("grant", {"--officer", "sri", "--all", "--role", "king"}), 2,
                "unknown --role 'king'");
  check_failure(with("grant", {"--officer", "sri", "--villages", "krasak,,x"}), 1,
                "village id is empty");
  check_failure(with("grant", {"--officer", "sri\\", "--all"}), 1, "officer id may not hold");
  // The first grant on a new server makes its data directory, as 'token' does.
  const ProcessResult first =
      run({"grant", "--data", dir_.file("new"), "--officer", "root", "--role", "admin"});
  CHECK(first.exit_code == 0);
  CHECK(std::filesystem::status(dir_.file("new")).permissions() ==
        std::filesystem::perms::owner_all);

  ok("grant", {"--officer", "sri", "--villages", "krasak"});
  check_failure(with("ungrant", {"--officer", "sri"}), 2, "give exactly one of --villages");
  check_failure(with("ungrant", {"--officer", "sri", "--all", "--villages", "krasak"}), 2,
                "give exactly one of --villages");
  check_failure(with("ungrant", {"--officer", "sri", "--villages", "krasak,cikedung"}), 1,
                "officer 'sri' is not granted village 'cikedung'");
  check_failure(with("ungrant", {"--officer", "sri", "--district", "Indramayu"}), 1,
                "officer 'sri' is not granted district 'Indramayu'");
  check_failure(with("ungrant", {"--officer", "sri", "--all"}), 1,
                "officer 'sri' is not granted all villages");
  // A refused ungrant took nothing.
  CHECK(officers().at(0)["grants"]["villages"] == nlohmann::json::array({"krasak"}));
}

TEST_CASE_METHOD(Lumbungd, "lumbungd officers lists roles, grants, devices and tokens",
                 "[auth][cli]") {
  std::filesystem::create_directory(data_);
  CHECK(ok("officers", {}).empty());
  std::string details;
  const std::string issued =
      token({"--officer", "sri", "--villages", "krasak", "--role", "supervisor"}, &details);
  token({"--officer", "sri"});
  ok("grant", {"--officer", "ani", "--district", "Indramayu"});
  REQUIRE(refusal(issued, "phone-1") == ErrorCode::kOk);
  ok("revoke", {"--token-id", field(details, "token id")});

  const std::vector<nlohmann::json> listed = officers();
  REQUIRE(listed.size() == 2);
  CHECK(listed[0] == nlohmann::json::parse(R"({"officer":"ani","role":"officer",
      "grants":{"villages":[],"districts":["Indramayu"],"provinces":[],"all":false},
      "devices":[],"tokens":[]})"));
  const nlohmann::json& sri = listed[1];
  CHECK(sri["officer"] == "sri");
  CHECK(sri["role"] == "supervisor");
  CHECK(sri["grants"]["villages"] == nlohmann::json::array({"krasak"}));
  CHECK(sri["devices"] == nlohmann::json::array({"phone-1"}));
  REQUIRE(sri["tokens"].size() == 2);
  const nlohmann::json revoked =
      sri["tokens"][0]["id"] == field(details, "token id") ? sri["tokens"][0] : sri["tokens"][1];
  CHECK(revoked["revoked"] == true);
  CHECK(revoked["expires"] == field(details, "expires"));
  CHECK_THAT(revoked["issued"].get<std::string>(), StartsWith("20") && Contains("Z"));

  const std::string text = ok("officers", {});
  CHECK_THAT(text, StartsWith("officer ani\n  role: officer\n"));
  CHECK_THAT(text, Contains("officer sri\n  role: supervisor\n") &&
                       Contains("  districts: Indramayu\n") && Contains("  devices: phone-1\n") &&
                       Contains("  token " + field(details, "token id")) && Contains(" revoked\n"));
  check_failure(run({"officers", "--data", dir_.file("typo")}), 1, "does not exist");
}

TEST_CASE_METHOD(Lumbungd, "lumbungd revoke --officer and --device", "[auth][cli]") {
  std::string phone_details;
  const std::string phone = token({"--officer", "sri", "--villages", "krasak"}, &phone_details);
  const std::string tablet = token({"--officer", "sri", "--device", "tablet-1"});
  const std::string ani = token({"--officer", "ani", "--villages", "krasak"});
  REQUIRE(refusal(phone, "phone-1") == ErrorCode::kOk);

  // --device: the tokens of that device, printed one a line.
  CHECK(ok("revoke", {"--device", "phone-1"}) == field(phone_details, "token id") + "\n");
  CHECK(refusal(phone, "phone-1") == ErrorCode::kTokenRevoked);
  CHECK(refusal(tablet, "tablet-1") == ErrorCode::kOk);
  const std::string renewed = token({"--officer", "sri"});
  CHECK(refusal(renewed, "phone-1") == ErrorCode::kOk);  // the phone goes on

  // --officer: every other token of sri; ani's stays.
  CHECK(ok("revoke", {"--officer", "sri"}).size() == 2 * 33);
  CHECK(refusal(tablet, "tablet-1") == ErrorCode::kTokenRevoked);
  CHECK(refusal(renewed, "phone-1") == ErrorCode::kTokenRevoked);
  CHECK(refusal(ani, "phone-2") == ErrorCode::kOk);
  CHECK(refusal(token({"--officer", "sri"}), "phone-1") == ErrorCode::kOk);

  check_failure(run({"revoke", "--data", data_, "--officer", "nobody"}), 1,
                "officer 'nobody' has no token");
  check_failure(run({"revoke", "--data", data_, "--device", "phone-404"}), 1,
                "device 'phone-404' has no token");
  check_failure(run({"revoke", "--data", data_, "--officer", "sri", "--device", "phone-1"}), 2,
                "give exactly one of --token-id ID, --officer ID and --device ID");
}

TEST_CASE_METHOD(Lumbungd, "a running daemon sees lumbungd grant, ungrant and revoke at once",
                 "[auth][cli]") {
  const std::string issued = token({"--officer", "sri", "--villages", "krasak"});
  // One authority kept open, with its grant cache, as `serve` keeps it.
  auto opened = TokenAuthority::open(data_, lumbung::system_clock());
  REQUIRE(opened.is_ok());
  TokenAuthority& daemon = **opened;
  const auto villages = [&] {
    const auto grant = daemon.authenticate("Bearer " + issued, "phone-1");
    REQUIRE(grant.is_ok());
    return grant->villages;
  };
  CHECK(villages() == lumbung::auth::Names{"krasak"});
  ok("grant", {"--officer", "sri", "--villages", "juntinyuat"});
  CHECK(villages() == lumbung::auth::Names{"juntinyuat", "krasak"});
  ok("ungrant", {"--officer", "sri", "--villages", "krasak"});
  CHECK(villages() == lumbung::auth::Names{"juntinyuat"});
  ok("revoke", {"--officer", "sri"});
  CHECK(daemon.authenticate("Bearer " + issued, "phone-1").status().code() ==
        ErrorCode::kTokenRevoked);
}

TEST_CASE_METHOD(Lumbungd, "lumbungd tokens lists every issued token", "[auth][cli]") {
  std::filesystem::create_directory(data_);
  CHECK(ok("tokens", {}).empty());
  std::string sri_details;
  const std::string sri =
      token({"--officer", "sri", "--villages", "krasak", "--role", "supervisor"}, &sri_details);
  std::string ani_details;
  token({"--officer", "ani", "--villages", "krasak", "--device", "phone-9"}, &ani_details);
  REQUIRE(refusal(sri, "phone-1") == ErrorCode::kOk);  // binds it
  ok("revoke", {"--token-id", field(sri_details, "token id")});

  std::vector<nlohmann::json> listed;
  std::istringstream lines(ok("tokens", {"--json"}));
  for (std::string line; std::getline(lines, line);) listed.push_back(nlohmann::json::parse(line));
  REQUIRE(listed.size() == 2);
  std::map<std::string, nlohmann::json> by_officer;
  for (const nlohmann::json& line : listed) by_officer[line.at("officer")] = line;
  const nlohmann::json& first = by_officer.at("sri");
  CHECK(first.at("id") == field(sri_details, "token id"));
  CHECK(first.at("role") == "supervisor");
  CHECK(first.at("key_id") == field(sri_details, "key id"));
  CHECK(first.at("expires") == field(sri_details, "expires"));
  CHECK(first.at("revoked") == true);
  CHECK(first.at("device") == "phone-1");
  const nlohmann::json& second = by_officer.at("ani");
  CHECK(second.at("id") == field(ani_details, "token id"));
  CHECK(second.at("role") == "officer");
  CHECK(second.at("revoked") == false);
  CHECK(second.at("device") == "phone-9");

  // Text: one line per token, naming it.
  const std::string text = ok("tokens", {});
  CHECK(std::count(text.begin(), text.end(), '\n') == 2);
  CHECK_THAT(text, Contains(field(sri_details, "token id") + " officer sri role supervisor"));
  CHECK_THAT(text, Contains(" revoked"));
  check_failure(run({"tokens", "--data", dir_.file("typo")}), 1, "does not exist");
}

TEST_CASE_METHOD(Lumbungd, "the credential commands take --store and refuse a URL of another kind",
                 "[auth][cli]") {
  std::filesystem::create_directory(data_);
  const std::string url = "mysql://lumbung:s3cret@db/lumbung";
  const std::vector<std::vector<std::string>> commands = {
      {"token", "--officer", "sri", "--villages", "krasak"},
      {"grant", "--officer", "sri", "--all"},
      {"ungrant", "--officer", "sri", "--all"},
      {"officers"},
      {"tokens"},
      {"revoke", "--officer", "sri"}};
  for (std::vector<std::string> args : commands) {
    const std::string command = args.front();
    args.insert(args.begin() + 1, {"--data", data_, "--store", url});
    const ProcessResult result = run(args);
    INFO(command);
    check_failure(result, 1, "--store: 'mysql://lumbung:***@db/lumbung' is not a PostgreSQL URL");
    CHECK_THAT(result.err, !Contains("s3cret"));
  }
  // Nothing was written to DIR's credential store meanwhile.
  CHECK(officers().empty());
}
