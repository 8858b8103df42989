// Zip archives as torch.save writes them. See zip_archive.h.
#include "core/zip_archive.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/errors.h"
#include "core/little_endian.h"

namespace rwkv {

using le::put16;
using le::put32;
using le::put64;
using le::rd16;
using le::rd32;
using le::rd64;

void checkpoint_corrupt(const std::string& path, const std::string& what) {
  throw EngineError("E_PTH_CORRUPT", path + ": not a valid PyTorch checkpoint (" + what + ")",
                    "the file may be truncated or damaged; download or save it again");
}

// ---- reading --------------------------------------------------------------------------------

InputFile::InputFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    int err = errno;
    if (err == ENOENT) throw EngineError("E_PTH_NOT_FOUND", path + ": no such file", "check the path to the checkpoint");
    throw EngineError("E_IO_READ", path + ": cannot open (" + std::strerror(err) + ")", "check the file's permissions");
  }
  struct stat st;
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    throw EngineError("E_PTH_NOT_FOUND", path + ": not a regular file", "give the path of a .pth file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::~InputFile() { if (fd_ >= 0) ::close(fd_); }

void InputFile::read(uint64_t offset, void* out, uint64_t len) const {
  if (offset > size_ || len > size_ - offset) checkpoint_corrupt(path_, "an entry runs past the end of the file; it is truncated");
  uint8_t* dst = static_cast<uint8_t*>(out);
  while (len > 0) {
    size_t chunk = static_cast<size_t>(std::min<uint64_t>(len, 1u << 30));
    ssize_t got = ::pread(fd_, dst, chunk, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw EngineError("E_IO_READ", path_ + ": read failed (" + std::strerror(errno) + ")", "");
    if (got == 0) checkpoint_corrupt(path_, "unexpected end of file");
    dst += got; offset += static_cast<uint64_t>(got); len -= static_cast<uint64_t>(got);
  }
}

std::vector<uint8_t> InputFile::read(uint64_t offset, uint64_t len) const {
  std::vector<uint8_t> buf(static_cast<size_t>(len));
  read(offset, buf.data(), len);
  return buf;
}

const ZipEntry* ZipReader::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &entries_[it->second];
}

uint64_t ZipReader::data_offset(const ZipEntry& e) const {
  uint8_t h[30];
  file_.read(e.local_header_offset, h, 30);
  if (rd32(h) != 0x04034b50) checkpoint_corrupt(file_.path(), "bad local header for " + e.name);
  uint64_t start = e.local_header_offset + 30 + rd16(h + 26) + rd16(h + 28);
  if (e.method != 0)
    throw EngineError("E_PTH_UNSUPPORTED", file_.path() + ": entry " + e.name + " is compressed (method " +
                      std::to_string(e.method) + ")", "torch.save stores entries uncompressed; re-save the checkpoint with torch.save");
  if (start > file_.size() || e.size > file_.size() - start) checkpoint_corrupt(file_.path(), "entry " + e.name + " is truncated");
  return start;
}

void ZipReader::read_central_directory() {
  const uint64_t fsize = file_.size();
  if (fsize < 22) not_zip();
  uint8_t magic[4];
  file_.read(0, magic, 4);
  if (rd32(magic) != 0x04034b50) {
    // torch's pre-1.6 format starts with a pickle (0x80 0x02); say so instead of "not a zip".
    if (magic[0] == 0x80 && magic[1] == 0x02)
      throw EngineError("E_PTH_LEGACY", file_.path() + ": a legacy (pre-zip) torch checkpoint",
                        "load and re-save it with a current PyTorch: torch.save(torch.load(p), p)");
    not_zip();
  }
  // End of central directory: the last 22 bytes plus up to 64 KiB of comment.
  const uint64_t tail_len = std::min<uint64_t>(fsize, 22 + 65535 + 20);
  std::vector<uint8_t> tail = file_.read(fsize - tail_len, tail_len);
  int64_t eocd = -1;
  for (int64_t i = static_cast<int64_t>(tail_len) - 22; i >= 0; --i)
    if (rd32(&tail[i]) == 0x06054b50) { eocd = i; break; }
  if (eocd < 0) checkpoint_corrupt(file_.path(), "no end of central directory; the file is truncated");
  const uint8_t* e = &tail[eocd];
  uint64_t count = rd16(e + 10), cd_size = rd32(e + 12), cd_offset = rd32(e + 16);
  const bool has_locator = eocd >= 20 && rd32(&tail[eocd - 20]) == 0x07064b50;
  if (cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu || (count == 0xFFFF && has_locator)) {
    // zip64: a locator just before the EOCD points to the zip64 end record. (Exactly 65535
    // entries without a locator is a plain zip.)
    if (!has_locator) checkpoint_corrupt(file_.path(), "missing zip64 locator");
    uint64_t z64 = rd64(&tail[eocd - 20 + 8]);
    uint8_t r[56];
    file_.read(z64, r, 56);
    if (rd32(r) != 0x06064b50) checkpoint_corrupt(file_.path(), "bad zip64 end record");
    count = rd64(r + 32); cd_size = rd64(r + 40); cd_offset = rd64(r + 48);
  }
  if (cd_offset > fsize || cd_size > fsize - cd_offset) checkpoint_corrupt(file_.path(), "central directory outside the file");
  if (count > cd_size / 46) checkpoint_corrupt(file_.path(), "entry count larger than the central directory");
  std::vector<uint8_t> cd = file_.read(cd_offset, cd_size);
  size_t pos = 0;
  entries_.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    if (pos + 46 > cd.size() || rd32(&cd[pos]) != 0x02014b50) checkpoint_corrupt(file_.path(), "bad central directory entry");
    const uint8_t* h = &cd[pos];
    ZipEntry z;
    z.method = rd16(h + 10);
    z.compressed_size = rd32(h + 20);
    z.size = rd32(h + 24);
    size_t name_len = rd16(h + 28), extra_len = rd16(h + 30), comment_len = rd16(h + 32);
    z.local_header_offset = rd32(h + 42);
    if (pos + 46 + name_len + extra_len + comment_len > cd.size()) checkpoint_corrupt(file_.path(), "central directory entry overruns");
    z.name.assign(reinterpret_cast<const char*>(h + 46), name_len);
    // zip64 extra field: the 64-bit values appear only for the fields set to 0xFFFFFFFF.
    const uint8_t* x = h + 46 + name_len;
    size_t xp = 0;
    while (xp + 4 <= extra_len) {
      uint16_t id = rd16(x + xp), len = rd16(x + xp + 2);
      if (xp + 4 + len > extra_len) break;
      if (id == 0x0001) {
        size_t q = xp + 4, end = xp + 4 + len;
        auto take = [&](uint64_t& field) {
          if (field != 0xFFFFFFFFu) return;
          if (q + 8 > end) checkpoint_corrupt(file_.path(), "short zip64 extra field");
          field = rd64(x + q); q += 8;
        };
        take(z.size); take(z.compressed_size); take(z.local_header_offset);
      }
      xp += 4 + len;
    }
    if (z.method == 0 && z.compressed_size != z.size) checkpoint_corrupt(file_.path(), "stored entry with differing sizes");
    if (z.local_header_offset >= fsize) checkpoint_corrupt(file_.path(), "entry offset outside the file");
    by_name_.emplace(z.name, entries_.size());
    entries_.push_back(std::move(z));
    pos += 46 + name_len + extra_len + comment_len;
  }
}

