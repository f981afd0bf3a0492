// A committed write is never lost: kill -9 a writer at random points during a
// stream of transactions, reopen, and check that every transaction it
// reported committed is in its table and in the outbox, and that every other
// transaction is either wholly there or wholly absent.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <random>

#include "support/test_support.hpp"

extern char** environ;

using namespace lumbung;
using lumbung::test::TempDir;

namespace {

constexpr int kKills = 25;

// Starts the writer at transaction `first`, reads its committed-transaction
// reports until `reports` have arrived, then kills it with SIGKILL. Returns the
// last transaction it reported (first - 1 if none), including reports still
// in the pipe: the writer runs on while the kill is on its way.
long run_and_kill(const std::string& path, long first, int reports) {
  int out[2];
  REQUIRE(pipe(out) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  const std::string first_text = std::to_string(first);
  std::vector<char*> argv = {const_cast<char*>(LUMBUNG_CRASH_WRITER),
                             const_cast<char*>(path.c_str()), const_cast<char*>(first_text.c_str()),
                             nullptr};
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, LUMBUNG_CRASH_WRITER, &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);

  FILE* stream = fdopen(out[0], "r");
  long last = first - 1;
  char line[64];
  for (int i = 0; i < reports && std::fgets(line, sizeof(line), stream); ++i) {
    last = std::atol(line);
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  while (std::fgets(line, sizeof(line), stream)) last = std::atol(line);
  std::fclose(stream);
  CHECK(WIFSIGNALED(status));  // it was killed mid-stream, not dead by itself
  return last;
}

struct Observed {
  bool a = false, b = false, a_pending = false, b_pending = false;
};

}  // namespace

TEST_CASE("committed writes survive kill -9 at random points", "[replica][crash]") {
  TempDir dir;
  const std::string path = dir.file("crash.db");
  { lumbung::test::open_replica(lumbung::test::options_for(path)); }

  std::mt19937 rng(std::random_device{}());
  const unsigned seed = rng();
  INFO("seed " << seed);
  rng.seed(seed);

  long next = 1;
  long reported = 0;
  for (int kill_no = 0; kill_no < kKills; ++kill_no) {
    reported = run_and_kill(path, next, std::uniform_int_distribution<int>(1, 60)(rng));

    auto replica = lumbung::test::open_replica(lumbung::test::options_for(path));
    std::map<long, Observed> seen;
    for (const Row& row : replica->query("SELECT id FROM person").value()) {
      const std::string& id = row.at("id").as_text();
      (id.back() == 'a' ? seen[std::atol(id.c_str())].a : seen[std::atol(id.c_str())].b) = true;
    }
    std::map<std::string, int> cells;
    for (const PendingChange& c : replica->pending_changes().value()) {
      if (c.kind == PendingChange::Kind::kInsert) {
        auto& o = seen[std::atol(c.row_id.c_str())];
        (c.row_id.back() == 'a' ? o.a_pending : o.b_pending) = true;
      } else {
        ++cells[c.row_id + "/" + c.column];
      }
    }
    long committed = 0;
    for (const auto& [k, o] : seen) {
      INFO("transaction " << k << " after kill " << kill_no);
      // Atomic: both rows and both outbox entries, or none of them.
      CHECK(o.a == o.b);
      CHECK(o.a == o.a_pending);
      CHECK(o.b == o.b_pending);
      if (o.a) committed = std::max(committed, k);
    }
    for (long k = 1; k <= reported; ++k) {
      INFO("reported transaction " << k);
      CHECK(seen[k].a);
      if (k > 1) {  // the update of the previous row's phone, captured once
        auto row = replica->get("person", std::to_string(k - 1) + ".a").value();
        REQUIRE(row);
        CHECK((*row)["phone"] == Value(std::to_string(k)));
        CHECK(cells[std::to_string(k - 1) + ".a/phone"] == 1);
      }
    }
    CHECK(committed >= reported);
    CHECK(committed <= reported + 1);  // at most the one in flight when killed
    next = committed + 1;
  }
  CHECK(reported > kKills);
}
