// The bodies of the fuzz targets, shared by the libFuzzer harnesses (engine/fuzz/*_fuzz.cpp,
// built by run.sh) and by the corpus replay test in the normal build
// (engine/tests/fuzz_corpus_test.cpp). Each takes arbitrary bytes and must either succeed or
// throw rwkv::EngineError; anything else (a crash, a sanitizer report, another exception) is a
// bug.
#pragma once
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "core/binidx.h"
#include "core/errors.h"
#include "core/pth.h"
#include "core/safetensors.h"

namespace rwkv_fuzz {

// An anonymous in-memory file, so the readers see a real path without touching the disk.
class MemFile {
 public:
  MemFile(const uint8_t* data, size_t size) {
    fd_ = static_cast<int>(::syscall(SYS_memfd_create, "rwkv-fuzz", 0u));
    if (fd_ >= 0) {
      size_t done = 0;
      while (done < size) {
        ssize_t n = ::write(fd_, data + done, size - done);
        if (n <= 0) break;
        done += static_cast<size_t>(n);
      }
    }
  }
  ~MemFile() { if (fd_ >= 0) ::close(fd_); }
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }
  bool ok() const { return fd_ >= 0; }
 private:
  int fd_ = -1;
};

// Whole .pth files: zip structure, then the pickle, then tensor data.
inline void fuzz_pth(const uint8_t* data, size_t size) {
  MemFile f(data, size);
  if (!f.ok()) return;
  try { rwkv::read_pth_header(f.path()); } catch (const rwkv::EngineError&) {}
  try { rwkv::load_pth(f.path()); } catch (const rwkv::EngineError&) {}
}

// Hugging Face safetensors (peft adapters): header length, JSON header, tensor bytes.
inline void fuzz_safetensors(const uint8_t* data, size_t size) {
  MemFile f(data, size);
  if (!f.ok()) return;
  try { rwkv::load_safetensors(f.path()); } catch (const rwkv::EngineError&) {}
}

inline void put16(std::vector<uint8_t>& b, uint32_t v) { b.push_back(v & 0xFF); b.push_back((v >> 8) & 0xFF); }
inline void put32(std::vector<uint8_t>& b, uint32_t v) { put16(b, v & 0xFFFF); put16(b, v >> 16); }

// A stored zip with the given entries (no CRC: the reader does not check it), so that pickle
// mutations reach the unpickler instead of dying in the zip layer.
inline std::vector<uint8_t> stored_zip(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& entries) {
  std::vector<uint8_t> out, cd;
  for (const auto& e : entries) {
    const uint32_t offset = static_cast<uint32_t>(out.size());
    put32(out, 0x04034b50); put16(out, 20); put16(out, 0); put16(out, 0); put16(out, 0); put16(out, 0);
    put32(out, 0); put32(out, static_cast<uint32_t>(e.second.size())); put32(out, static_cast<uint32_t>(e.second.size()));
    put16(out, static_cast<uint32_t>(e.first.size())); put16(out, 0);
    out.insert(out.end(), e.first.begin(), e.first.end());
    out.insert(out.end(), e.second.begin(), e.second.end());
    put32(cd, 0x02014b50); put16(cd, 20); put16(cd, 20); put16(cd, 0); put16(cd, 0); put16(cd, 0); put16(cd, 0);
    put32(cd, 0); put32(cd, static_cast<uint32_t>(e.second.size())); put32(cd, static_cast<uint32_t>(e.second.size()));
    put16(cd, static_cast<uint32_t>(e.first.size())); put16(cd, 0); put16(cd, 0); put16(cd, 0); put16(cd, 0);
    put32(cd, 0); put32(cd, offset);
    cd.insert(cd.end(), e.first.begin(), e.first.end());
  }
  const uint32_t cd_offset = static_cast<uint32_t>(out.size());
  out.insert(out.end(), cd.begin(), cd.end());
  put32(out, 0x06054b50); put16(out, 0); put16(out, 0);
  put16(out, static_cast<uint32_t>(entries.size())); put16(out, static_cast<uint32_t>(entries.size()));
  put32(out, static_cast<uint32_t>(cd.size())); put32(out, cd_offset); put16(out, 0);
  return out;
}

// The input is data.pkl; storages "0".."3" of 64 bytes each exist beside it.
inline void fuzz_pickle(const uint8_t* data, size_t size) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> entries;
  entries.emplace_back("archive/data.pkl", std::vector<uint8_t>(data, data + size));
  for (int k = 0; k < 4; ++k) entries.emplace_back("archive/data/" + std::to_string(k), std::vector<uint8_t>(64, static_cast<uint8_t>(k)));
  const std::vector<uint8_t> zip = stored_zip(entries);
  fuzz_pth(zip.data(), zip.size());
}

// The input is a 4-byte little-endian .idx length, the .idx bytes, then the .bin bytes.
inline void fuzz_binidx(const uint8_t* data, size_t size, const std::string& scratch_prefix) {
  if (size < 4) return;
  size_t idx_len = data[0] | (data[1] << 8) | (data[2] << 16) | (static_cast<size_t>(data[3]) << 24);
  data += 4; size -= 4;
  if (idx_len > size) idx_len = size;
  FILE* idx = std::fopen((scratch_prefix + ".idx").c_str(), "wb");
  FILE* bin = std::fopen((scratch_prefix + ".bin").c_str(), "wb");
  if (!idx || !bin) { if (idx) std::fclose(idx); if (bin) std::fclose(bin); return; }
  std::fwrite(data, 1, idx_len, idx);
  std::fwrite(data + idx_len, 1, size - idx_len, bin);
  std::fclose(idx);
  std::fclose(bin);
  try {
    rwkv::BinIdxDataset d(scratch_prefix);
    std::vector<uint32_t> out;
    for (uint64_t doc = 0; doc < d.num_documents() && doc < 4096; ++doc) d.read_document(doc, out);
    d.read_tokens(0, d.num_tokens(), out);
    rwkv::check_token_ids(d, 65536);
  } catch (const rwkv::EngineError&) {}
}

}  // namespace rwkv_fuzz
