// PyTorch .pth (zip + pickle) reader and writer. See pth.h.
//
// Reading: the zip central directory is found from the end of the file (zip64 aware), then only
// the `*/data.pkl` entry is read and run through a small pickle machine that understands what
// torch.save emits for state dicts. Tensor bytes are read only by load_pth, per storage entry.
// Every length and offset that comes from the file is checked before use: a hostile or
// truncated file gives an EngineError, never out-of-bounds access.
#include "core/pth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <memory>
#include <unordered_map>

#include "core/atomic_file.h"
#include "core/errors.h"

namespace rwkv {
namespace {

// ---- little helpers -------------------------------------------------------------------------

uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t rd32(const uint8_t* p) { return rd16(p) | (static_cast<uint32_t>(rd16(p + 2)) << 16); }
uint64_t rd64(const uint8_t* p) { return rd32(p) | (static_cast<uint64_t>(rd32(p + 4)) << 32); }

[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  throw EngineError("E_PTH_CORRUPT", path + ": not a valid PyTorch checkpoint (" + what + ")",
                    "the file may be truncated or damaged; download or save it again");
}

// A read-only file accessed with pread (no mmap, so a file truncated underneath cannot SIGBUS).
class InputFile {
 public:
  explicit InputFile(const std::string& path) : path_(path) {
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
  ~InputFile() { if (fd_ >= 0) ::close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

  void read(uint64_t offset, void* out, uint64_t len) const {
    if (offset > size_ || len > size_ - offset) corrupt(path_, "an entry runs past the end of the file; it is truncated");
    uint8_t* dst = static_cast<uint8_t*>(out);
    while (len > 0) {
      size_t chunk = static_cast<size_t>(std::min<uint64_t>(len, 1u << 30));
      ssize_t got = ::pread(fd_, dst, chunk, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) throw EngineError("E_IO_READ", path_ + ": read failed (" + std::strerror(errno) + ")", "");
      if (got == 0) corrupt(path_, "unexpected end of file");
      dst += got; offset += static_cast<uint64_t>(got); len -= static_cast<uint64_t>(got);
    }
  }
  std::vector<uint8_t> read(uint64_t offset, uint64_t len) const {
    std::vector<uint8_t> buf(static_cast<size_t>(len));
    read(offset, buf.data(), len);
    return buf;
  }

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// ---- zip reading ----------------------------------------------------------------------------

struct ZipEntry {
  std::string name;
  uint16_t method = 0;
  uint64_t compressed_size = 0, size = 0, local_header_offset = 0;
};

class ZipReader {
 public:
  explicit ZipReader(const InputFile& file) : file_(file) { read_central_directory(); }

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &entries_[it->second];
  }
  // Byte offset of an entry's data: after its local header (whose name/extra lengths can
  // differ from the central directory's, e.g. torch's alignment padding).
  uint64_t data_offset(const ZipEntry& e) const {
    uint8_t h[30];
    file_.read(e.local_header_offset, h, 30);
    if (rd32(h) != 0x04034b50) corrupt(file_.path(), "bad local header for " + e.name);
    uint64_t start = e.local_header_offset + 30 + rd16(h + 26) + rd16(h + 28);
    if (e.method != 0)
      throw EngineError("E_PTH_UNSUPPORTED", file_.path() + ": entry " + e.name + " is compressed (method " +
                        std::to_string(e.method) + ")", "torch.save stores entries uncompressed; re-save the checkpoint with torch.save");
    if (start > file_.size() || e.size > file_.size() - start) corrupt(file_.path(), "entry " + e.name + " is truncated");
    return start;
  }
  std::vector<uint8_t> read_entry(const ZipEntry& e) const { return file_.read(data_offset(e), e.size); }

 private:
  const InputFile& file_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> by_name_;

  void read_central_directory() {
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
    if (eocd < 0) corrupt(file_.path(), "no end of central directory; the file is truncated");
    const uint8_t* e = &tail[eocd];
    uint64_t count = rd16(e + 10), cd_size = rd32(e + 12), cd_offset = rd32(e + 16);
    const bool has_locator = eocd >= 20 && rd32(&tail[eocd - 20]) == 0x07064b50;
    if (cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu || (count == 0xFFFF && has_locator)) {
      // zip64: a locator just before the EOCD points to the zip64 end record. (Exactly 65535
      // entries without a locator is a plain zip.)
      if (!has_locator) corrupt(file_.path(), "missing zip64 locator");
      uint64_t z64 = rd64(&tail[eocd - 20 + 8]);
      uint8_t r[56];
      file_.read(z64, r, 56);
      if (rd32(r) != 0x06064b50) corrupt(file_.path(), "bad zip64 end record");
      count = rd64(r + 32); cd_size = rd64(r + 40); cd_offset = rd64(r + 48);
    }
    if (cd_offset > fsize || cd_size > fsize - cd_offset) corrupt(file_.path(), "central directory outside the file");
    if (count > cd_size / 46) corrupt(file_.path(), "entry count larger than the central directory");
    std::vector<uint8_t> cd = file_.read(cd_offset, cd_size);
    size_t pos = 0;
    entries_.reserve(static_cast<size_t>(count));
    for (uint64_t i = 0; i < count; ++i) {
      if (pos + 46 > cd.size() || rd32(&cd[pos]) != 0x02014b50) corrupt(file_.path(), "bad central directory entry");
      const uint8_t* h = &cd[pos];
      ZipEntry z;
      z.method = rd16(h + 10);
      z.compressed_size = rd32(h + 20);
      z.size = rd32(h + 24);
      size_t name_len = rd16(h + 28), extra_len = rd16(h + 30), comment_len = rd16(h + 32);
      z.local_header_offset = rd32(h + 42);
      if (pos + 46 + name_len + extra_len + comment_len > cd.size()) corrupt(file_.path(), "central directory entry overruns");
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
            if (q + 8 > end) corrupt(file_.path(), "short zip64 extra field");
            field = rd64(x + q); q += 8;
          };
          take(z.size); take(z.compressed_size); take(z.local_header_offset);
        }
        xp += 4 + len;
      }
      if (z.method == 0 && z.compressed_size != z.size) corrupt(file_.path(), "stored entry with differing sizes");
      if (z.local_header_offset >= fsize) corrupt(file_.path(), "entry offset outside the file");
      by_name_.emplace(z.name, entries_.size());
      entries_.push_back(std::move(z));
      pos += 46 + name_len + extra_len + comment_len;
    }
  }

