// What a request's grant check costs with grants kept on the server
// (docs/decisions/0023-grants-on-the-server.md) against the tokens of before,
// which carried their villages: a national rollout's 10,000 villages in 200
// districts of 20 provinces, and 5,000 officers granted by village, district,
// province or all.
//
// For each shape of grant it times what the daemon does per request before
// reading a page: authenticate() (signature, expiry, revocations, binding,
// and now the officer's grant from the credential store's cache), the
// villages the grant covers (what a pull reads the scope states of) and one
// may_read() (what every pushed change asks). The same officers' tokens in
// the old format, carrying the same village lists, are timed the same way,
// where the old format could carry them at all (an 8 KB header held about
// 150 UUID villages). Both run in one process, one after the other, so the
// ratio is what to compare.
//
//   grant_bench [--seconds S]   (default 2 per measurement, in 5 rounds; the
//                                best round counts)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/credential_store.hpp"
#include "auth/grant.hpp"
#include "auth/signing_keys.hpp"
#include "auth/token.hpp"
#include "auth/token_authority.hpp"

namespace {

using lumbung::auth::Grant;
using lumbung::auth::Names;
using lumbung::auth::RegionMap;
using lumbung::auth::Role;
using lumbung::auth::Selector;
using lumbung::auth::SelectorKind;
using Clock = std::chrono::steady_clock;

constexpr int kVillages = 10000;
constexpr int kDistricts = 200;  // 50 villages each
constexpr int kProvinces = 20;   // 10 districts each
constexpr int kOfficers = 5000;
constexpr int kRounds = 5;
// An HTTP header of 8 KB held the tokens of about 150 UUID villages.
constexpr std::size_t kOldHeaderLimit = 8192;

[[noreturn]] void die(const std::string& what, const lumbung::Status& status) {
  std::fprintf(stderr, "grant_bench: %s: %s\n", what.c_str(), status.to_string().c_str());
  std::exit(1);
}

template <typename T>
T check(const std::string& what, lumbung::Result<T> result) {
  if (!result.is_ok()) die(what, result.status());
  return std::move(result).value();
}

std::string village_id(int n) {
  char id[37];
  std::snprintf(id, sizeof id, "0193f2a4-7c1e-7d2b-9a61-%012d", n);
  return id;
}
std::string district_of(int village) { return "kabupaten-" + std::to_string(village % kDistricts); }
std::string province_of(int village) {
  return "provinsi-" + std::to_string(village % kDistricts % kProvinces);
}

// One shape of grant, its officers, and their tokens old and new.
struct Shape {
  explicit Shape(const char* name) : name(name) {}

