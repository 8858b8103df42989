// The pickle machine and writer. See pickle.h.
#include "core/pickle.h"

#include <cstdio>
#include <cstring>

#include "core/errors.h"

namespace rwkv {

using le::rd16;
using le::rd32;
using le::rd64;

PRef make_pvalue(PValue::T t) { auto v = std::make_shared<PValue>(); v->t = t; return v; }

namespace {
PRef make(PValue::T t) { return make_pvalue(t); }
}  // namespace

PRef Unpickler::run() {
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

void Unpickler::fail(const std::string& what) const {
  throw EngineError("E_PTH_CORRUPT", path_ + ": malformed data.pkl (" + what + " at byte " + std::to_string(pos_) + ")",
                    "the checkpoint is damaged or was not written by torch.save; save it again");
}

const uint8_t* Unpickler::bytes(uint64_t n) {
  if (n > d_.size() - pos_) fail("unexpected end of pickle");
  const uint8_t* p = d_.data() + pos_;
  pos_ += static_cast<size_t>(n);
  return p;
}

std::string Unpickler::line() {
  size_t start = pos_;
  while (pos_ < d_.size() && d_[pos_] != '\n') ++pos_;
  if (pos_ >= d_.size()) fail("unterminated GLOBAL");
  std::string s(reinterpret_cast<const char*>(d_.data() + start), pos_ - start);
  ++pos_;
  return s;
}

void Unpickler::push_str(uint64_t n) {
  const uint8_t* p = bytes(n);
  auto v = make(PValue::T::Str);
  v->s.assign(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
  push(v);
}

void Unpickler::push(PRef v) {
  if (stack_.size() > (1u << 22)) fail("stack too deep");
  stack_.push_back(std::move(v));
}

void Unpickler::need(size_t n) const {
  if (stack_.size() < n || (!marks_.empty() && stack_.size() - n < marks_.back())) fail("stack underflow");
}

PRef Unpickler::pop() { need(1); PRef v = stack_.back(); stack_.pop_back(); return v; }

PRef& Unpickler::top() { need(1); return stack_.back(); }

std::vector<PRef> Unpickler::pop_mark() {
  if (marks_.empty()) fail("no MARK on the stack");
  size_t m = marks_.back();
  marks_.pop_back();
  std::vector<PRef> xs(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
  stack_.resize(m);
  return xs;
}

void Unpickler::memo_put(uint64_t k) {
  if (stack_.empty()) fail("memo put on an empty stack");
  if (memo_.size() > (1u << 24)) fail("memo too large");
  memo_[k] = stack_.back();
}

void Unpickler::memo_get(uint64_t k) {
  auto it = memo_.find(k);
  if (it == memo_.end()) fail("memo key " + std::to_string(k) + " missing");
  push(it->second);
}

PValue* Unpickler::list_of(const PRef& v) { if (v->t != PValue::T::List) fail("APPEND to a non-list"); return v.get(); }

PValue* Unpickler::dict_of(const PRef& v) { if (v->t != PValue::T::Dict) fail("SETITEM on a non-dict"); return v.get(); }

void Unpickler::add_pairs(PValue& dict, const std::vector<PRef>& xs) {
  if (xs.size() % 2) fail("odd number of items for a dict");
  for (size_t k = 0; k < xs.size(); k += 2) dict.dict.emplace_back(xs[k], xs[k + 1]);
}

int64_t Unpickler::as_int(const PValue& v, const char* what) const {
  if (v.t != PValue::T::Int && v.t != PValue::T::Bool) fail(std::string(what) + " is not an integer");
  return v.i;
}

std::vector<int64_t> Unpickler::int_tuple(const PValue& v, const char* what) const {
  if (v.t != PValue::T::Tuple && v.t != PValue::T::List) fail(std::string(what) + " is not a tuple");
  std::vector<int64_t> out;
  for (const auto& x : v.items) {
    int64_t n = as_int(*x, what);
    if (n < 0) fail(std::string(what) + " has a negative value");
    out.push_back(n);
  }
  return out;
}

PRef Unpickler::persistent_load(const PValue&) { fail("persistent id is not a torch storage"); }

PRef Unpickler::reduce(const PValue& fn, const PValue& args) {
  if (fn.t != PValue::T::Global) fail("REDUCE of a non-callable");
  if (args.t != PValue::T::Tuple) fail("REDUCE arguments are not a tuple");
  const std::string qual = fn.s + "." + fn.s2;
  if (qual == "collections.OrderedDict" || qual == "builtins.dict" || qual == "__builtin__.dict") {
    if (!args.items.empty()) fail("OrderedDict with arguments");
    return make(PValue::T::Dict);
  }
  throw EngineError("E_PTH_UNSUPPORTED", path_ + ": data.pkl calls " + qual + ", outside the state-dict subset",
                    "save a plain state dict of tensors: torch.save(model.state_dict(), path)");
}

}  // namespace rwkv
