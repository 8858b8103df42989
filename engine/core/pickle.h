// A pickle machine for the opcodes torch.save emits (protocols 2 to 5), and a protocol-2 writer.
// Nothing is ever called or imported: GLOBAL yields a value naming the callable, and REDUCE/NEWOBJ
// and persistent ids go to hooks a subclass overrides (core/pth.cpp's torch layout builds
// storages and tensors there). Malformed input is EngineError(E_PTH_CORRUPT), an opcode or a
// callable outside the subset is E_PTH_UNSUPPORTED; both name the file and the byte.
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/little_endian.h"

namespace rwkv {

struct PValue;
using PRef = std::shared_ptr<PValue>;

struct PValue {
  enum class T { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Object } t = T::None;
  int64_t i = 0;                          // Int, Bool; Object: the hook's index for it
  double f = 0;
  std::string s, s2;                      // Str; Global module (s) and name (s2); Object: its kind (s)
  std::vector<PRef> items;                // Tuple, List
  std::vector<std::pair<PRef, PRef>> dict;  // Dict, in insertion order
};

PRef make_pvalue(PValue::T t);

class Unpickler {
 public:
  Unpickler(const std::vector<uint8_t>& data, const std::string& path) : d_(data), path_(path) {}
  virtual ~Unpickler() = default;

  PRef run();  // the value STOP leaves

  [[noreturn]] void fail(const std::string& what) const;  // E_PTH_CORRUPT at the current byte
  int64_t as_int(const PValue& v, const char* what) const;
  std::vector<int64_t> int_tuple(const PValue& v, const char* what) const;  // non-negative ints

 protected:
  // BINPERSID: the base refuses every persistent id.
  virtual PRef persistent_load(const PValue& pid);
  // REDUCE and NEWOBJ: the base builds empty dicts (collections.OrderedDict(), dict()) only.
  virtual PRef reduce(const PValue& fn, const PValue& args);

  const std::string& path() const { return path_; }

 private:
  const std::vector<uint8_t>& d_;
  const std::string& path_;
  size_t pos_ = 0;
  std::vector<PRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PRef> memo_;

  uint8_t byte() { return *bytes(1); }
  const uint8_t* bytes(uint64_t n);
  std::string line();
  void push_str(uint64_t n);
  void push(PRef v);
  void need(size_t n) const;
  PRef pop();
  PRef& top();
  std::vector<PRef> pop_mark();
  void memo_put(uint64_t k);
  void memo_get(uint64_t k);
  PValue* list_of(const PRef& v);
  PValue* dict_of(const PRef& v);
  void add_pairs(PValue& dict, const std::vector<PRef>& xs);
};

// Protocol-2 pickle writing, opcode by opcode (no memo).
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
    le::put32(out, static_cast<uint32_t>(s.size()));
    out.insert(out.end(), s.begin(), s.end());
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) { op('K'); out.push_back(static_cast<uint8_t>(v)); }
    else if (v >= std::numeric_limits<int32_t>::min() && v <= std::numeric_limits<int32_t>::max()) {
      op('J'); le::put32(out, static_cast<uint32_t>(static_cast<int32_t>(v)));
    } else { op(0x8a); out.push_back(8); le::put64(out, static_cast<uint64_t>(v)); }
  }
};

}  // namespace rwkv