  [[noreturn]] void not_zip() const {
    throw EngineError("E_PTH_NOT_ZIP", file_.path() + ": not a PyTorch checkpoint (not a zip archive)",
                      "give a .pth file written by torch.save (PyTorch 1.6 or newer)");
  }
};

// ---- the pickle subset ----------------------------------------------------------------------

struct PValue;
using PRef = std::shared_ptr<PValue>;

struct PValue {
  enum class T { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Storage, Tensor } t = T::None;
  int64_t i = 0;
  double f = 0;
  std::string s, s2;                      // Str; Global module (s) and name (s2)
  std::vector<PRef> items;                // Tuple, List
  std::vector<std::pair<PRef, PRef>> dict;  // Dict, in insertion order
  DType dtype = DType::F32;               // Storage
  int64_t numel = 0;                      // Storage
  TensorInfo tensor;                      // Tensor (name filled in later)
};

PRef make(PValue::T t) { auto v = std::make_shared<PValue>(); v->t = t; return v; }

bool storage_dtype(const std::string& name, DType& out) {
  static const std::pair<const char*, DType> kTable[] = {
      {"FloatStorage", DType::F32}, {"HalfStorage", DType::F16}, {"BFloat16Storage", DType::BF16},
      {"DoubleStorage", DType::F64}, {"LongStorage", DType::I64}, {"IntStorage", DType::I32},
      {"ShortStorage", DType::I16}, {"ByteStorage", DType::U8}, {"CharStorage", DType::I8},
      {"BoolStorage", DType::Bool}};
  for (const auto& e : kTable)
    if (name == e.first) { out = e.second; return true; }
  return false;
}

class Unpickler {
 public:
  Unpickler(const std::vector<uint8_t>& data, const std::string& path) : d_(data), path_(path) {}

