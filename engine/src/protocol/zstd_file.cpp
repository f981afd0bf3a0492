#include "protocol/zstd_file.hpp"

#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "core/errno_status.hpp"

namespace lumbung::protocol {
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

}  // namespace

Status compress_file(const std::string& from, const std::string& to, int level) {
  Result<File> in = open_file(from, "rb");
  if (!in.is_ok()) return in.status();
  Result<File> out = open_file(to, "wb");
  if (!out.is_ok()) return out.status();
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), &ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_windowLog, kMaxWindowLog);
  std::vector<char> input(ZSTD_CStreamInSize());
  std::vector<char> output(ZSTD_CStreamOutSize());
  for (;;) {
    const std::size_t got = std::fread(input.data(), 1, input.size(), in->get());
    if (got < input.size() && std::ferror(in->get()))
      return core::errno_status("read", from, errno);
    const bool last = got < input.size();
    ZSTD_inBuffer source{input.data(), got, 0};
    for (;;) {
      ZSTD_outBuffer sink{output.data(), output.size(), 0};
      const std::size_t left =
          ZSTD_compressStream2(cctx.get(), &sink, &source, last ? ZSTD_e_end : ZSTD_e_continue);
      if (ZSTD_isError(left)) {
        return Status(ErrorCode::kInternal,
                      std::string("zstd cannot compress: ") + ZSTD_getErrorName(left));
      }
      LUMBUNG_RETURN_IF_ERROR(write_all(out->get(), output.data(), sink.pos, to));
      if (last ? left == 0 : source.pos == source.size) break;
    }
    if (last) break;
  }
  return close_written(std::move(out).value(), to);
}

Status decompress_file(const std::string& from, const std::string& to, std::uint64_t max_bytes) {
  Result<File> in = open_file(from, "rb");
  if (!in.is_ok()) return in.status();
  Result<File> out = open_file(to, "wb");
  if (!out.is_ok()) return out.status();
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), &ZSTD_freeDCtx);
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, kMaxWindowLog);
  std::vector<char> input(ZSTD_DStreamInSize());
  std::vector<char> output(ZSTD_DStreamOutSize());
  std::uint64_t written = 0;
  std::size_t frame_left = 1;  // 0 once a whole frame has been read
  for (;;) {
    const std::size_t got = std::fread(input.data(), 1, input.size(), in->get());
    if (got < input.size() && std::ferror(in->get()))
      return core::errno_status("read", from, errno);
    if (got == 0) break;
    if (frame_left == 0) {
      return Status(ErrorCode::kCorrupt, "'" + from + "' has bytes after its zstd frame");
    }
    ZSTD_inBuffer source{input.data(), got, 0};
    // Until the input is used and the output no longer fills the buffer
    // (zstd may hold decoded bytes back for the next call).
    for (bool output_full = true; source.pos < source.size || output_full;) {
      ZSTD_outBuffer sink{output.data(), output.size(), 0};
      frame_left = ZSTD_decompressStream(dctx.get(), &sink, &source);
      if (ZSTD_isError(frame_left)) {
        return Status(ErrorCode::kCorrupt,
                      "'" + from + "' does not unpack: " + ZSTD_getErrorName(frame_left));
      }
      written += sink.pos;
      if (written > max_bytes) {
        return Status(ErrorCode::kCorrupt, "'" + from + "' unpacks to more than " +
                                               std::to_string(max_bytes) + " bytes");
      }
      LUMBUNG_RETURN_IF_ERROR(write_all(out->get(), output.data(), sink.pos, to));
      output_full = sink.pos == sink.size;
      if (frame_left == 0 && source.pos < source.size) {
        return Status(ErrorCode::kCorrupt, "'" + from + "' has bytes after its zstd frame");
      }
    }
  }
  if (frame_left != 0) return Status(ErrorCode::kCorrupt, "'" + from + "' is cut short");
  return close_written(std::move(out).value(), to);
}

}  // namespace lumbung::protocol
