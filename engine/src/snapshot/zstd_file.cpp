#include "snapshot/zstd_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/errno_status.hpp"

namespace lumbung::snapshot {
namespace {

constexpr int kMaxWindowLog = 23;  // 8 MiB

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

Result<File> open_file(const std::string& path, const char* mode) {
  File file(std::fopen(path.c_str(), mode));
  if (!file) return core::errno_status("open", path, errno);
  return file;
}

Status write_all(std::FILE* file, const void* data, std::size_t size, const std::string& path) {
  if (size > 0 && std::fwrite(data, 1, size, file) != size)
    return core::errno_status("write", path, errno);
  return Status::ok();
}

Status close_written(File file, const std::string& path) {
  if (std::fclose(file.release()) != 0) return core::errno_status("write", path, errno);
  return Status::ok();
}

Status corrupt(const std::string& path, const std::string& problem) {
  return Status(ErrorCode::kCorrupt, "'" + path + "' " + problem);
}

}  // namespace

struct ZstdFileWriter::State {
  File file;
  std::string path;
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx{ZSTD_createCCtx(), &ZSTD_freeCCtx};
  std::vector<char> output = std::vector<char>(ZSTD_CStreamOutSize());

  // Feeds `source` to zstd and writes what comes out; with ZSTD_e_end, until
  // the frame is complete.
  Status compress(ZSTD_inBuffer& source, ZSTD_EndDirective mode) {
    for (;;) {
      ZSTD_outBuffer sink{output.data(), output.size(), 0};
      const std::size_t left = ZSTD_compressStream2(cctx.get(), &sink, &source, mode);
      if (ZSTD_isError(left)) {
        return Status(ErrorCode::kInternal,
                      std::string("zstd cannot compress: ") + ZSTD_getErrorName(left));
      }
      LUMBUNG_RETURN_IF_ERROR(write_all(file.get(), output.data(), sink.pos, path));
      if (mode == ZSTD_e_end ? left == 0 : source.pos == source.size) return Status::ok();
    }
  }
};

ZstdFileWriter::ZstdFileWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}

ZstdFileWriter::~ZstdFileWriter() = default;

