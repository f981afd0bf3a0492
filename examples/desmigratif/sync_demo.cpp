// The main job of the demo: three field officers of Desa Sukamaju work offline
// on their phones, then sync with a real lumbungd over TLS and end with
// identical data; an officer of another village shows that data does not
// cross; a supervisor settles the conflict that needs a person.
//
//   sync_demo --server https://127.0.0.1:PORT --ca-file CA.pem --tokens FILE --dir DIR
//
// FILE holds one "NAME TOKEN" line per phone (sri, ani, budi and rina of
// Sukamaju, rina the supervisor; wati of Karangmulya), as `lumbungd token`
// issued them. Each phone is a Replica file in DIR. The program tells in plain
// words what happens, writes each phone's dump to DIR/<name>.json for the
// caller to compare with `lumbungd dump --village`, and exits 1 when the
// phones of Sukamaju differ. It uses only the public C++ API: read it as a
// model of an app.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lumbung/replica.hpp"

namespace {

using lumbung::Result;
using lumbung::Row;
using lumbung::Status;
using lumbung::Value;

constexpr const char* kVillage = "0190f1c2-7a00-7000-8000-000000000001";       // Sukamaju
constexpr const char* kOtherVillage = "0190f1c2-7a00-7000-8000-000000000002";  // Karangmulya
constexpr const char* kNow = "2026-11-28T08:00:00Z";

[[noreturn]] void die(const std::string& what, const Status& status) {
  std::fprintf(stderr, "sync_demo: %s: %s\n", what.c_str(), status.to_string().c_str());
  std::exit(1);
}

void check(const std::string& what, const Status& status) {
  if (!status.is_ok()) die(what, status);
}

template <typename T>
T check(const std::string& what, Result<T> result) {
  if (!result.is_ok()) die(what, result.status());
  return std::move(result).value();
}

void say(const std::string& text) { std::printf("%s\n", text.c_str()); }

// A transport that loses the answer to the first push: the server applies the
// batch, but the phone never hears back, as when the 2G link drops at the
// worst moment.
class DroppingTransport : public lumbung::Transport {
 public:
  explicit DroppingTransport(std::shared_ptr<lumbung::Transport> inner)
      : inner_(std::move(inner)) {}
  Result<lumbung::HttpResponse> exchange(const lumbung::HttpRequest& request) override {
    Result<lumbung::HttpResponse> response = inner_->exchange(request);
    if (request.target == "/v1/push" && !dropped_) {
      dropped_ = true;
      return Status(lumbung::ErrorCode::kNetwork, "the link dropped before the answer came");
    }
    return response;
  }

 private:
  std::shared_ptr<lumbung::Transport> inner_;
  bool dropped_ = false;
};

struct Officer {
  std::string name;
  std::unique_ptr<lumbung::Replica> phone;
};

// Where the daemon is and how to trust it, and each phone's token.
struct Setup {
  std::string server;
  lumbung::TlsOptions tls;
  std::map<std::string, std::string> tokens;  // name -> token
};

Officer open_phone(const std::string& dir, const std::string& name, const Setup& setup) {
  const auto token = setup.tokens.find(name);
  if (token == setup.tokens.end()) {
    die("tokens", Status(lumbung::ErrorCode::kInvalidArgument, "no token for " + name));
  }
  lumbung::ReplicaOptions options;
  options.path = dir + "/" + name + ".db";
  options.device_id = "phone-" + name;
  options.server_url = setup.server;
  options.token = token->second;
  options.tls = setup.tls;
  return {name, check("open " + options.path, lumbung::Replica::open(options))};
}

std::map<std::string, std::string> read_tokens(const std::string& path) {
  std::ifstream in(path);
  if (!in) die("tokens", Status(lumbung::ErrorCode::kNotFound, "cannot read " + path));
  std::map<std::string, std::string> tokens;
  std::string name, token;
  while (in >> name >> token) tokens[name] = token;
  return tokens;
}

// The rows of `table` in `village` on the officer's phone.
std::size_t count_rows(Officer& officer, const char* table, const char* village) {
  return check("query", officer.phone->query(
                            std::string("SELECT id FROM ") + table + " WHERE village_id = ?",
                            {Value(village)}))
      .size();
}

std::string words(const lumbung::SyncSummary& s) {
  return "pushed " + std::to_string(s.pushed) + " (" + std::to_string(s.applied) + " applied, " +
         std::to_string(s.superseded) + " outvoted, " + std::to_string(s.refused) +
         " refused), pulled " + std::to_string(s.pulled) + " rows, " + std::to_string(s.conflicts) +
         " conflicts, " + std::to_string(s.bytes_sent) + " bytes up, " +
         std::to_string(s.bytes_received) + " bytes down";
}

lumbung::SyncSummary sync(Officer& officer, lumbung::SyncOptions options = {}) {
  lumbung::SyncSummary summary = check(officer.name + " syncs", officer.phone->sync(options));
  say("  " + officer.name + " syncs: " + words(summary));
  return summary;
}

std::string text_of(const Value& value) {
  if (value.is_null()) return "(empty)";
  if (value.type() == lumbung::ValueType::kText) return "'" + value.as_text() + "'";
  if (value.type() == lumbung::ValueType::kInteger) return std::to_string(value.as_integer());
  return "(a value)";
}

std::string outcome_words(const std::string& outcome) {
  if (outcome == "pending_review") return "the server kept its value; a supervisor must review";
  if (outcome == "server_kept") return "the server's side stays";
  if (outcome == "device_applied") return "the later change wins";
  return outcome;
}

Value cell(Officer& officer, const char* table, const std::string& id, const char* column) {
  std::optional<Row> row = check("read", officer.phone->get(table, id));
  if (!row) return Value();
  return row->at(column);
}

}  // namespace