void ZipReader::not_zip() const {
  throw EngineError("E_PTH_NOT_ZIP", file_.path() + ": not a PyTorch checkpoint (not a zip archive)",
                    "give a .pth file written by torch.save (PyTorch 1.6 or newer)");
}

// ---- writing --------------------------------------------------------------------------------

uint32_t crc32_update(uint32_t crc, const uint8_t* p, size_t n) {
  static uint32_t table[256];
  static bool ready = [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return true;
  }();
  (void)ready;
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

void ZipWriter::add(const std::string& name, const std::vector<const std::vector<uint8_t>*>& parts, const uint8_t* raw,
                    uint64_t raw_size) {
  Written e;
  e.name = name;
  e.offset = f_.offset();
  if (raw) { e.size = raw_size; e.crc = crc32_update(0, raw, raw_size); }
  for (auto* p : parts) { e.size += p->size(); e.crc = crc32_update(e.crc, p->data(), p->size()); }
  const bool z64 = e.size >= 0xFFFFFFFFu;
  std::vector<uint8_t> h;
  put32(h, 0x04034b50);
  put16(h, z64 ? 45 : 20);  // version needed
  put16(h, 0);              // flags
  put16(h, 0);              // stored
  put16(h, 0); put16(h, 0x21);  // time, date (1980-01-01)
  put32(h, e.crc);
  put32(h, z64 ? 0xFFFFFFFFu : static_cast<uint32_t>(e.size));
  put32(h, z64 ? 0xFFFFFFFFu : static_cast<uint32_t>(e.size));
  put16(h, static_cast<uint16_t>(name.size()));
  size_t header_len = 30 + name.size() + (z64 ? 20 : 0) + 4;
  size_t pad = (64 - (e.offset + header_len) % 64) % 64;
  put16(h, static_cast<uint16_t>((z64 ? 20 : 0) + 4 + pad));
  h.insert(h.end(), name.begin(), name.end());
  if (z64) { put16(h, 0x0001); put16(h, 16); put64(h, e.size); put64(h, e.size); }
  put16(h, 0x4246); put16(h, static_cast<uint16_t>(pad));  // "FB"
  h.insert(h.end(), pad, 'Z');
  f_.write(h);
  if (raw) f_.write(raw, static_cast<size_t>(raw_size));
  for (auto* p : parts) f_.write(*p);
  written_.push_back(e);
}

void ZipWriter::finish() {
  const uint64_t cd_start = f_.offset();
  std::vector<uint8_t> cd;
  for (const auto& e : written_) {
    const bool big_size = e.size >= 0xFFFFFFFFu, big_offset = e.offset >= 0xFFFFFFFFu;
    std::vector<uint8_t> extra;
    if (big_size || big_offset) {
      put16(extra, 0x0001);
      put16(extra, static_cast<uint16_t>((big_size ? 16 : 0) + (big_offset ? 8 : 0)));
      if (big_size) { put64(extra, e.size); put64(extra, e.size); }
      if (big_offset) put64(extra, e.offset);
    }
    put32(cd, 0x02014b50);
    put16(cd, 45); put16(cd, extra.empty() ? 20 : 45);
    put16(cd, 0); put16(cd, 0); put16(cd, 0); put16(cd, 0x21);
    put32(cd, e.crc);
    put32(cd, big_size ? 0xFFFFFFFFu : static_cast<uint32_t>(e.size));
    put32(cd, big_size ? 0xFFFFFFFFu : static_cast<uint32_t>(e.size));
    put16(cd, static_cast<uint16_t>(e.name.size()));
    put16(cd, static_cast<uint16_t>(extra.size()));
    put16(cd, 0); put16(cd, 0); put16(cd, 0); put32(cd, 0);
    put32(cd, big_offset ? 0xFFFFFFFFu : static_cast<uint32_t>(e.offset));
    cd.insert(cd.end(), e.name.begin(), e.name.end());
    cd.insert(cd.end(), extra.begin(), extra.end());
  }
  f_.write(cd);
  const uint64_t cd_end = f_.offset();
  const bool z64 = cd_start >= 0xFFFFFFFFu || cd.size() >= 0xFFFFFFFFu || written_.size() >= 0xFFFF;
  std::vector<uint8_t> tail;
  if (z64) {
    put32(tail, 0x06064b50); put64(tail, 44); put16(tail, 45); put16(tail, 45);
    put32(tail, 0); put32(tail, 0);
    put64(tail, written_.size()); put64(tail, written_.size());
    put64(tail, cd.size()); put64(tail, cd_start);
    put32(tail, 0x07064b50); put32(tail, 0); put64(tail, cd_end); put32(tail, 1);
  }
  put32(tail, 0x06054b50);
  put16(tail, 0); put16(tail, 0);
  put16(tail, z64 ? 0xFFFF : static_cast<uint16_t>(written_.size()));
  put16(tail, z64 ? 0xFFFF : static_cast<uint16_t>(written_.size()));
  put32(tail, z64 ? 0xFFFFFFFFu : static_cast<uint32_t>(cd.size()));
  put32(tail, z64 ? 0xFFFFFFFFu : static_cast<uint32_t>(cd_start));
  put16(tail, 0);
  f_.write(tail);
}

}  // namespace rwkv
