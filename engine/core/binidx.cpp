// Megatron MMapIndexedDataset reader/writer and make_data.py's magic_prime. See binidx.h.
//
// PREFIX.idx: "MMIDIDX\0\0", u64 version (1), u8 dtype code, u64 item count, u64 doc_idx count,
// i32 sizes[items], i64 pointers[items] (byte offsets into .bin), i64 doc_idx[...].
// PREFIX.bin: the tokens. Both are memory-mapped; the index is validated once at open so every
// later read is in bounds. Every read of a mapping runs under core/mapped_guard.h: a file that
// shrinks under the mapping makes the read throw E_DATA_CHANGED instead of raising SIGBUS.
#include "core/binidx.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/mapped_guard.h"
#include "core/paths.h"

namespace rwkv {
namespace {

const char kMagic[9] = {'M', 'M', 'I', 'D', 'I', 'D', 'X', 0, 0};

size_t code_size(int code) {
  switch (code) {
    case 1: case 2: return 1;  // uint8, int8
    case 3: case 8: return 2;  // int16, uint16
    case 4: return 4;          // int32
    case 5: return 8;          // int64
    default: return 0;         // 6/7 are float types: not token ids
  }
}


struct Mapping {
  const uint8_t* data = nullptr;
  uint64_t size = 0;
  struct stat st = {};  // the file as it was mapped (check_unchanged compares)
  void* base = nullptr;
  size_t mapped = 0;
  ~Mapping() {
    if (!base) return;
    unregister_mapped_range(base);
    ::munmap(base, mapped);
  }
};

// Maps a whole file read-only. Returns false (errno set) when it cannot be opened.
bool map_file(const std::string& path, Mapping& m) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { ::close(fd); errno = EISDIR; return false; }
  m.st = st;
  m.size = static_cast<uint64_t>(st.st_size);
  if (m.size > 0) {
    void* p = ::mmap(nullptr, static_cast<size_t>(m.size), PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) { ::close(fd); return false; }
    m.base = p;
    m.mapped = static_cast<size_t>(m.size);
    m.data = static_cast<const uint8_t*>(p);
    register_mapped_range(p, m.mapped, path);
  }
  ::close(fd);
  return true;
}

template <typename T>
T load(const uint8_t* p) { T v; std::memcpy(&v, p, sizeof v); return v; }

}  // namespace

struct BinIdxDataset::Impl {
  std::string prefix;
  Mapping idx, bin;
  int dtype = 0;
  size_t esize = 0;
  uint64_t items = 0;
  const uint8_t* sizes = nullptr;     // int32[items]
  const uint8_t* pointers = nullptr;  // int64[items]

  [[noreturn]] void corrupt(const std::string& what) const {
    throw EngineError("E_BINIDX_CORRUPT", prefix + ".idx/.bin: " + what,
                      "the dataset is damaged or was not written by make_data.py; rebuild it with `rwkv-train make-data`");
  }

  // Throws E_DATA_CHANGED after a guarded read faulted: the detailed reason when the files'
  // metadata shows it (it always should: a file shrank), else the fault itself.
  [[noreturn]] void vanished(const char* suffix, uint64_t at) const;
  // sizes[doc] and pointers[doc] from the mapped index, guarded.
  void index_entry(uint64_t doc, int32_t& n, int64_t& ptr) const;
  // count tokens from global token offset `start` into out, guarded.
  void copy_tokens(uint64_t start, uint64_t count, uint32_t* out) const;

  uint32_t token(uint64_t i) const {
    const uint8_t* p = bin.data + i * esize;
    switch (dtype) {
      case 1: return *p;
      case 2: return static_cast<uint32_t>(static_cast<int8_t>(*p));
      case 3: return static_cast<uint32_t>(static_cast<int32_t>(load<int16_t>(p)));
      case 8: return load<uint16_t>(p);
      case 4: return static_cast<uint32_t>(load<int32_t>(p));
      default: return static_cast<uint32_t>(load<int64_t>(p));
    }
  }
};