int main(int argc, char** argv) {
  Setup setup;
  std::string dir, tokens;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--server") setup.server = argv[i + 1];
    if (flag == "--ca-file") setup.tls.ca_file = argv[i + 1];
    if (flag == "--tokens") tokens = argv[i + 1];
    if (flag == "--dir") dir = argv[i + 1];
  }
  if (setup.server.empty() || dir.empty() || tokens.empty()) {
    std::fprintf(stderr,
                 "usage: sync_demo --server URL [--ca-file FILE] --tokens FILE --dir DIR\n");
    return 2;
  }
  setup.tokens = read_tokens(tokens);

  std::vector<Officer> officers;
  officers.reserve(4);  // rina joins later; the references below stay valid
  for (const char* name : {"sri", "ani", "budi"}) officers.push_back(open_phone(dir, name, setup));
  Officer& sri = officers[0];
  Officer& ani = officers[1];
  Officer& budi = officers[2];

  say("\n1. Officer Sri, offline at Blok Karang, registers the household of Tarsono.");
  check("village", sri.phone->insert("village", {{"id", Value(kVillage)},
                                                 {"village_id", Value(kVillage)},
                                                 {"kode_wilayah", Value("3212140007")},
                                                 {"name", Value("Sukamaju")},
                                                 {"kecamatan", Value("Juntinyuat")},
                                                 {"kabupaten", Value("Indramayu")},
                                                 {"provinsi", Value("Jawa Barat")},
                                                 {"cohort_year", Value(std::int64_t{2017})}}));
  const std::string household =
      check("household", sri.phone->insert_new("household", {{"village_id", Value(kVillage)},
                                                             {"no_kk", Value("3212141203050017")},
                                                             {"head_name", Value("Tarsono")},
                                                             {"created_by", Value("sri")},
                                                             {"created_at", Value(kNow)}}));
  auto member = [&](const char* name, const char* relation, const char* sex) {
    return check(std::string("person ") + name,
                 sri.phone->insert_new("person", {{"village_id", Value(kVillage)},
                                                  {"household_id", Value(household)},
                                                  {"full_name", Value(name)},
                                                  {"relation", Value(relation)},
                                                  {"sex", Value(sex)},
                                                  {"created_by", Value("sri")},
                                                  {"created_at", Value(kNow)}}));
  };
  const std::string tarsono = member("Tarsono", "KEPALA", "L");
  const std::string warsih = member("Warsih", "ISTRI", "P");
  const std::string dewi = member("Dewi Lestari", "ANAK", "P");
  member("Agus", "ANAK", "L");
  say("  household " + household + " with 4 members; " +
      std::to_string(check("status", sri.phone->status()).pending_changes) +
      " changes wait on her phone.");

  say("\n2. In town, every phone syncs: Sri's records reach the server and the others.");
  for (Officer& officer : officers) sync(officer);

  say("\n3. Offline again, the officers edit the same family:");
  check("edit", ani.phone->update("person", tarsono, {{"phone", Value("+6281324567801")}}));
  say("  Ani records Tarsono's phone number.");
  check("edit", budi.phone->update("person", tarsono, {{"education", Value("SMP")}}));
  say("  Budi records Tarsono's education (another field of the same person).");
  check("edit", ani.phone->update("person", warsih, {{"migrant_status", Value("AKTIF")}}));
  say("  Ani marks Warsih as working abroad (AKTIF).");
  check("edit", budi.phone->update("person", warsih, {{"migrant_status", Value("PURNA")}}));
  say("  Budi marks Warsih as returned (PURNA): the same status field, a manual-review field.");
  check("delete", sri.phone->remove("person", dewi));
  say("  Sri deletes Dewi's record (registered twice by mistake).");
  check("edit", budi.phone->update("person", dewi, {{"school_status", Value("SEKOLAH")}}));
  say("  Budi, not knowing, records Dewi's schooling.");

  say("\n4. They sync. Budi's link drops after his push reaches the server.");
  sync(ani);
  sync(sri);
  lumbung::SyncOptions flaky;
  lumbung::HttpTransportOptions http;
  http.tls = setup.tls;
  flaky.transport = std::make_shared<DroppingTransport>(
      check("transport", lumbung::make_http_transport(setup.server, http)));
  flaky.max_attempts = 1;  // give up at once, as a phone that lost signal does
  Result<lumbung::SyncSummary> interrupted = budi.phone->sync(flaky);
  if (interrupted.is_ok())
    die("budi's interrupted sync", Status(lumbung::ErrorCode::kInternal, "did not fail"));
  say("  budi's sync is interrupted: " + interrupted.status().to_string());
  say("  budi still has " + std::to_string(check("status", budi.phone->status()).pending_changes) +
      " changes waiting; he syncs again when the signal returns:");
  sync(budi);
  say("\n5. A last round, so that every phone hears every outcome:");
  for (Officer& officer : officers) sync(officer);

  say("\n6. What happened:");
  say("  Tarsono's phone (Ani's edit): " + text_of(cell(sri, "person", tarsono, "phone")) +
      "; his education (Budi's edit): " + text_of(cell(sri, "person", tarsono, "education")) +
      ". Both edits survive.");
  say("  Warsih's status is " + text_of(cell(sri, "person", warsih, "migrant_status")) +
      " on every phone.");
  say(std::string("  Dewi's record is ") +
      (cell(sri, "person", dewi, "id").is_null() ? "deleted" : "present") + " on every phone.");
  std::optional<lumbung::ConflictRecord> review;
  for (const lumbung::ConflictRecord& c : check("conflicts", budi.phone->conflicts())) {
    say("  conflict " + std::to_string(c.id) + " on " + c.table + "." +
        (c.column.empty() ? std::string("(row)") : c.column) + " (" + c.policy + "): server had " +
        text_of(c.server_value) + " from " + c.server_device + ", " + c.device_id + " sent " +
        text_of(c.device_value) + " -> " + outcome_words(c.outcome));
    if (c.outcome == "pending_review") review = c;
  }
  if (!review) die("review", Status(lumbung::ErrorCode::kInternal, "no conflict awaits review"));

  say("\n7. Rina, the village's supervisor, reviews it. She phones the family: Warsih has");
  say("   come home. She keeps Budi's value.");
  Officer rina = open_phone(dir, "rina", setup);
  sync(rina);
  const lumbung::ConflictRecord resolved =
      check("resolve", rina.phone->resolve_conflict(
                           review->id, {lumbung::ConflictResolution::Kind::kKeepDevice, Value()}));
  say("  conflict " + std::to_string(resolved.id) + " is now " + resolved.outcome + ".");
  Result<lumbung::ConflictRecord> refused = ani.phone->resolve_conflict(
      review->id, {lumbung::ConflictResolution::Kind::kKeepServer, Value()});
  say("  Ani, an officer, may not resolve conflicts: " +
      (refused.is_ok() ? std::string("ACCEPTED (wrong)") : refused.status().to_string()));
  if (refused.is_ok()) return 1;
  for (Officer& officer : officers) sync(officer);
  sync(rina);
  say("  Warsih's status is now " + text_of(cell(ani, "person", warsih, "migrant_status")) +
      " on every phone.");

  say("\n8. Wati works in another village, Karangmulya, with her own token.");
  Officer wati = open_phone(dir, "wati", setup);
  check("household", wati.phone->insert_new("household", {{"village_id", Value(kOtherVillage)},
                                                          {"no_kk", Value("3212141503080021")},
                                                          {"head_name", Value("Casmadi")},
                                                          {"created_by", Value("wati")},
                                                          {"created_at", Value(kNow)}}));
  const std::string mistake =
      check("household", wati.phone->insert_new("household", {{"village_id", Value(kVillage)},
                                                              {"head_name", Value("Someone")},
                                                              {"created_by", Value("wati")},
                                                              {"created_at", Value(kNow)}}));
  say("  She registers a household of Karangmulya, and by mistake one in Sukamaju.");
  const lumbung::SyncSummary wati_sync = sync(wati);
  for (const lumbung::RefusedChange& r : check("refused", wati.phone->refused_changes())) {
    say("  refused: " + r.table + " " + r.row_id + ": " + r.reason + " (" + r.message + ")");
  }
  sync(sri);
  const std::size_t seen_by_wati = count_rows(wati, "person", kVillage);
  const std::size_t seen_by_sri = count_rows(sri, "household", kOtherVillage);
  say("  Wati's phone holds " + std::to_string(seen_by_wati) + " of Sukamaju's persons; Sri's " +
      std::to_string(seen_by_sri) + " of Karangmulya's households.");
  if (wati_sync.refused != 1 || seen_by_wati != 0 || seen_by_sri != 0) return 1;
  check("delete", wati.phone->remove("household", mistake));
  say("  Wati deletes her mistaken record; the refusal is settled with it:");
  sync(wati);

  say("\n9. Every phone of Sukamaju must now hold exactly the server's data.");
  officers.push_back(std::move(rina));
  const std::string reference = check("dump", sri.phone->dump_json());
  bool same = true;
  for (Officer& officer : officers) {
    const std::string dump = check("dump", officer.phone->dump_json());
    std::ofstream(dir + "/" + officer.name + ".json") << dump << "\n";
    same = same && dump == reference;
  }
  std::ofstream(dir + "/wati.json") << check("dump", wati.phone->dump_json()) << "\n";
  say(same ? "  The four phones of Sukamaju are identical." : "  The phones DIFFER.");
  return same ? 0 : 1;
}