  PRef run() {
    for (;;) {
      uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                         // PROTO n
        case 0x95: bytes(8); break;                       // FRAME (length only)
        case '.': if (stack_.size() != 1) fail("STOP with a stack of " + std::to_string(stack_.size())); return stack_.back();
        case '(': marks_.push_back(stack_.size()); break; // MARK
        case 'N': push(make(PValue::T::None)); break;
        case 0x88: case 0x89: { auto v = make(PValue::T::Bool); v->i = op == 0x88; push(v); break; }
        case 'J': { auto v = make(PValue::T::Int); v->i = static_cast<int32_t>(rd32(bytes(4))); push(v); break; }
        case 'K': { auto v = make(PValue::T::Int); v->i = byte(); push(v); break; }
        case 'M': { auto v = make(PValue::T::Int); v->i = rd16(bytes(2)); push(v); break; }
        case 0x8a: {                                      // LONG1: little-endian two's complement
          size_t n = byte();
          if (n > 8) fail("integer wider than 64 bits");
          const uint8_t* p = bytes(n);
          uint64_t u = 0;
          for (size_t k = 0; k < n; ++k) u |= static_cast<uint64_t>(p[k]) << (8 * k);
          if (n > 0 && n < 8 && (p[n - 1] & 0x80)) u |= ~uint64_t{0} << (8 * n);
          auto v = make(PValue::T::Int); v->i = static_cast<int64_t>(u); push(v); break;
        }
        case 'G': {                                       // BINFLOAT: big-endian double
          const uint8_t* p = bytes(8);
          uint64_t u = 0;
          for (int k = 0; k < 8; ++k) u = (u << 8) | p[k];
          auto v = make(PValue::T::Float); std::memcpy(&v->f, &u, 8); push(v); break;
        }
        case 'X': push_str(rd32(bytes(4))); break;        // BINUNICODE
        case 0x8c: push_str(byte()); break;               // SHORT_BINUNICODE
        case 0x8d: push_str(rd64(bytes(8))); break;       // BINUNICODE8
        case 'U': push_str(byte()); break;                // SHORT_BINSTRING
        case 'T': push_str(rd32(bytes(4))); break;        // BINSTRING
        case 'C': push_str(byte()); break;                // SHORT_BINBYTES (kept as a string)
        case 'B': push_str(rd32(bytes(4))); break;        // BINBYTES
        case ')': push(make(PValue::T::Tuple)); break;
        case ']': push(make(PValue::T::List)); break;
        case '}': push(make(PValue::T::Dict)); break;
        case 't': { auto v = make(PValue::T::Tuple); v->items = pop_mark(); push(v); break; }
        case 'l': { auto v = make(PValue::T::List); v->items = pop_mark(); push(v); break; }
        case 'd': { auto v = make(PValue::T::Dict); add_pairs(*v, pop_mark()); push(v); break; }
        case 0x85: case 0x86: case 0x87: {                // TUPLE1..3
          size_t n = op - 0x84u;
          need(n);
          auto v = make(PValue::T::Tuple);
          v->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push(v); break;
        }
        case 'a': { PRef x = pop(); list_of(top())->items.push_back(x); break; }              // APPEND
        case 'e': { auto xs = pop_mark(); auto l = list_of(top()); l->items.insert(l->items.end(), xs.begin(), xs.end()); break; }
        case 's': { PRef v = pop(); PRef k = pop(); dict_of(top())->dict.emplace_back(k, v); break; }  // SETITEM
        case 'u': { auto xs = pop_mark(); add_pairs(*dict_of(top()), xs); break; }            // SETITEMS
        case 'c': {                                       // GLOBAL "module\nname\n"
          auto v = make(PValue::T::Global); v->s = line(); v->s2 = line(); push(v); break;
        }
        case 0x93: {                                      // STACK_GLOBAL
          PRef name = pop(), module = pop();
          if (module->t != PValue::T::Str || name->t != PValue::T::Str) fail("STACK_GLOBAL needs two strings");
          auto v = make(PValue::T::Global); v->s = module->s; v->s2 = name->s; push(v); break;
        }
        case 'q': memo_put(byte()); break;                // BINPUT
        case 'r': memo_put(rd32(bytes(4))); break;        // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;         // MEMOIZE
        case 'h': memo_get(byte()); break;                // BINGET
        case 'j': memo_get(rd32(bytes(4))); break;        // LONG_BINGET
        case 'Q': { PRef pid = pop(); push(persistent_load(*pid)); break; }  // BINPERSID
        case 'R': { PRef args = pop(); PRef fn = pop(); push(reduce(*fn, *args)); break; }
        case 0x81: { PRef args = pop(); PRef cls = pop(); push(reduce(*cls, *args)); break; }  // NEWOBJ
        case 'b': pop(); need(1); break;                  // BUILD: object state (e.g. _metadata) is not needed
        case '0': pop(); break;                           // POP
        case '1': pop_mark(); break;                      // POP_MARK
        case '2': need(1); push(stack_.back()); break;    // DUP
        default: {
          char buf[8];
          std::snprintf(buf, sizeof buf, "0x%02x", op);
          throw EngineError("E_PTH_UNSUPPORTED", path_ + ": data.pkl uses pickle opcode " + buf + " at byte " +
                            std::to_string(pos_ - 1) + ", outside what torch.save writes for a state dict",
                            "save a plain state dict: torch.save(model.state_dict(), path)");
        }
      }
    }
  }

