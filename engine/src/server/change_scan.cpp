#include "server/change_scan.hpp"

#include <algorithm>
#include <queue>

namespace lumbung::server {

Status merge_change_sources(const std::vector<std::unique_ptr<ChangeSource>>& sources,
                            const std::function<bool(const ChangeItem&)>& visit) {
  const auto later = [](const ChangeSource* a, const ChangeSource* b) {
    return a->item().seq > b->item().seq;
  };
  std::priority_queue<ChangeSource*, std::vector<ChangeSource*>, decltype(later)> pending(later);
  for (const std::unique_ptr<ChangeSource>& source : sources) {
    LUMBUNG_RETURN_IF_ERROR(source->advance());
    if (!source->done()) pending.push(source.get());
  }
  while (!pending.empty()) {
    ChangeSource* next = pending.top();
    if (!visit(next->item())) return Status::ok();
    pending.pop();
    LUMBUNG_RETURN_IF_ERROR(next->advance());
    if (!next->done()) pending.push(next);
  }
  return Status::ok();
}

std::int64_t end_of_row_run(const ChangeItem& item) {
  std::vector<std::int64_t> seqs;
  seqs.reserve(item.cells.size());
  for (const StoredCell& cell : item.cells) seqs.push_back(cell.cell.version.seq);
  std::sort(seqs.begin(), seqs.end());
  std::int64_t last = item.seq;
  while (std::binary_search(seqs.begin(), seqs.end(), last + 1)) ++last;
  return last;
}

}  // namespace lumbung::server
