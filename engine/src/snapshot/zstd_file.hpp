// Whole files through zstd, streamed in fixed-size blocks so that memory does
// not follow the file's size: how a snapshot (docs/protocol.md, "Snapshot")
// is packed by the daemon and unpacked by a device, and how a backup
// (`lumbungd backup`) is written and read.
//
// Thread-safety: the free functions are safe from any thread; a writer or
// reader object is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lumbung/status.hpp"

namespace lumbung::snapshot {

// Writes `from` compressed at `level` to `to` (created or truncated, mode
// 0600), with zstd's content checksum, so that a damaged copy fails to
// unpack.
Status compress_file(const std::string& from, const std::string& to, int level);

// Writes what `from` unpacks to into `to` (created or truncated). kCorrupt
// when `from` is not one whole zstd frame with a matching checksum, or
// unpacks to more than `max_bytes`; its window may be at most 8 MiB (what
// levels up to 19 use), which bounds the memory it takes.
Status decompress_file(const std::string& from, const std::string& to, std::uint64_t max_bytes);

// One zstd frame written piece by piece into a file, with zstd's content
// checksum, as compress_file writes it.
class ZstdFileWriter {
 public:
  // Creates `path` (or truncates it) with mode 0600.
  static Result<std::unique_ptr<ZstdFileWriter>> create(const std::string& path, int level);
  ~ZstdFileWriter();

  Status write(std::string_view bytes);
  // Ends the frame, writes it out, syncs the file to disk and closes it.
  // REQUIRES: called once, last.
  Status finish();

 private:
  struct State;
  explicit ZstdFileWriter(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// What one whole zstd frame in a file unpacks to, read piece by piece, with
// the checks decompress_file makes.
class ZstdFileReader {
 public:
  static Result<std::unique_ptr<ZstdFileReader>> open(const std::string& path);
  ~ZstdFileReader();

  // Fills `data` with up to `size` unpacked bytes and returns how many; fewer
  // than `size` only at the end of the frame, 0 after it. kCorrupt when the
  // file does not unpack, its checksum does not match, it is cut short or
  // bytes follow the frame.
  Result<std::size_t> read(char* data, std::size_t size);

 private:
  struct State;
  explicit ZstdFileReader(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace lumbung::snapshot