 private:
  const std::vector<uint8_t>& d_;
  const std::string& path_;
  size_t pos_ = 0;
  std::vector<PRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PRef> memo_;

  [[noreturn]] void fail(const std::string& what) const {
    throw EngineError("E_PTH_CORRUPT", path_ + ": malformed data.pkl (" + what + " at byte " + std::to_string(pos_) + ")",
                      "the checkpoint is damaged or was not written by torch.save; save it again");
  }
  uint8_t byte() { return *bytes(1); }
  const uint8_t* bytes(uint64_t n) {
    if (n > d_.size() - pos_) fail("unexpected end of pickle");
    const uint8_t* p = d_.data() + pos_;
    pos_ += static_cast<size_t>(n);
    return p;
  }
  std::string line() {
    size_t start = pos_;
    while (pos_ < d_.size() && d_[pos_] != '\n') ++pos_;
    if (pos_ >= d_.size()) fail("unterminated GLOBAL");
    std::string s(reinterpret_cast<const char*>(d_.data() + start), pos_ - start);
    ++pos_;
    return s;
  }
  void push_str(uint64_t n) {
    const uint8_t* p = bytes(n);
    auto v = make(PValue::T::Str);
    v->s.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
    push(v);
  }
  void push(PRef v) {
    if (stack_.size() > (1u << 22)) fail("stack too deep");
    stack_.push_back(std::move(v));
  }
  void need(size_t n) const { if (stack_.size() < n || (!marks_.empty() && stack_.size() - n < marks_.back())) fail("stack underflow"); }
  PRef pop() { need(1); PRef v = stack_.back(); stack_.pop_back(); return v; }
  PRef& top() { need(1); return stack_.back(); }
  std::vector<PRef> pop_mark() {
    if (marks_.empty()) fail("no MARK on the stack");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PRef> xs(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return xs;
  }
  void memo_put(uint64_t k) {
    if (stack_.empty()) fail("memo put on an empty stack");
    if (memo_.size() > (1u << 24)) fail("memo too large");
    memo_[k] = stack_.back();
  }
  void memo_get(uint64_t k) {
    auto it = memo_.find(k);
    if (it == memo_.end()) fail("memo key " + std::to_string(k) + " missing");
    push(it->second);
  }
  PValue* list_of(const PRef& v) { if (v->t != PValue::T::List) fail("APPEND to a non-list"); return v.get(); }
  PValue* dict_of(const PRef& v) { if (v->t != PValue::T::Dict) fail("SETITEM on a non-dict"); return v.get(); }
  void add_pairs(PValue& dict, const std::vector<PRef>& xs) {
    if (xs.size() % 2) fail("odd number of items for a dict");
    for (size_t k = 0; k < xs.size(); k += 2) dict.dict.emplace_back(xs[k], xs[k + 1]);
  }

  int64_t as_int(const PValue& v, const char* what) const {
    if (v.t != PValue::T::Int && v.t != PValue::T::Bool) fail(std::string(what) + " is not an integer");
    return v.i;
  }
  std::vector<int64_t> int_tuple(const PValue& v, const char* what) const {
    if (v.t != PValue::T::Tuple && v.t != PValue::T::List) fail(std::string(what) + " is not a tuple");
    std::vector<int64_t> out;
    for (const auto& x : v.items) {
      int64_t n = as_int(*x, what);
      if (n < 0) fail(std::string(what) + " has a negative value");
      out.push_back(n);
    }
    return out;
  }

  // ('storage', torch.XStorage, key, location, numel)
  PRef persistent_load(const PValue& pid) {
    if (pid.t != PValue::T::Tuple || pid.items.size() < 5 || pid.items[0]->t != PValue::T::Str ||
        pid.items[0]->s != "storage")
      fail("persistent id is not a torch storage");
    const PValue& type = *pid.items[1];
    auto v = make(PValue::T::Storage);
    if (type.t != PValue::T::Global || type.s != "torch" || !storage_dtype(type.s2, v->dtype))
      throw EngineError("E_PTH_UNSUPPORTED", path_ + ": unsupported storage type " + type.s + "." + type.s2,
                        "tensors must be float32, float16, bfloat16, float64 or integer");
    if (pid.items[2]->t != PValue::T::Str) fail("storage key is not a string");
    v->s = pid.items[2]->s;
    v->numel = as_int(*pid.items[4], "storage size");
    if (v->numel < 0) fail("negative storage size");
    return v;
  }

  PRef reduce(const PValue& fn, const PValue& args) {
    if (fn.t != PValue::T::Global) fail("REDUCE of a non-callable");
    if (args.t != PValue::T::Tuple) fail("REDUCE arguments are not a tuple");
    const std::string qual = fn.s + "." + fn.s2;
    const auto& a = args.items;
    if (qual == "collections.OrderedDict" || qual == "builtins.dict" || qual == "__builtin__.dict") {
      if (!a.empty()) fail("OrderedDict with arguments");
      return make(PValue::T::Dict);
    }
    if (qual == "torch._utils._rebuild_tensor_v2" || qual == "torch._utils._rebuild_tensor") {
      if (a.size() < 4 || a[0]->t != PValue::T::Storage) fail("_rebuild_tensor_v2 arguments");
      auto v = make(PValue::T::Tensor);
      v->tensor.dtype = a[0]->dtype;
      v->tensor.storage_key = a[0]->s;
      v->tensor.storage_offset = as_int(*a[1], "storage offset");
      if (v->tensor.storage_offset < 0) fail("negative storage offset");
      v->tensor.shape = int_tuple(*a[2], "size");
      v->tensor.stride = int_tuple(*a[3], "stride");
      if (v->tensor.shape.size() != v->tensor.stride.size()) fail("size and stride differ in length");
      v->numel = a[0]->numel;  // the storage's element count, to bound-check the view
      return v;
    }
    if (qual == "torch._utils._rebuild_parameter" || qual == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || a[0]->t != PValue::T::Tensor) fail("_rebuild_parameter arguments");
      return a[0];
    }
    throw EngineError("E_PTH_UNSUPPORTED", path_ + ": data.pkl calls " + qual + ", outside the state-dict subset",
                      "save a plain state dict of tensors: torch.save(model.state_dict(), path)");
  }
};

