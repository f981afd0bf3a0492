// Writes the seed corpora of the decode, server and pull_page fuzz targets
// (the schema seeds are written by hand): the requests and responses of
// FuzzWorld's story as real devices and a real server exchanged them, and a
// few pages and requests made from them by hand for paths the story does not
// take. Run it again when the protocol changes:
//   write_seeds tests/fuzz/corpus
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fuzz_world.hpp"
#include "protocol/wire.hpp"
#include "request_text.hpp"

namespace {

using lumbung::HttpRequest;
using lumbung::HttpResponse;
namespace fs = std::filesystem;
namespace v1 = lumbung::v1;

// Files named NAME-N, N counting per name.
class CorpusWriter {
 public:
  explicit CorpusWriter(fs::path dir) : dir_(std::move(dir)) { fs::create_directories(dir_); }
  void write(const std::string& name, const std::string& bytes) {
    const fs::path file = dir_ / (name + "-" + std::to_string(++counts_[name]));
    std::ofstream(file, std::ios::binary) << bytes;
  }

 private:
  fs::path dir_;
  std::map<std::string, int> counts_;
};

// The decode target's selector byte (fuzz_decode.cpp): message index, plus 7
// times the encoding index (0: none, 2: zstd).
std::string decode_seed(int message, const lumbung::HttpHeaders& headers, const std::string& body) {
  const bool zstd = lumbung::find_header(headers, "Content-Encoding") == "zstd";
  return std::string(1, static_cast<char>(message + (zstd ? 2 * 7 : 0))) + body;
}

int request_index(const std::string& target) {
  if (target == "/v1/push") return 0;
  if (target == "/v1/pull") return 2;
  return 4;
}

HttpRequest with_header(HttpRequest request, const std::string& name, const std::string& value) {
  request.headers.emplace_back(name, value);
  return request;
}

// Hand-made variations of a real page, for what the story's pages lack.
void write_page_variations(CorpusWriter& pages, const v1::PullPage& real) {
  v1::PullPage dropped;
  dropped.set_server_hlc(real.server_hlc());
  dropped.add_dropped_scopes(lumbung::fuzz::kVillageB);
  pages.write("dropped-scope", dropped.SerializeAsString());

  v1::PullPage unknown = real;
  unknown.mutable_tables(0)->set_table("table_from_a_newer_schema");
  unknown.mutable_tables(0)->add_columns("column_from_a_newer_schema");
  pages.write("unknown-names", unknown.SerializeAsString());

  v1::PullPage bad_index = real;  // refused whole: nothing may change
  bad_index.mutable_rows(bad_index.rows_size() - 1)->set_table(99);
  pages.write("bad-table-index", bad_index.SerializeAsString());

  v1::PullPage bad_values = real;
  bad_values.mutable_rows(0)->add_values()->set_integer(7);
  pages.write("too-many-values", bad_values.SerializeAsString());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (tests/fuzz/corpus)\n", argv[0]);
    return 2;
  }
  const fs::path corpus(argv[1]);
  CorpusWriter server(corpus / "server");
  CorpusWriter decode(corpus / "decode");
  CorpusWriter pages(corpus / "pull_page");
  std::vector<v1::PullPage> real_pages;
  std::vector<HttpRequest> requests;

  const auto record = [&](const HttpRequest& request, const HttpResponse& response) {
    const std::string name = request.target.substr(request.target.rfind('/') + 1);
    requests.push_back(request);
    server.write(name, lumbung::fuzz::request_text(request));
    decode.write(name + "-request",
                 decode_seed(request_index(request.target), request.headers, request.body));
    v1::PushRequest push;
    if (request.target == "/v1/push" &&
        lumbung::protocol::decode_body(request.headers, request.body, 64u << 20, &push).is_ok()) {
      // Plain as well: the fuzzer mutates a message's fields, not a zstd frame's bytes.
      decode.write("push-plain", decode_seed(0, {}, push.SerializeAsString()));
    }
    if (response.status != 200) {
      decode.write("error", decode_seed(6, response.headers, response.body));
      return;
    }
    decode.write(name + "-response",
                 decode_seed(request_index(request.target) + 1, response.headers, response.body));
    v1::PullPage page;
    if (request.target == "/v1/pull" &&
        lumbung::protocol::decode_body(response.headers, response.body, 64u << 20, &page).is_ok()) {
      pages.write("page", page.SerializeAsString());
      real_pages.push_back(std::move(page));
    }
  };
  lumbung::fuzz::FuzzWorld world(record);
  auto conflicts = world.device(lumbung::fuzz::FuzzWorld::kAni).conflicts();
  lumbung::fuzz::require(conflicts.status(), "conflicts");
  lumbung::ConflictResolution keep_device;
  keep_device.kind = lumbung::ConflictResolution::Kind::kKeepDevice;
  lumbung::fuzz::require(world.device(lumbung::fuzz::FuzzWorld::kBudi)
                             .resolve_conflict(conflicts->front().id, keep_device, world.options())
                             .status(),
                         "resolve");
  world.sync(lumbung::fuzz::FuzzWorld::kAni);

  // What the story's devices never send, or never get.
  const HttpResponse stale = lumbung::protocol::error_response(
      lumbung::Status(lumbung::ErrorCode::kStaleBatch, "batch 1 is older than batch 2"));
  decode.write("error", decode_seed(6, stale.headers, stale.body));
  server.write("healthz", lumbung::fuzz::request_text({"GET", "/healthz", {}, ""}));
  server.write("no-such-path", lumbung::fuzz::request_text({"POST", "/v1/nothing", {}, ""}));
  server.write("wrong-method", lumbung::fuzz::request_text({"GET", "/v1/pull", {}, ""}));
  for (const HttpRequest& request : {requests.front(), requests.back()}) {
    server.write("token", lumbung::fuzz::request_text(
                              with_header(request, "Authorization", "Bearer $TOKEN")));
  }
  v1::PullRequest long_poll;
  long_poll.mutable_header()->set_protocol_version(lumbung::protocol::kProtocolVersion);
  long_poll.mutable_header()->set_schema_version(1);
  long_poll.mutable_header()->set_device_id("ani");
  long_poll.set_wait_seconds(30);
  server.write("long-poll",
               lumbung::fuzz::request_text(lumbung::protocol::make_request("/v1/pull", long_poll)));
  HttpRequest gzip = requests.front();
  gzip.headers.emplace_back("Content-Encoding", "gzip");
  server.write("gzip", lumbung::fuzz::request_text(gzip));

  for (const v1::PullPage& page : real_pages) {
    if (page.rows_size() > 0) {
      write_page_variations(pages, page);
      break;
    }
  }
  std::printf("write_seeds: %zu exchanges recorded into %s\n", requests.size(), corpus.c_str());
  return 0;
}
