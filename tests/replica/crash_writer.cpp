// The writer that crash_test kills: a stream of transactions on a replica,
// each announced on stdout only after it committed.
//
//   crash_writer PATH FIRST   writes transactions FIRST, FIRST+1, ... until killed
//
// Transaction k inserts persons "k.a" and "k.b", and sets the phone of "(k-1).a"
// to "k" (when that row exists), through the replica API and plain SQL on a
// second connection in alternation, so both capture paths are under test.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "support/test_support.hpp"

using namespace lumbung;

namespace {

Row person(const std::string& id) {
  return {{"id", id},
          {"village_id", "v1"},
          {"full_name", "Crash " + id},
          {"created_by", "crash"},
          {"created_at", "2026-11-28T00:00:00Z"}};
}

[[noreturn]] void die(const Status& status) {
  std::fprintf(stderr, "crash_writer: %s\n", status.to_string().c_str());
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: crash_writer PATH FIRST\n");
    return 2;
  }
  const std::string path = argv[1];
  auto replica = Replica::open(lumbung::test::options_for(path));
  if (!replica.is_ok()) die(replica.status());
  lumbung::test::PlainConnection app(path);

  for (long k = std::atol(argv[2]);; ++k) {
    const std::string ks = std::to_string(k);
    const std::string previous = std::to_string(k - 1) + ".a";
    if (k % 2 == 0) {
      Status status = (*replica)->transaction([&]() -> Status {
        LUMBUNG_RETURN_IF_ERROR((*replica)->insert("person", person(ks + ".a")));
        LUMBUNG_RETURN_IF_ERROR((*replica)->insert("person", person(ks + ".b")));
        Status updated = (*replica)->update("person", previous, {{"phone", ks}});
        return updated.code() == ErrorCode::kNotFound ? Status::ok() : updated;
      });
      if (!status.is_ok()) die(status);
    } else {
      const std::string error = app.exec(
          "BEGIN IMMEDIATE;"
          "INSERT INTO person (id, village_id, full_name, created_by, created_at) VALUES ('" +
          ks + ".a', 'v1', 'Crash " + ks +
          ".a', 'crash', 't');"
          "INSERT INTO person (id, village_id, full_name, created_by, created_at) VALUES ('" +
          ks + ".b', 'v1', 'Crash " + ks +
          ".b', 'crash', 't');"
          "UPDATE person SET phone = '" +
          ks + "' WHERE id = '" + previous +
          "';"
          "COMMIT;");
      if (!error.empty()) die(Status(ErrorCode::kInternal, error));
    }
    std::printf("%ld\n", k);
    std::fflush(stdout);
  }
}