struct ParsedPth {
  std::vector<TensorInfo> tensors;
  std::vector<int64_t> storage_numel;  // parallel to tensors
  std::string prefix;                  // "archive/" (torch names it after the file)
};

// Flattens (possibly nested) dicts of tensors into names "a.b"; other values are skipped.
// `budget` bounds the entries visited: memoized dicts can be shared, so a few bytes of pickle
// could otherwise name exponentially many paths.
void collect(const PValue& dict, const std::string& prefix, int depth, ParsedPth& out, const std::string& path,
             size_t& budget) {
  if (depth > 16) corrupt(path, "dicts nested too deeply");
  for (const auto& kv : dict.dict) {
    if (budget == 0) corrupt(path, "too many entries (shared sub-dicts?)");
    --budget;
    if (kv.first->t != PValue::T::Str) continue;
    const std::string name = prefix + kv.first->s;
    if (kv.second->t == PValue::T::Tensor) {
      TensorInfo info = kv.second->tensor;
      info.name = name;
      out.tensors.push_back(std::move(info));
      out.storage_numel.push_back(kv.second->numel);
    } else if (kv.second->t == PValue::T::Dict) {
      collect(*kv.second, name + ".", depth + 1, out, path, budget);
    }
  }
}

ParsedPth parse_pth(const InputFile& file, const ZipReader& zip) {
  ParsedPth out;
  const ZipEntry* pkl = nullptr;
  for (const auto& e : zip.entries()) {
    const std::string suffix = "data.pkl";
    if (e.name.size() >= suffix.size() && e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0 &&
        (e.name.size() == suffix.size() || e.name[e.name.size() - suffix.size() - 1] == '/')) {
      if (e.name.find('/') == e.name.size() - suffix.size() - 1 || e.name == suffix) { pkl = &e; break; }
    }
  }
  if (!pkl) corrupt(file.path(), "no data.pkl in the archive");
  out.prefix = pkl->name.substr(0, pkl->name.size() - 8);
  if (pkl->size > (1ull << 31)) corrupt(file.path(), "data.pkl is implausibly large");
  std::vector<uint8_t> data = zip.read_entry(*pkl);
  PRef root = Unpickler(data, file.path()).run();
  if (root->t != PValue::T::Dict)
    throw EngineError("E_PTH_UNSUPPORTED", file.path() + ": the checkpoint is not a dict of tensors",
                      "save a state dict: torch.save(model.state_dict(), path)");
  size_t budget = std::max<size_t>(1u << 20, data.size());  // a real entry costs > 1 pickle byte
  collect(*root, "", 0, out, file.path(), budget);
  return out;
}

