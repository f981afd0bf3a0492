#include "server/commit_feed.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <utility>
#include <vector>

#include "core/hex.hpp"
#include "pg/connection.hpp"
#include "server/log.hpp"

namespace lumbung::server {
namespace {

// The first line of a notice: its format, for a later version to change.
constexpr std::string_view kNoticeFormat = "lumbung-commit 1";

// Notices queued beyond this many, PostgreSQL being away, are merged into one.
constexpr std::size_t kMaxQueuedNotices = 256;

// The first wait before a reconnection attempt; it doubles up to
// CommitFeed::kMaxReconnectWait.
constexpr std::chrono::milliseconds kFirstReconnectWait{50};

// A field's text on one line: '\', newline and NUL escaped.
void append_escaped(std::string* out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\0':
        out->append("\\0");
        break;
      default:
        out->push_back(c);
    }
  }
}

std::optional<std::string> unescaped(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
      continue;
    }
    if (++i == text.size()) return std::nullopt;
    switch (text[i]) {
      case '\\':
        out.push_back('\\');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case '0':
        out.push_back('\0');
        break;
      default:
        return std::nullopt;
    }
  }
  return out;
}

void append_line(std::string* out, std::string_view key, std::string_view value) {
  out->push_back('\n');
  out->append(key);
  out->push_back(' ');
  append_escaped(out, value);
}

std::string encode(const CommitNotice& notice, bool name_scopes, bool name_regions) {
  std::string out(kNoticeFormat);
  append_line(&out, "from", notice.sender);
  append_line(&out, "seq", std::to_string(notice.changes.seq));
  append_line(&out, "hlc", std::to_string(notice.hlc));
  if (notice.changes.every_waiter || !name_scopes) {
    out.append("\nall");
  } else {
    if (!notice.changes.device_id.empty()) append_line(&out, "device", notice.changes.device_id);
    for (const std::string& scope : notice.changes.scopes) append_line(&out, "scope", scope);
  }
  if (!notice.changes.region_rows || !name_regions) {
    out.append("\nregions-unknown");
  } else {
    for (const std::string& row : *notice.changes.region_rows) append_line(&out, "region", row);
  }
  return out;
}

std::optional<std::int64_t> parse_int64(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// One notice for all of `notices`: every waiter woken, at the greatest seq.
CommitNotice merged(const std::deque<CommitNotice>& notices) {
  CommitNotice all;
  all.changes.every_waiter = true;
  all.changes.region_rows.emplace();
  for (const CommitNotice& notice : notices) {
    all.sender = notice.sender;
    all.changes.seq = std::max(all.changes.seq, notice.changes.seq);
    all.hlc = std::max(all.hlc, notice.hlc);
    if (!notice.changes.region_rows || !notice.changes.region_rows->empty()) {
      all.changes.region_rows.reset();
    }
  }
  return all;
}

Result<std::string> random_id() {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return Status(ErrorCode::kInternal, "commit feed: no random bytes for its id");
  }
  return core::to_hex(bytes, sizeof bytes);
}

}  // namespace

std::string encode_commit_notice(const CommitNotice& notice, std::size_t max_bytes) {
  std::string text = encode(notice, true, true);
  if (text.size() <= max_bytes) return text;
  text = encode(notice, false, true);  // the region rows matter more: grants read them
  if (text.size() <= max_bytes) return text;
  return encode(notice, false, false);
}

std::optional<CommitNotice> decode_commit_notice(std::string_view payload) {
  CommitNotice notice;
  notice.changes.region_rows.emplace();
  bool first = true;
  bool has_seq = false;
  while (!payload.empty() || first) {
    const std::size_t end = payload.find('\n');
    const std::string_view line = payload.substr(0, end);
    payload = end == std::string_view::npos ? std::string_view() : payload.substr(end + 1);
    if (first) {
      if (line != kNoticeFormat) return std::nullopt;
      first = false;
      continue;
    }
    const std::size_t space = line.find(' ');
    const std::string_view key = line.substr(0, space);
    std::optional<std::string> value =
        space == std::string_view::npos ? std::string() : unescaped(line.substr(space + 1));
    if (!value) return std::nullopt;
    if (key == "from") {
      notice.sender = std::move(*value);
    } else if (key == "seq" || key == "hlc") {
      const std::optional<std::int64_t> number = parse_int64(*value);
      if (!number) return std::nullopt;
      (key == "seq" ? notice.changes.seq : notice.hlc) = *number;
      has_seq = has_seq || key == "seq";
    } else if (key == "all") {
      notice.changes.every_waiter = true;
    } else if (key == "device") {
      notice.changes.device_id = std::move(*value);
    } else if (key == "scope") {
      notice.changes.scopes.insert(std::move(*value));
    } else if (key == "regions-unknown") {
      notice.changes.region_rows.reset();
    } else if (key == "region") {
      if (notice.changes.region_rows) notice.changes.region_rows->push_back(std::move(*value));
    }  // other keys: of a later version, which says what it needs by the others
  }
  if (!has_seq) return std::nullopt;
  return notice;
}