namespace {
// The guarded loops (core/mapped_guard.h run_guarded): plain loads only, nothing to unwind.
struct TokenCopy { const BinIdxDataset::Impl* d; uint64_t start, count; uint32_t* out; };
struct IndexScan { const uint8_t *sizes, *pointers; uint64_t items, bin_size, esize, first_bad; };
struct IndexEntry { const uint8_t *sizes, *pointers; uint64_t doc; int32_t n; int64_t ptr; };

void scan_index(void* p) {
  IndexScan& s = *static_cast<IndexScan*>(p);
  for (uint64_t i = 0; i < s.items; ++i) {
    const int32_t n = load<int32_t>(s.sizes + i * 4);
    const int64_t ptr = load<int64_t>(s.pointers + i * 8);
    if (n < 0 || ptr < 0 || static_cast<uint64_t>(ptr) % s.esize || static_cast<uint64_t>(ptr) > s.bin_size ||
        static_cast<uint64_t>(n) > (s.bin_size - static_cast<uint64_t>(ptr)) / s.esize) {
      s.first_bad = i;
      return;
    }
  }
}
void read_entry(void* p) {
  IndexEntry& e = *static_cast<IndexEntry*>(p);
  e.n = load<int32_t>(e.sizes + e.doc * 4);
  e.ptr = load<int64_t>(e.pointers + e.doc * 8);
}
}  // namespace

void BinIdxDataset::Impl::vanished(const char* suffix, uint64_t at) const {
  BinIdxDataset::check_files(*this);
  throw EngineError("E_DATA_CHANGED",
                    prefix + suffix + " shrank while this run was reading it (a read at " + std::to_string(at) +
                        " fell past its end)",
                    "the run saved its last finished step: put the dataset back and run the same command to "
                    "continue, or start over with another --proj_dir; write new data under a new name");
}

void BinIdxDataset::Impl::index_entry(uint64_t doc, int32_t& n, int64_t& ptr) const {
  IndexEntry e{sizes, pointers, doc, 0, 0};
  if (!run_guarded(read_entry, &e)) vanished(".idx", doc);
  n = e.n;
  ptr = e.ptr;
}

void BinIdxDataset::Impl::copy_tokens(uint64_t start, uint64_t count, uint32_t* out) const {
  TokenCopy c{this, start, count, out};
  const bool whole = run_guarded([](void* p) {
    const TokenCopy& t = *static_cast<const TokenCopy*>(p);
    for (uint64_t i = 0; i < t.count; ++i) t.out[i] = t.d->token(t.start + i);
  }, &c);
  if (!whole) vanished(".bin", start);
}

BinIdxDataset::BinIdxDataset(const std::string& prefix_in) : impl_(new Impl) {
  try {
    Impl& d = *impl_;
    d.prefix = prefix_in;
    if ((ends_with(prefix_in, ".bin") || ends_with(prefix_in, ".idx")) && !path_exists(prefix_in + ".idx"))
      throw EngineError("E_BINIDX_SUFFIX", prefix_in + ": give the binidx prefix without .bin/.idx",
                        "use --data_file " + prefix_in.substr(0, prefix_in.size() - 4));
    if (!map_file(d.prefix + ".idx", d.idx)) {
      if (errno == ENOENT)
        throw EngineError("E_BINIDX_NO_IDX", d.prefix + ".idx not found",
                          "a binidx dataset needs both PREFIX.bin and PREFIX.idx; copy the .idx next to the .bin or rebuild with `rwkv-train make-data`");
      throw EngineError("E_IO_READ", d.prefix + ".idx: cannot open (" + std::strerror(errno) + ")", "check the file's permissions");
    }
    if (!map_file(d.prefix + ".bin", d.bin)) {
      if (errno == ENOENT)
        throw EngineError("E_BINIDX_NO_BIN", d.prefix + ".bin not found",
                          "a binidx dataset needs both PREFIX.bin and PREFIX.idx");
      throw EngineError("E_IO_READ", d.prefix + ".bin: cannot open (" + std::strerror(errno) + ")", "check the file's permissions");
    }
    const uint8_t* h = d.idx.data;
    const uint64_t hsize = 9 + 8 + 1 + 8 + 8;
    if (d.idx.size < hsize || std::memcmp(h, kMagic, 9) != 0) d.corrupt("the .idx does not start with MMIDIDX");
    if (load<uint64_t>(h + 9) != 1) d.corrupt("unsupported .idx version " + std::to_string(load<uint64_t>(h + 9)));
    d.dtype = h[17];
    d.esize = code_size(d.dtype);
    if (d.esize == 0) d.corrupt("token dtype code " + std::to_string(d.dtype) + " is not an integer type");
    d.items = load<uint64_t>(h + 18);
    const uint64_t doc_count = load<uint64_t>(h + 26);
    const uint64_t body = d.idx.size - hsize;
    if (d.items > body / 12 || doc_count > (body - d.items * 12) / 8)
      d.corrupt("the .idx is shorter than its header says (truncated?)");
    d.sizes = h + hsize;
    d.pointers = d.sizes + d.items * 4;
    if (d.bin.size % d.esize) d.corrupt("the .bin size is not a multiple of the token size");
    IndexScan scan{d.sizes, d.pointers, d.items, d.bin.size, d.esize, d.items};
    if (!run_guarded(scan_index, &scan)) d.vanished(".idx", 0);
    if (scan.first_bad < d.items)
      d.corrupt("document " + std::to_string(scan.first_bad) + " lies outside the .bin (truncated .bin or mismatched .idx)");
    if (d.bin.size == 0 || d.items == 0)
      throw EngineError("E_DATA_EMPTY", d.prefix + ": the dataset holds no tokens", "check the source data; make-data skips empty lines");
  } catch (...) {
    delete impl_;
    throw;
  }
}