Result<std::unique_ptr<ZstdFileWriter>> ZstdFileWriter::create(const std::string& path, int level) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return core::errno_status("create", path, errno);
  auto state = std::make_unique<State>();
  state->file.reset(::fdopen(fd, "wb"));
  if (!state->file) {
    const Status error = core::errno_status("open", path, errno);
    ::close(fd);
    return error;
  }
  // An older file keeps its mode when truncated.
  if (::fchmod(fd, 0600) != 0) return core::errno_status("restrict to its owner", path, errno);
  state->path = path;
  ZSTD_CCtx_setParameter(state->cctx.get(), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(state->cctx.get(), ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(state->cctx.get(), ZSTD_c_windowLog, kMaxWindowLog);
  return std::unique_ptr<ZstdFileWriter>(new ZstdFileWriter(std::move(state)));
}

Status ZstdFileWriter::write(std::string_view bytes) {
  ZSTD_inBuffer source{bytes.data(), bytes.size(), 0};
  return state_->compress(source, ZSTD_e_continue);
}

Status ZstdFileWriter::finish() {
  ZSTD_inBuffer nothing{nullptr, 0, 0};
  LUMBUNG_RETURN_IF_ERROR(state_->compress(nothing, ZSTD_e_end));
  if (std::fflush(state_->file.get()) != 0 || ::fsync(::fileno(state_->file.get())) != 0) {
    return core::errno_status("write", state_->path, errno);
  }
  return close_written(std::move(state_->file), state_->path);
}

struct ZstdFileReader::State {
  File file;
  std::string path;
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx{ZSTD_createDCtx(), &ZSTD_freeDCtx};
  std::vector<char> input = std::vector<char>(ZSTD_DStreamInSize());
  ZSTD_inBuffer source{input.data(), 0, 0};
  std::size_t frame_left = 1;  // 0 once the whole frame has been unpacked
  bool output_held = false;    // zstd may hold unpacked bytes back for the next call

  // Reads the next block of the file into `source`; false at end of file.
  Result<bool> refill() {
    const std::size_t got = std::fread(input.data(), 1, input.size(), file.get());
    if (got < input.size() && std::ferror(file.get())) {
      return core::errno_status("read", path, errno);
    }
    source = {input.data(), got, 0};
    return got > 0;
  }
};

ZstdFileReader::ZstdFileReader(std::unique_ptr<State> state) : state_(std::move(state)) {}

ZstdFileReader::~ZstdFileReader() = default;

Result<std::unique_ptr<ZstdFileReader>> ZstdFileReader::open(const std::string& path) {
  LUMBUNG_ASSIGN_OR_RETURN(File file, open_file(path, "rb"));
  auto state = std::make_unique<State>();
  state->file = std::move(file);
  state->path = path;
  ZSTD_DCtx_setParameter(state->dctx.get(), ZSTD_d_windowLogMax, kMaxWindowLog);
  return std::unique_ptr<ZstdFileReader>(new ZstdFileReader(std::move(state)));
}

Result<std::size_t> ZstdFileReader::read(char* data, std::size_t size) {
  State& s = *state_;
  ZSTD_outBuffer sink{data, size, 0};
  while (sink.pos < sink.size && s.frame_left != 0) {
    if (s.source.pos == s.source.size && !s.output_held) {
      LUMBUNG_ASSIGN_OR_RETURN(const bool more, s.refill());
      if (!more) return corrupt(s.path, "is cut short");
    }
    s.frame_left = ZSTD_decompressStream(s.dctx.get(), &sink, &s.source);
    if (ZSTD_isError(s.frame_left)) {
      return corrupt(s.path, std::string("does not unpack: ") + ZSTD_getErrorName(s.frame_left));
    }
    s.output_held = sink.pos == sink.size;
  }
  if (s.frame_left == 0 && s.source.pos == s.source.size) {
    LUMBUNG_RETURN_IF_ERROR(s.refill().status());
  }
  if (s.frame_left == 0 && s.source.pos < s.source.size) {
    return corrupt(s.path, "has bytes after its zstd frame");
  }
  return sink.pos;
}

Status compress_file(const std::string& from, const std::string& to, int level) {
  LUMBUNG_ASSIGN_OR_RETURN(File in, open_file(from, "rb"));
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<ZstdFileWriter> out, ZstdFileWriter::create(to, level));
  std::vector<char> input(ZSTD_CStreamInSize());
  for (;;) {
    const std::size_t got = std::fread(input.data(), 1, input.size(), in.get());
    if (got < input.size() && std::ferror(in.get())) return core::errno_status("read", from, errno);
    LUMBUNG_RETURN_IF_ERROR(out->write(std::string_view(input.data(), got)));
    if (got < input.size()) break;
  }
  return out->finish();
}

Status decompress_file(const std::string& from, const std::string& to, std::uint64_t max_bytes) {
  LUMBUNG_ASSIGN_OR_RETURN(std::unique_ptr<ZstdFileReader> in, ZstdFileReader::open(from));
  LUMBUNG_ASSIGN_OR_RETURN(File out, open_file(to, "wb"));
  std::vector<char> output(ZSTD_DStreamOutSize());
  std::uint64_t written = 0;
  for (;;) {
    LUMBUNG_ASSIGN_OR_RETURN(const std::size_t got, in->read(output.data(), output.size()));
    if (got == 0) break;
    written += got;
    if (written > max_bytes) {
      return corrupt(from, "unpacks to more than " + std::to_string(max_bytes) + " bytes");
    }
    LUMBUNG_RETURN_IF_ERROR(write_all(out.get(), output.data(), got, to));
  }
  return close_written(std::move(out), to);
}

}  // namespace lumbung::snapshot