// Checks a view against its storage: every element it addresses must lie inside.
void check_view(const TensorInfo& t, int64_t storage_numel, const std::string& path) {
  const int64_t kMax = std::numeric_limits<int64_t>::max() / 16;
  int64_t numel = 1, last = t.storage_offset;
  for (size_t d = 0; d < t.shape.size(); ++d) {
    if (t.shape[d] == 0) return;  // empty tensor addresses nothing
    if (t.shape[d] > kMax / numel) corrupt(path, t.name + " has an absurd shape");
    numel *= t.shape[d];
    if (t.stride[d] != 0 && t.shape[d] - 1 > (kMax - last) / t.stride[d]) corrupt(path, t.name + " has an absurd stride");
    last += (t.shape[d] - 1) * t.stride[d];
  }
  if (last >= storage_numel) corrupt(path, t.name + " reaches past the end of its storage");
  // A zero stride repeats elements; torch.save keeps such views, but a tiny storage claiming a
  // huge broadcast view is far more likely a hostile file than a real checkpoint.
  if (numel > storage_numel && numel > (int64_t{1} << 24)) corrupt(path, t.name + " is an implausible broadcast view");
}

// Row-major with no gaps (dimensions of size 1 may carry any stride).
bool is_contiguous(const TensorInfo& t) {
  int64_t expected = 1;
  for (size_t d = t.shape.size(); d-- > 0;) {
    if (t.shape[d] != 1 && t.stride[d] != expected) return false;
    expected *= t.shape[d];
  }
  return true;
}

}  // namespace

std::vector<TensorInfo> read_pth_header(const std::string& path) {
  InputFile file(path);
  ZipReader zip(file);
  ParsedPth parsed = parse_pth(file, zip);
  for (size_t i = 0; i < parsed.tensors.size(); ++i) check_view(parsed.tensors[i], parsed.storage_numel[i], path);
  return parsed.tensors;
}