BinIdxDataset::~BinIdxDataset() { delete impl_; }

uint64_t BinIdxDataset::num_tokens() const { return impl_->bin.size / impl_->esize; }
uint64_t BinIdxDataset::num_documents() const { return impl_->items; }
int BinIdxDataset::dtype_code() const { return impl_->dtype; }

void BinIdxDataset::read_tokens(uint64_t offset, uint64_t count, std::vector<uint32_t>& out) const {
  const uint64_t total = num_tokens();
  if (offset > total || count > total - offset)
    throw EngineError("E_BINIDX_RANGE", "read of " + std::to_string(count) + " tokens at " + std::to_string(offset) +
                      " past the end of " + impl_->prefix + ".bin (" + std::to_string(total) + " tokens)",
                      "check --my_exit_tokens/--magic_prime against the dataset (rwkv-train inspect)");
  out.resize(static_cast<size_t>(count));
  impl_->copy_tokens(offset, count, out.data());
}

uint64_t BinIdxDataset::document_size(uint64_t doc) const {
  if (doc >= impl_->items)
    throw EngineError("E_BINIDX_RANGE", "document " + std::to_string(doc) + " of " + std::to_string(impl_->items) + " requested");
  int32_t n;
  int64_t ptr;
  impl_->index_entry(doc, n, ptr);
  return static_cast<uint64_t>(n);
}

uint64_t BinIdxDataset::document_start(uint64_t doc) const {
  if (doc >= impl_->items)
    throw EngineError("E_BINIDX_RANGE", "document " + std::to_string(doc) + " of " + std::to_string(impl_->items) + " requested");
  int32_t n;
  int64_t ptr;
  impl_->index_entry(doc, n, ptr);
  return static_cast<uint64_t>(ptr) / impl_->esize;
}

void BinIdxDataset::read_document(uint64_t doc, std::vector<uint32_t>& out) const {
  if (doc >= impl_->items)
    throw EngineError("E_BINIDX_RANGE", "document " + std::to_string(doc) + " of " + std::to_string(impl_->items) + " requested");
  int32_t size;
  int64_t ptr;
  impl_->index_entry(doc, size, ptr);
  out.resize(static_cast<size_t>(size));
  impl_->copy_tokens(static_cast<uint64_t>(ptr) / impl_->esize, static_cast<uint64_t>(size), out.data());
}

void BinIdxDataset::check_unchanged() const { check_files(*impl_); }

void BinIdxDataset::check_files(const Impl& d) {
  for (const auto& [suffix, m] : {std::pair<const char*, const Mapping*>{".bin", &d.bin}, {".idx", &d.idx}}) {
    const std::string path = d.prefix + suffix;
    struct stat now;
    std::string what;
    if (::stat(path.c_str(), &now) != 0) what = "was deleted";
    else if (now.st_dev != m->st.st_dev || now.st_ino != m->st.st_ino) what = "was replaced by another file";
    else if (now.st_size != m->st.st_size || now.st_mtim.tv_sec != m->st.st_mtim.tv_sec ||
             now.st_mtim.tv_nsec != m->st.st_mtim.tv_nsec)
      what = "was rewritten (" + std::to_string(m->st.st_size) + " bytes then, " + std::to_string(now.st_size) + " now)";
    if (!what.empty())
      throw EngineError("E_DATA_CHANGED", path + " " + what + " while this run was training on it",
                        "the run saved its last finished step: put the dataset back and run the same command to "
                        "continue, or start over with another --proj_dir; write new data under a new name");
  }
}

void check_token_ids(const BinIdxDataset& data, uint64_t vocab_size) {
  const uint64_t total = data.num_tokens();
  const uint64_t chunk = 1 << 20;
  std::vector<uint32_t> buf;
  uint64_t first_bad = total, first_id = 0, max_id = 0, bad = 0;
  for (uint64_t at = 0; at < total; at += chunk) {
    data.read_tokens(at, std::min(chunk, total - at), buf);
    for (size_t i = 0; i < buf.size(); ++i) {
      if (buf[i] >= vocab_size) {
        if (first_bad == total) { first_bad = at + i; first_id = buf[i]; }
        ++bad;
      }
      if (buf[i] > max_id) max_id = buf[i];
    }
  }
  if (bad)
    throw EngineError("E_DATA_TOKEN_RANGE",
                      std::to_string(bad) + " token id(s) are >= vocab_size " + std::to_string(vocab_size) +
                      " (first: id " + std::to_string(first_id) + " at token " + std::to_string(first_bad) +
                      "; largest id " + std::to_string(max_id) + ")",
                      "the data was tokenized with a larger vocabulary: set --vocab_size " + std::to_string(max_id + 1) +
                      " or above, or rebuild the data with the World tokenizer");
}

