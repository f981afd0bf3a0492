// The file `lumbungd backup` writes and `lumbungd restore` reads
// (docs/decisions/0019-backup-file.md): a sealed file (server/sealed_file.hpp),
// one zstd frame, with zstd's content checksum, that unpacks to
//
//   "lumbung-backup\n"  15 bytes: the format's name
//   version             u32, 1
//   per file:           u32 name length (1 to 511), the name ("lumbung.db",
//                       "keys/current"), u64 size, the bytes
//   end mark            u32 0
//   SHA-256             32 bytes, of every byte before it
//
// Integers are big-endian. A name is one or two parts joined by '/', each of
// letters, digits, '.', '_' and '-', not starting with '.': no name can
// leave the directory it is unpacked into. Files have no mode: every one is
// private (0600, its directory 0700).
//
// Thread-safety: a BackupFileWriter is used by one thread at a time;
// read_backup_file is safe from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lumbung/status.hpp"

namespace lumbung::server {

class SealedFileWriter;

// Whether `name` may name a file in a backup file (see above).
bool is_backup_entry_name(std::string_view name);

class BackupFileWriter {
 public:
  // Starts the backup file `path`: created (or truncated) with mode 0600.
  static Result<std::unique_ptr<BackupFileWriter>> create(const std::string& path);
  ~BackupFileWriter();

  // Adds the contents of the file `source` under `name`. kInvalidArgument
  // for a name is_backup_entry_name() refuses; kIo when `source` changes
  // size while it is read.
  Status add(const std::string& name, const std::string& source);
  // Writes the end mark and the checksum, syncs the file and closes it.
  // REQUIRES: called once, last.
  Status finish();

 private:
  explicit BackupFileWriter(std::unique_ptr<SealedFileWriter> out);
  // Writes `bytes` and adds them to the checksum.
  Status put(std::string_view bytes);

  std::unique_ptr<SealedFileWriter> out_;
};

// Reads the backup file `path` to its end and checks it: the format's name
// and version, every name and size, the end mark, the SHA-256 and zstd's
// checksum. When `into` is not empty, also writes each file under that
// directory, which must exist, as new files (0600; directories 0700), each
// synced. Returns the names of the files in the order they come. kCorrupt
// for a file that is not a whole, intact backup file (cut short, damaged, or
// something else), kInvalidArgument for a version this code does not read.
// On failure, files already written under `into` stay for the caller to
// remove.
Result<std::vector<std::string>> read_backup_file(const std::string& path, const std::string& into);

}  // namespace lumbung::server