StateDict load_pth(const std::string& path) {
  InputFile file(path);
  ZipReader zip(file);
  ParsedPth parsed = parse_pth(file, zip);
  StateDict out;
  out.reserve(parsed.tensors.size());
  // Storages are read once each: several tensors may be views of one storage. The common case
  // (a storage used by one contiguous tensor) is read straight into the tensor, so loading a
  // large model does not hold two copies.
  std::unordered_map<std::string, std::vector<uint8_t>> storages;
  std::unordered_map<std::string, int> uses;
  for (const TensorInfo& t : parsed.tensors) ++uses[t.storage_key];
  for (size_t i = 0; i < parsed.tensors.size(); ++i) {
    const TensorInfo& t = parsed.tensors[i];
    check_view(t, parsed.storage_numel[i], path);
    const size_t esize = dtype_size(t.dtype);
    if (uses[t.storage_key] == 1 && is_contiguous(t)) {
      const ZipEntry* e = zip.find(parsed.prefix + "data/" + t.storage_key);
      if (!e) corrupt(path, "storage data/" + t.storage_key + " of " + t.name + " is missing");
      if (static_cast<uint64_t>(parsed.storage_numel[i]) > e->size / esize)
        corrupt(path, "storage data/" + t.storage_key + " is shorter than its declared size");
      HostTensor h;
      h.dtype = t.dtype;
      h.shape = t.shape;
      h.bytes.resize(static_cast<size_t>(h.numel()) * esize);
      if (!h.bytes.empty())
        file.read(zip.data_offset(*e) + static_cast<uint64_t>(t.storage_offset) * esize, h.bytes.data(), h.bytes.size());
      out.emplace_back(t.name, std::move(h));
      continue;
    }
    auto it = storages.find(t.storage_key);
    if (it == storages.end()) {
      const ZipEntry* e = zip.find(parsed.prefix + "data/" + t.storage_key);
      if (!e) corrupt(path, "storage data/" + t.storage_key + " of " + t.name + " is missing");
      if (static_cast<uint64_t>(parsed.storage_numel[i]) > e->size / esize)
        corrupt(path, "storage data/" + t.storage_key + " is shorter than its declared size");
      it = storages.emplace(t.storage_key, zip.read_entry(*e)).first;
    }
    const std::vector<uint8_t>& src = it->second;
    if (static_cast<uint64_t>(parsed.storage_numel[i]) > src.size() / esize)
      corrupt(path, "storage data/" + t.storage_key + " is shared with differing sizes");
    HostTensor h;
    h.dtype = t.dtype;
    h.shape = t.shape;
    const int64_t numel = h.numel();
    h.bytes.resize(static_cast<size_t>(numel) * esize);
    // Gather the strided view into row-major order with an odometer over the dimensions.
    const size_t rank = t.shape.size();
    std::vector<int64_t> index(rank, 0);
    int64_t src_elem = t.storage_offset;
    for (int64_t n = 0; n < numel; ++n) {
      std::memcpy(&h.bytes[static_cast<size_t>(n) * esize], &src[static_cast<size_t>(src_elem) * esize], esize);
      for (size_t d = rank; d-- > 0;) {
        if (++index[d] < t.shape[d]) { src_elem += t.stride[d]; break; }
        src_elem -= (t.shape[d] - 1) * t.stride[d];
        index[d] = 0;
      }
    }
    out.emplace_back(t.name, std::move(h));
  }
  return out;
}

// ---- writing --------------------------------------------------------------------------------