void write_binidx(const std::string& prefix, const std::vector<std::vector<uint32_t>>& documents) {
  bool fits16 = true;
  for (const auto& doc : documents) {
    for (uint32_t t : doc) if (t > 0xFFFF) { fits16 = false; break; }
    if (doc.size() > 0x7FFFFFFFu)
      throw EngineError("E_DATA_DOC_TOO_LONG", "a document of " + std::to_string(doc.size()) + " tokens exceeds the binidx limit (2^31-1)",
                        "split the document");
  }
  const uint8_t code = fits16 ? 8 : 4;
  const size_t esize = fits16 ? 2 : 4;
  AtomicFile bin(prefix + ".bin");
  std::vector<uint8_t> buf;
  std::vector<int32_t> sizes;
  std::vector<int64_t> pointers;
  int64_t pointer = 0;
  for (const auto& doc : documents) {
    buf.resize(doc.size() * esize);
    for (size_t i = 0; i < doc.size(); ++i) {
      if (fits16) { uint16_t v = static_cast<uint16_t>(doc[i]); std::memcpy(&buf[i * 2], &v, 2); }
      else { int32_t v = static_cast<int32_t>(doc[i]); std::memcpy(&buf[i * 4], &v, 4); }
    }
    bin.write(buf);
    sizes.push_back(static_cast<int32_t>(doc.size()));
    pointers.push_back(pointer);
    pointer += static_cast<int64_t>(doc.size() * esize);
  }
  std::vector<uint8_t> idx(kMagic, kMagic + 9);
  auto put = [&idx](const void* p, size_t n) { idx.insert(idx.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n); };
  const uint64_t version = 1, items = sizes.size(), doc_count = sizes.size() + 1;
  put(&version, 8);
  idx.push_back(code);
  put(&items, 8);
  put(&doc_count, 8);
  put(sizes.data(), sizes.size() * 4);
  put(pointers.data(), pointers.size() * 8);
  for (uint64_t i = 0; i <= items; ++i) put(&i, 8);  // doc_idx: one item per document
  AtomicFile idx_file(prefix + ".idx");
  idx_file.write(idx);
  bin.commit();
  idx_file.commit();
}

bool is_prime(uint64_t n) {
  if (n < 2) return false;
  for (uint64_t p : {2ull, 3ull, 5ull, 7ull, 11ull, 13ull, 17ull, 19ull, 23ull, 29ull, 31ull, 37ull}) {
    if (n % p == 0) return n == p;
  }
  // Deterministic Miller-Rabin: these twelve bases decide every n < 2^64.
  auto mulmod = [](uint64_t a, uint64_t b, uint64_t m) {
    return static_cast<uint64_t>(static_cast<unsigned __int128>(a) * b % m);
  };
  auto powmod = [&](uint64_t b, uint64_t e, uint64_t m) {
    uint64_t r = 1;
    b %= m;
    while (e) { if (e & 1) r = mulmod(r, b, m); b = mulmod(b, b, m); e >>= 1; }
    return r;
  };
  uint64_t d = n - 1;
  int s = 0;
  while ((d & 1) == 0) { d >>= 1; ++s; }
  for (uint64_t a : {2ull, 3ull, 5ull, 7ull, 11ull, 13ull, 17ull, 19ull, 23ull, 29ull, 31ull, 37ull}) {
    uint64_t x = powmod(a, d, n);
    if (x == 1 || x == n - 1) continue;
    bool composite = true;
    for (int r = 1; r < s; ++r) {
      x = mulmod(x, x, n);
      if (x == n - 1) { composite = false; break; }
    }
    if (composite) return false;
  }
  return true;
}

uint64_t magic_prime_for(uint64_t data_tokens, uint64_t ctx_len) {
  if (ctx_len == 0 || data_tokens / 3 < ctx_len) return 0;  // make_data.py needs tokens >= 3*ctx_len
  const uint64_t n_chunk = data_tokens / ctx_len - 1;
  for (uint64_t i = n_chunk; i > 0; --i)
    if (i % 3 == 2 && is_prime(i)) return i;
  return 0;
}

}  // namespace rwkv
