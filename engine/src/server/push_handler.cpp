// POST /v1/push: exactly-once batches around merge_batch(), committed in
// groups by the CommitQueue.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/checksum.hpp"
#include "protocol/wire.hpp"
#include "server/push_merge.hpp"
#include "server/server_impl.hpp"

namespace lumbung::server {
namespace {

// The checks of a push request that come before any state is read.
Status check_push(const v1::PushRequest& push) {
  if (push.batch() == 0) {
    return Status(ErrorCode::kInvalidArgument, "push batches are numbered from 1, not 0");
  }
  std::set<std::uint32_t> ids;
  for (const v1::Change& change : push.changes()) {
    if (!ids.insert(change.id()).second) {
      return Status(ErrorCode::kProtocol, "batch " + std::to_string(push.batch()) + ": change id " +
                                              std::to_string(change.id()) + " appears twice");
    }
  }
  return Status::ok();
}

// What became of the push's changes, for its log line.
void note_outcomes(const v1::PushResponse& response, const std::set<std::string>& scopes,
                   RequestRecord& record) {
  for (const v1::ChangeOutcome& outcome : response.outcomes()) {
    switch (outcome.outcome()) {
      case v1::OUTCOME_APPLIED:
        ++record.applied;
        break;
      case v1::OUTCOME_SUPERSEDED:
        ++record.superseded;
        break;
      case v1::OUTCOME_REFUSED:
        ++record.refused;
        break;
      default:
        break;
    }
  }
  record.conflicts = response.conflicts_size();
  for (const v1::Conflict& conflict : response.conflicts()) {
    ++record.conflict_policies[conflict.policy()];
  }
  for (const std::string& scope : scopes) record.note_village(scope);
}

// The ids of the rows of `table` (the region table; may be null) that the
// push's changes name, whatever became of them.
std::vector<std::string> region_rows(const v1::PushRequest& push, const core::Table* table) {
  std::vector<std::string> rows;
  if (table == nullptr) return rows;
  for (const v1::Change& change : push.changes()) {
    const int index = static_cast<int>(change.table());
    if (index < push.tables_size() && push.tables(index).table() == table->name) {
      rows.push_back(change.row_id());
    }
  }
  return rows;
}

// The rows of the push's changes whose outcome is refused, and those whose
// outcome is not (docs/decisions/0025-fleet-view.md).
void outcome_rows(const v1::PushRequest& push, const v1::PushResponse& response,
                  std::vector<RowKey>* refused, std::vector<RowKey>* accepted) {
  std::map<std::uint32_t, const v1::Change*> changes;
  for (const v1::Change& change : push.changes()) changes.emplace(change.id(), &change);
  for (const v1::ChangeOutcome& outcome : response.outcomes()) {
    const auto found = changes.find(outcome.id());
    if (found == changes.end()) continue;
    const v1::Change& change = *found->second;
    const int index = static_cast<int>(change.table());
    RowKey row{index < push.tables_size() ? push.tables(index).table() : std::string(),
               change.row_id()};
    (outcome.outcome() == v1::OUTCOME_REFUSED ? refused : accepted)->push_back(std::move(row));
  }
}

}  // namespace

void SyncServer::Impl::handle_push(const HttpRequest& request, const Responder& respond,
                                   const std::shared_ptr<RequestRecord>& record) {
  // What the body fills in on the commit thread and the answer reads after.
  struct Push {
    v1::PushRequest request;
    auth::Grant grant;
    std::uint64_t request_digest = 0;
    v1::PushResponse response;
    CommittedChanges changes;  // its seq set when the batch gave out seqs
  };
  auto push = std::make_shared<Push>();
  Result<auth::Grant> grant = admit(request, &push->request, *record);
  Status status = grant.is_ok() ? check_push(push->request) : grant.status();
  if (!status.is_ok()) return respond(protocol::error_response(status));
  push->grant = std::move(grant).value();
  const v1::RequestHeader& header = push->request.header();
  // Written with the push's commit group.
  (void)store->note_sighting({.device_id = header.device_id(),
                              .officer = push->grant.officer,
                              .time_ms = clock->now_ms(),
                              .schema_version = header.schema_version(),
                              .app_version = header.app_version()});
  // A retry re-sends the same body bytes; a device restored from a backup may
  // reuse a number for new changes.
  push->request_digest = core::bytes_digest(request.body);
  const auto body = [this, push](WriteTransaction& txn) -> Status {
    const v1::PushRequest& request = push->request;
    const std::string& device_id = request.header().device_id();
    v1::PushResponse& response = push->response;
    response.set_epoch(epoch);
    // Its base seqs and batch number belong to another history of the
    // server's state: the device re-seeds first (docs/protocol.md, "Going
    // back in time").
    const std::string& device_epoch = request.header().epoch();
    if (!device_epoch.empty() && device_epoch != epoch) {
      response.set_batch(request.batch());
      return Status::ok();
    }
    txn.set_officer(push->grant.officer);
    Result<std::optional<DeviceBatch>> last = txn.device_batch(device_id);
    if (!last.is_ok()) return last.status();
    const std::uint64_t last_batch = *last ? (*last)->batch : 0;
    if (request.batch() == last_batch && (*last)->request_digest != push->request_digest) {
      return Status(ErrorCode::kStaleBatch,
                    "device '" + device_id + "': batch " + std::to_string(last_batch) +
                        " was already applied with other changes (a device restored from a "
                        "backup?); nothing of this one was applied");
    }
    if (request.batch() == last_batch) {  // a retry: the answer it did not get
      LUMBUNG_ASSIGN_OR_RETURN(const std::string answer, txn.device_answer(device_id));
      if (response.ParseFromString(answer)) {
        response.set_epoch(epoch);
        return Status::ok();
      }
      return Status(ErrorCode::kCorrupt, "store: the response to batch " +
                                             std::to_string(last_batch) + " of device '" +
                                             device_id + "' does not parse");
    }
    if (request.batch() < last_batch) {
      return Status(ErrorCode::kStaleBatch,
                    "device '" + device_id + "': batch " + std::to_string(request.batch()) +
                        " is older than its last applied batch " + std::to_string(last_batch));
    }
    LUMBUNG_ASSIGN_OR_RETURN(std::int64_t seq_before, txn.last_seq());
    LUMBUNG_RETURN_IF_ERROR(follow_stored_hlc(txn));
    response.set_batch(request.batch());
    const MergeClock merge_clock{.hlc = &hlc,
                                 .now_ms = clock->now_ms(),
                                 .max_skew_ms = options.max_clock_skew.count() * 1000};
    LUMBUNG_RETURN_IF_ERROR(merge_batch(schema, *judge, merge_clock, txn, push->grant, request,
                                        &response, &push->changes.scopes));
    const core::Hlc server_hlc = hlc.last();
    response.set_server_hlc(server_hlc.packed());
    LUMBUNG_RETURN_IF_ERROR(txn.set_meta(kHlcMetaKey, std::to_string(server_hlc.packed())));
    LUMBUNG_RETURN_IF_ERROR(txn.set_device_batch(device_id, {request.batch(), push->request_digest},
                                                 response.SerializeAsString()));
    std::vector<RowKey> refused;
    std::vector<RowKey> accepted;
    outcome_rows(request, response, &refused, &accepted);
    LUMBUNG_RETURN_IF_ERROR(txn.record_push({.device_id = device_id,
                                             .officer = push->grant.officer,
                                             .time_ms = merge_clock.now_ms,
                                             .schema_version = request.header().schema_version(),
                                             .app_version = request.header().app_version()},
                                            refused, accepted));
    LUMBUNG_ASSIGN_OR_RETURN(std::int64_t seq_after, txn.last_seq());
    if (seq_after > seq_before) {
      push->changes.seq = seq_after;
      push->changes.device_id = device_id;
    }
    return Status::ok();
  };
  // Answered on the commit thread, once the push's group is durable.
  commits.submit(body, [this, push, respond, record](const Status& committed) {
    if (!committed.is_ok()) return respond(protocol::error_response(committed));
    note_outcomes(push->response, push->changes.scopes, *record);
    if (push->changes.seq > 0) {
      push->changes.region_rows = region_rows(push->request, regions.table());
      const Status read = regions.refresh(*store, *push->changes.region_rows);
      if (!read.is_ok()) return respond(protocol::error_response(read));
    }
    respond(protocol::make_response(push->response));
    if (push->changes.seq > 0) wake_long_polls(push->changes);
  });
}

}  // namespace lumbung::server