namespace {

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

void put16(std::vector<uint8_t>& b, uint16_t v) { b.push_back(v & 0xFF); b.push_back(v >> 8); }
void put32(std::vector<uint8_t>& b, uint32_t v) { put16(b, v & 0xFFFF); put16(b, v >> 16); }
void put64(std::vector<uint8_t>& b, uint64_t v) { put32(b, static_cast<uint32_t>(v)); put32(b, static_cast<uint32_t>(v >> 32)); }

// Pickle writer for the exact shape torch.save gives a state dict (protocol 2, no memo).
class PickleWriter {
 public:
  std::vector<uint8_t> out;
  void op(uint8_t c) { out.push_back(c); }
  void global(const char* module, const char* name) {
    op('c');
    for (const char* p = module; *p; ++p) out.push_back(static_cast<uint8_t>(*p));
    out.push_back('\n');
    for (const char* p = name; *p; ++p) out.push_back(static_cast<uint8_t>(*p));
    out.push_back('\n');
  }
  void str(const std::string& s) {
    op('X');
    put32(out, static_cast<uint32_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) { op('K'); out.push_back(static_cast<uint8_t>(v)); }
    else if (v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max()) {
      op('J'); put32(out, static_cast<uint32_t>(static_cast<int32_t>(v)));
    } else { op(0x8a); out.push_back(8); put64(out, static_cast<uint64_t>(v)); }
  }
};

const char* storage_name(DType dt) {
  switch (dt) {
    case DType::F32: return "FloatStorage";
    case DType::F16: return "HalfStorage";
    case DType::BF16: return "BFloat16Storage";
    case DType::F64: return "DoubleStorage";
    case DType::I64: return "LongStorage";
    case DType::I32: return "IntStorage";
    case DType::I16: return "ShortStorage";
    case DType::U8: return "ByteStorage";
    case DType::I8: return "CharStorage";
    case DType::Bool: return "BoolStorage";
  }
  return "FloatStorage";
}

std::vector<uint8_t> state_dict_pickle(const StateDict& tensors) {
  PickleWriter w;
  w.op(0x80); w.op(2);
  w.global("collections", "OrderedDict");
  w.op(')'); w.op('R');
  w.op('(');
  for (size_t i = 0; i < tensors.size(); ++i) {
    const HostTensor& t = tensors[i].second;
    w.str(tensors[i].first);
    w.global("torch._utils", "_rebuild_tensor_v2");
    w.op('(');
    w.op('(');
    w.str("storage");
    w.global("torch", storage_name(t.dtype));
    w.str(std::to_string(i));
    w.str("cpu");
    w.integer(t.numel());
    w.op('t');
    w.op('Q');
    w.integer(0);
    w.op('(');
    for (int64_t d : t.shape) w.integer(d);
    w.op('t');
    w.op('(');
    int64_t stride = 1;
    std::vector<int64_t> strides(t.shape.size());
    for (size_t d = t.shape.size(); d-- > 0;) { strides[d] = stride; stride *= t.shape[d]; }
    for (int64_t s : strides) w.integer(s);
    w.op('t');
    w.op(0x89);  // requires_grad = False
    w.global("collections", "OrderedDict");
    w.op(')'); w.op('R');  // backward_hooks
    w.op('t');
    w.op('R');
  }
  w.op('u');
  w.op('.');
  return w.out;
}

struct WrittenEntry {
  std::string name;
  uint32_t crc = 0;
  uint64_t size = 0, offset = 0;
};

// Local header whose extra field pads the data start to 64 bytes, as torch's writer does
// (extra id "FB", filled with 'Z'), so readers can mmap tensor data aligned.
void write_entry(AtomicFile& f, const std::string& name, const std::vector<const std::vector<uint8_t>*>& parts,
                 const uint8_t* raw, uint64_t raw_size, std::vector<WrittenEntry>& written) {
  WrittenEntry e;
  e.name = name;
  e.offset = f.offset();
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
  f.write(h);
  if (raw) f.write(raw, static_cast<size_t>(raw_size));
  for (auto* p : parts) f.write(*p);
  written.push_back(e);
}

void write_central_directory(AtomicFile& f, const std::vector<WrittenEntry>& entries) {
  const uint64_t cd_start = f.offset();
  std::vector<uint8_t> cd;
  for (const auto& e : entries) {
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
  f.write(cd);
  const uint64_t cd_end = f.offset();
  const bool z64 = cd_start >= 0xFFFFFFFFu || cd.size() >= 0xFFFFFFFFu || entries.size() >= 0xFFFF;
  std::vector<uint8_t> tail;
  if (z64) {
    put32(tail, 0x06064b50); put64(tail, 44); put16(tail, 45); put16(tail, 45);
    put32(tail, 0); put32(tail, 0);
    put64(tail, entries.size()); put64(tail, entries.size());
    put64(tail, cd.size()); put64(tail, cd_start);
    put32(tail, 0x07064b50); put32(tail, 0); put64(tail, cd_end); put32(tail, 1);
  }
  put32(tail, 0x06054b50);
  put16(tail, 0); put16(tail, 0);
  put16(tail, z64 ? 0xFFFF : static_cast<uint16_t>(entries.size()));
  put16(tail, z64 ? 0xFFFF : static_cast<uint16_t>(entries.size()));
  put32(tail, z64 ? 0xFFFFFFFFu : static_cast<uint32_t>(cd.size()));
  put32(tail, z64 ? 0xFFFFFFFFu : static_cast<uint32_t>(cd_start));
  put16(tail, 0);
  f.write(tail);
}

}  // namespace

void save_pth(const std::string& path, const StateDict& tensors) {
  for (const auto& kv : tensors) {
    const HostTensor& t = kv.second;
    if (t.numel() < 0 || t.bytes.size() != static_cast<size_t>(t.numel()) * dtype_size(t.dtype))
      throw EngineError("E_TENSOR_SIZE", "save_pth: tensor " + kv.first + " has " + std::to_string(t.bytes.size()) +
                        " bytes for " + std::to_string(t.numel()) + " elements of " + dtype_name(t.dtype));
  }
  AtomicFile f(path);
  std::vector<WrittenEntry> written;
  const std::vector<uint8_t> pkl = state_dict_pickle(tensors);
  const std::vector<uint8_t> byteorder = {'l', 'i', 't', 't', 'l', 'e'};
  const std::vector<uint8_t> version = {'3', '\n'};
  write_entry(f, "archive/data.pkl", {&pkl}, nullptr, 0, written);
  write_entry(f, "archive/byteorder", {&byteorder}, nullptr, 0, written);
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& b = tensors[i].second.bytes;
    write_entry(f, "archive/data/" + std::to_string(i), {}, b.data(), b.size(), written);
  }
  write_entry(f, "archive/version", {&version}, nullptr, 0, written);
  write_central_directory(f, written);
  f.commit();
}

}  // namespace rwkv