Result<std::unique_ptr<CommitFeed>> CommitFeed::open(const std::string& url, Callbacks callbacks,
                                                     const Logger* logger) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> listener, pg::Connection::open(url));
  LUMBUNG_RETURN_IF_ERROR(listener->listen(kCommitChannel));
  std::unique_ptr<CommitFeed> feed(
      new CommitFeed(url, std::move(callbacks), logger, std::move(listener)));
  LUMBUNG_ASSIGN_OR_RETURN(feed->id_, random_id());
  feed->listening_ = std::thread([feed = feed.get()] { feed->listen_loop(); });
  feed->publishing_ = std::thread([feed = feed.get()] { feed->publish_loop(); });
  return feed;
}

CommitFeed::CommitFeed(std::string url, Callbacks callbacks, const Logger* logger,
                       std::unique_ptr<pg::Connection> listener)
    : url_(std::move(url)),
      callbacks_(std::move(callbacks)),
      logger_(logger),
      listener_(std::move(listener)) {}

CommitFeed::~CommitFeed() { stop(); }

void CommitFeed::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (publishing_.joinable()) publishing_.join();
  if (listening_.joinable()) listening_.join();
}

void CommitFeed::publish(const CommittedChanges& changes, std::int64_t hlc) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;  // what was queued before is sent; later commits are not told
    queued_.push_back({.sender = id_, .changes = changes, .hlc = hlc});
    if (queued_.size() > kMaxQueuedNotices) {
      CommitNotice all = merged(queued_);
      queued_.clear();
      queued_.push_back(std::move(all));
    }
  }
  changed_.notify_all();
}

bool CommitFeed::pause(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  return !changed_.wait_for(lock, wait, [this] { return stopping_; });
}

void CommitFeed::log_event(std::string_view event, const Status& status) const {
  if (logger_ == nullptr) return;
  std::vector<LogField> fields = {{"channel", std::string(kCommitChannel)}};
  // The code only: a message may quote the server's address.
  if (!status.is_ok()) fields.push_back({"error", std::string(error_name(status.code()))});
  logger_->log(status.is_ok() ? LogLevel::kInfo : LogLevel::kWarn, event, fields);
}

void CommitFeed::listen_loop() {
  bool announce = true;  // the first listen, or one after a reconnection
  std::chrono::milliseconds wait = kFirstReconnectWait;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (announce) {
      const Status announced = callbacks_.on_listening();
      if (!announced.is_ok()) {
        // The store could not be read (PostgreSQL is starting): again later.
        if (!pause(wait)) return;
        wait = std::min(wait * 2, kMaxReconnectWait);
        continue;
      }
      announce = false;
      wait = kFirstReconnectWait;
    }
    Result<std::vector<pg::Notification>> got = listener_->wait_for_notification(kPollInterval);
    if (!got.is_ok()) {
      log_event("commit_feed_lost", got.status());
      for (;;) {
        if (!pause(wait)) return;
        wait = std::min(wait * 2, kMaxReconnectWait);
        if (listener_->reset().is_ok()) break;  // listens again on its channel
      }
      log_event("commit_feed_listening", Status::ok());
      announce = true;
      continue;
    }
    for (const pg::Notification& notification : *got) {
      if (notification.channel != kCommitChannel) continue;
      std::optional<CommitNotice> notice = decode_commit_notice(notification.payload);
      if (!notice) {  // a format this version does not read: assume the worst
        notice.emplace();
        notice->changes.every_waiter = true;
      } else if (notice->sender == id_) {
        continue;  // this daemon's own, told to its long polls at its commit
      }
      callbacks_.on_commit(*notice);
    }
  }
}

void CommitFeed::publish_loop() {
  std::chrono::milliseconds wait = kFirstReconnectWait;
  for (;;) {
    std::deque<CommitNotice> sending;
    bool stopping = false;
    {
      std::unique_lock lock(mu_);
      changed_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
      if (queued_.empty()) return;  // stopping, and everything sent
      sending.swap(queued_);
      stopping = stopping_;
    }
    Status sent;
    while (!sending.empty()) {
      if (!notifier_) {
        Result<std::unique_ptr<pg::Connection>> opened = pg::Connection::open(url_);
        if (!opened.is_ok()) {
          sent = opened.status();
          break;
        }
        notifier_ = std::move(opened).value();
      }
      sent = notifier_->notify(kCommitChannel, encode_commit_notice(sending.front()));
      if (!sent.is_ok()) {
        notifier_.reset();  // opened anew on the next attempt
        break;
      }
      sending.pop_front();
    }
    if (sent.is_ok()) {
      wait = kFirstReconnectWait;
      continue;
    }
    if (stopping) return;  // PostgreSQL is away as the daemon stops: the hints are lost
    log_event("commit_feed_notify_failed", sent);
    {
      // What was not sent goes first, as one notice: by the time it is, the
      // others' waiters may have missed more than these.
      std::lock_guard lock(mu_);
      sending.insert(sending.end(), queued_.begin(), queued_.end());
      queued_.clear();
      queued_.push_back(merged(sending));
    }
    if (!pause(wait)) {
      // Stopping: one last attempt happens in the next round.
      std::lock_guard lock(mu_);
      if (queued_.empty()) return;
    }
    wait = std::min(wait * 2, kMaxReconnectWait);
  }
}

}  // namespace lumbung::server
