// A sealed file: one zstd frame, with zstd's content checksum, that unpacks to
//
//   magic      the format's name, ending in '\n' ("lumbung-backup\n")
//   version    u32
//   ...        the format's records
//   SHA-256    32 bytes, of every byte before it
//
// Integers are big-endian. What `lumbungd backup` (server/backup_file.hpp)
// and `lumbungd audit --archive-before` (server/audit_archive.hpp) write:
// streamed both ways, so that memory does not follow the file's size, and a
// file cut short, damaged or of something else is refused as a whole.
//
// Thread-safety: a writer or reader is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "lumbung/status.hpp"

namespace lumbung::snapshot {
class ZstdFileReader;
class ZstdFileWriter;
}  // namespace lumbung::snapshot

namespace lumbung::server {

class Sha256;

template <typename Int>
std::string big_endian(Int value) {
  std::string bytes(sizeof(Int), '\0');
  for (std::size_t i = 0; i < sizeof(Int); ++i) {
    bytes[sizeof(Int) - 1 - i] = static_cast<char>(value >> (8 * i));
  }
  return bytes;
}

template <typename Int>
Int from_big_endian(const char* bytes) {
  Int value = 0;
  for (std::size_t i = 0; i < sizeof(Int); ++i) {
    value = static_cast<Int>(value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return value;
}

class SealedFileWriter {
 public:
  // Starts `path` (created or truncated, mode 0600) with `magic` and `version`.
  static Result<std::unique_ptr<SealedFileWriter>> create(const std::string& path,
                                                          std::string_view magic,
                                                          std::uint32_t version);
  ~SealedFileWriter();

  // Writes `bytes` and adds them to the checksum.
  Status put(std::string_view bytes);
  // Writes the checksum, syncs the file to disk and closes it.
  // REQUIRES: called once, last.
  Status finish();

 private:
  SealedFileWriter(std::unique_ptr<snapshot::ZstdFileWriter> out);
  std::unique_ptr<snapshot::ZstdFileWriter> out_;
  std::unique_ptr<Sha256> sha_;
};

class SealedFileReader {
 public:
  // Opens `path` and reads its magic and version. `kind` names the format in
  // errors ("lumbungd backup"): kCorrupt "'PATH' is not a whole, intact KIND:
  // WHY" for a file that is not one, kInvalidArgument for another version.
  static Result<std::unique_ptr<SealedFileReader>> open(const std::string& path,
                                                        std::string_view magic,
                                                        std::uint32_t version, std::string kind);
  ~SealedFileReader();

  // Exactly `size` bytes into `data`; kCorrupt "... ends inside WHAT" when
  // the file ends first.
  Status read(char* data, std::size_t size, std::string_view what, bool hashed = true);

  template <typename Int>
  Result<Int> read_int(std::string_view what) {
    char bytes[sizeof(Int)];
    LUMBUNG_RETURN_IF_ERROR(read(bytes, sizeof bytes, what));
    return from_big_endian<Int>(bytes);
  }

  // Reads the stored checksum and compares; then the file must end.
  Status check_end();

  // kCorrupt naming the file: "'PATH' is not a whole, intact KIND: WHY".
  Status refused(const std::string& why) const;
  // The unpacking's error, which names the file, as the reason.
  Status refused(const Status& unpacking) const;

 private:
  SealedFileReader(std::unique_ptr<snapshot::ZstdFileReader> in, std::string path,
                   std::string kind);
  std::unique_ptr<snapshot::ZstdFileReader> in_;
  const std::string path_;
  const std::string kind_;
  std::unique_ptr<Sha256> sha_;
};

}  // namespace lumbung::server