  const char* name;
  std::vector<std::string> officers;
  std::vector<std::string> tokens;      // issued now: the officer only
  std::vector<std::string> old_tokens;  // as before: the villages inside
  std::vector<std::string> probe;       // a village each officer may write
  std::size_t covered = 0;              // villages each covers
};

// The signed old-format token of `officer` for `villages`.
std::string old_token(lumbung::auth::SigningKeys& keys, const std::string& officer, Role role,
                      const Names& villages, int n) {
  const std::string key_id = check("current key", keys.current_key_id());
  lumbung::auth::Claims claims;
  char id[33];
  std::snprintf(id, sizeof id, "%032x", n);
  claims.token_id = id;
  claims.officer = officer;
  claims.issued_at = std::time(nullptr) - 60;
  claims.expires_at = claims.issued_at + 86400;
  claims.legacy = true;
  claims.role = role;
  claims.villages = villages;
  const std::string signed_text = lumbung::auth::signed_part(key_id, claims);
  return lumbung::auth::assemble_token(signed_text, check("sign", keys.sign(key_id, signed_text)));
}

// Microseconds per request: authenticate, the covered villages, one may_read.
double time_requests(lumbung::auth::TokenAuthority& authority, const Shape& shape,
                     const std::vector<std::string>& tokens,
                     const std::shared_ptr<const RegionMap>& regions, double seconds) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  std::size_t requests = 0;
  std::size_t covered = 0;
  const auto start = Clock::now();
  while (Clock::now() < end) {
    for (std::size_t i = 0; i < tokens.size() && i < 256; ++i) {
      const std::size_t k = (requests + i) % tokens.size();
      const std::string header = "Bearer " + tokens[k];
      Grant grant = check("authenticate " + shape.officers[k],
                          authority.authenticate(header, "device-" + shape.officers[k]));
      grant.regions = regions;
      if (!grant.all_villages()) covered += grant.covered_villages().size();
      if (!grant.may_write(shape.probe[k])) {
        std::fprintf(stderr, "grant_bench: %s may not write %s\n", shape.officers[k].c_str(),
                     shape.probe[k].c_str());
        std::exit(1);
      }
    }
    requests += std::min<std::size_t>(tokens.size(), 256);
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  if (shape.covered < kVillages && covered == 0) {
    std::fprintf(stderr, "grant_bench: %s covers no village\n", shape.name);
    std::exit(1);
  }
  return elapsed / static_cast<double>(requests) * 1e6;
}

// The first use of each token, which binds it to its device: not timed.
void bind_all(lumbung::auth::TokenAuthority& authority, const Shape& shape,
              const std::vector<std::string>& tokens) {
  for (std::size_t k = 0; k < tokens.size(); ++k) {
    check("bind " + shape.officers[k],
          authority.authenticate("Bearer " + tokens[k], "device-" + shape.officers[k]));
  }
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 2;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: grant_bench [--seconds S]\n");
      return 2;
    }
  }
  char pattern[] = "/tmp/grant_bench.XXXXXX";
  const char* made = mkdtemp(pattern);
  if (made == nullptr) return 1;
  const std::string dir = std::string(made) + "/data";

  auto regions = std::make_shared<RegionMap>();
  for (int v = 0; v < kVillages; ++v) {
    regions->set(village_id(v), lumbung::auth::Region{district_of(v), province_of(v)});
  }
  std::unique_ptr<lumbung::auth::TokenAuthority> authority =
      check("open", lumbung::auth::TokenAuthority::open(dir, nullptr));
  std::unique_ptr<lumbung::auth::SigningKeys> keys =
      check("keys", lumbung::auth::SigningKeys::open(dir + "/keys"));

  // 4,500 officers of 2 villages, 390 of a district, 90 of a province, 10 of
  // all and 10 supervisors of 2,000 villages named one by one.
  Shape shapes[] = {Shape("2 villages"), Shape("a district (50)"), Shape("a province (500)"),
                    Shape("all (10,000)"), Shape("2,000 by name")};
  const int counts[] = {4500, 390, 90, 10, 10};
  int n = 0;
  for (int s = 0; s < 5; ++s) {
    Shape& shape = shapes[s];
    for (int i = 0; i < counts[s]; ++i, ++n) {
      const std::string officer = "officer-" + std::to_string(n);
      const int first = (n * 2) % kVillages;
      std::vector<Selector> selectors;
      Names villages;
      switch (s) {
        case 0:
          selectors = {{SelectorKind::kVillage, village_id(first)},
                       {SelectorKind::kVillage, village_id(first + 1)}};
          villages = {village_id(first), village_id(first + 1)};
          break;
        case 1:
          selectors = {{SelectorKind::kDistrict, district_of(first)}};
          villages = *regions->villages_of_district(district_of(first));
          break;
        case 2:
          selectors = {{SelectorKind::kProvince, province_of(first)}};
          villages = *regions->villages_of_province(province_of(first));
          break;
        case 3:
          selectors = {{SelectorKind::kAll, ""}};
          break;
        default:
          for (int v = 0; v < 2000; ++v) {
            const std::string id = village_id((first + v * 5) % kVillages);
            selectors.push_back({SelectorKind::kVillage, id});
            villages.insert(id);
          }
          break;
      }
      const lumbung::Status granted = authority->grant(officer, std::nullopt, selectors);
      if (!granted.is_ok()) die("grant", granted);
      lumbung::auth::TokenRequest request;
      request.officer = officer;
      shape.officers.push_back(officer);
      shape.tokens.push_back(check("issue", authority->issue(request)).token);
      shape.old_tokens.push_back(old_token(*keys, officer, s == 3 ? Role::kAdmin : Role::kOfficer,
                                           villages, kOfficers + n));
      shape.probe.push_back(village_id(first));
      shape.covered = s == 3 ? kVillages : villages.size();
    }
  }
  std::printf(
      "grant_bench: %d villages in %d districts of %d provinces, %d officers, %.0f s a "
      "measurement\n",
      kVillages, kDistricts, kProvinces, n, seconds);
  std::printf("%-18s %8s %12s %14s %12s %14s %7s\n", "grant", "officers", "token bytes",
              "us/request", "old bytes", "old us/request", "ratio");
  for (const Shape& shape : shapes) {
    bind_all(*authority, shape, shape.tokens);
    const std::size_t old_bytes = shape.old_tokens.front().size();
    const bool old_fits = old_bytes + 64 <= kOldHeaderLimit;
    if (old_fits) bind_all(*authority, shape, shape.old_tokens);
    // Rounds that take turns, the best of each kept: what the work costs
    // when the machine's other load lets it.
    double now = 1e300;
    double before = 1e300;
    for (int round = 0; round < kRounds; ++round) {
      now =
          std::min(now, time_requests(*authority, shape, shape.tokens, regions, seconds / kRounds));
      if (old_fits) {
        before = std::min(
            before, time_requests(*authority, shape, shape.old_tokens, regions, seconds / kRounds));
      }
    }
    std::printf("%-18s %8zu %12zu %14.1f %12zu ", shape.name, shape.officers.size(),
                shape.tokens.front().size(), now, old_bytes);
    if (old_fits) {
      std::printf("%14.1f %7.2f\n", before, now / before);
    } else {
      std::printf("%14s %7s\n", "(too large)", "-");
    }
  }
  std::filesystem::remove_all(made);
  return 0;
}
