// Zip archives as torch.save writes them (core/pth uses them for .pth files): stored entries,
// zip64 where sizes or offsets need it, entry data aligned to 64 bytes. Reading finds the
// central directory from the end of the file (zip64 aware); every length and offset that comes
// from the file is checked before use, so a hostile or truncated file gives an EngineError
// (E_PTH_*), never out-of-bounds access.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/atomic_file.h"

namespace rwkv {

// E_PTH_CORRUPT: "<path>: not a valid PyTorch checkpoint (<what>)".
[[noreturn]] void checkpoint_corrupt(const std::string& path, const std::string& what);

// A read-only file accessed with pread (no mmap, so a file truncated underneath cannot SIGBUS).
class InputFile {
 public:
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Reads [offset, offset + len); a range past the end is E_PTH_CORRUPT.
  void read(uint64_t offset, void* out, uint64_t len) const;
  std::vector<uint8_t> read(uint64_t offset, uint64_t len) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

struct ZipEntry {
  std::string name;
  uint16_t method = 0;
  uint64_t compressed_size = 0, size = 0, local_header_offset = 0;
};

class ZipReader {
 public:
  explicit ZipReader(const InputFile& file) : file_(file) { read_central_directory(); }

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;
  // Byte offset of an entry's data: after its local header (whose name/extra lengths can
  // differ from the central directory's, e.g. torch's alignment padding). Compressed entries
  // are E_PTH_UNSUPPORTED.
  uint64_t data_offset(const ZipEntry& e) const;
  std::vector<uint8_t> read_entry(const ZipEntry& e) const { return file_.read(data_offset(e), e.size); }

 private:
  const InputFile& file_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> by_name_;

  void read_central_directory();
  [[noreturn]] void not_zip() const;
};

uint32_t crc32_update(uint32_t crc, const uint8_t* p, size_t n);

// Writes stored entries into an AtomicFile, then the central directory (finish()).
class ZipWriter {
 public:
  explicit ZipWriter(AtomicFile& f) : f_(f) {}
  // An entry whose bytes are `raw` (when given) followed by each of `parts`. Its local header's
  // extra field pads the data start to 64 bytes, as torch's writer does (extra id "FB", filled
  // with 'Z'), so readers can mmap tensor data aligned.
  void add(const std::string& name, const std::vector<const std::vector<uint8_t>*>& parts,
           const uint8_t* raw = nullptr, uint64_t raw_size = 0);
  void finish();

 private:
  struct Written {
    std::string name;
    uint32_t crc = 0;
    uint64_t size = 0, offset = 0;
  };
  AtomicFile& f_;
  std::vector<Written> written_;
};

}  // namespace rwkv
