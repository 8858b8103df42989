// PyTorch .pth checkpoints: torch's layout on top of core/zip_archive (the archive) and
// core/pickle (data.pkl). See pth.h.
//
// Reading: only the `*/data.pkl` entry is read and run through the pickle machine with torch's
// storages and tensors; tensor bytes are read only by load_pth, per storage entry. Every view is
// checked against its storage before use: a hostile or truncated file gives an EngineError,
// never out-of-bounds access.
#include "core/pth.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_map>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/pickle.h"
#include "core/zip_archive.h"

namespace rwkv {
namespace {

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

// What torch.save's pickle holds besides dicts: storages (persistent ids) and the tensors
// _rebuild_tensor_v2 makes of them. The pickle machine keeps them as Objects indexing these.
struct StorageRef {
  DType dtype = DType::F32;
  std::string key;  // the entry under archive/data/
  int64_t numel = 0;
};
struct TensorRef {
  TensorInfo info;            // name filled in by collect
  int64_t storage_numel = 0;  // the storage's element count, to bound-check the view
};

class TorchUnpickler : public Unpickler {
 public:
  using Unpickler::Unpickler;

  const TensorRef* tensor_of(const PValue& v) const {
    return v.t == PValue::T::Object && v.s == "tensor" ? &tensors_[static_cast<size_t>(v.i)] : nullptr;
  }

 protected:
  // ('storage', torch.XStorage, key, location, numel)
  PRef persistent_load(const PValue& pid) override {
    if (pid.t != PValue::T::Tuple || pid.items.size() < 5 || pid.items[0]->t != PValue::T::Str ||
        pid.items[0]->s != "storage")
      fail("persistent id is not a torch storage");
    const PValue& type = *pid.items[1];
    StorageRef st;
    if (type.t != PValue::T::Global || type.s != "torch" || !storage_dtype(type.s2, st.dtype))
      throw EngineError("E_PTH_UNSUPPORTED", path() + ": unsupported storage type " + type.s + "." + type.s2,
                        "tensors must be float32, float16, bfloat16, float64 or integer");
    if (pid.items[2]->t != PValue::T::Str) fail("storage key is not a string");
    st.key = pid.items[2]->s;
    st.numel = as_int(*pid.items[4], "storage size");
    if (st.numel < 0) fail("negative storage size");
    storages_.push_back(std::move(st));
    return object("storage", storages_.size() - 1);
  }

  PRef reduce(const PValue& fn, const PValue& args) override {
    if (fn.t != PValue::T::Global) fail("REDUCE of a non-callable");
    if (args.t != PValue::T::Tuple) fail("REDUCE arguments are not a tuple");
    const std::string qual = fn.s + "." + fn.s2;
    const auto& a = args.items;
    if (qual == "torch._utils._rebuild_tensor_v2" || qual == "torch._utils._rebuild_tensor") {
      if (a.size() < 4 || a[0]->t != PValue::T::Object || a[0]->s != "storage") fail("_rebuild_tensor_v2 arguments");
      const StorageRef& st = storages_[static_cast<size_t>(a[0]->i)];
      TensorRef t;
      t.info.dtype = st.dtype;
      t.info.storage_key = st.key;
      t.info.storage_offset = as_int(*a[1], "storage offset");
      if (t.info.storage_offset < 0) fail("negative storage offset");
      t.info.shape = int_tuple(*a[2], "size");
      t.info.stride = int_tuple(*a[3], "stride");
      if (t.info.shape.size() != t.info.stride.size()) fail("size and stride differ in length");
      t.storage_numel = st.numel;
      tensors_.push_back(std::move(t));
      return object("tensor", tensors_.size() - 1);
    }
    if (qual == "torch._utils._rebuild_parameter" || qual == "torch._utils._rebuild_parameter_with_state") {
      if (a.empty() || !tensor_of(*a[0])) fail("_rebuild_parameter arguments");
      return a[0];
    }
    return Unpickler::reduce(fn, args);  // dicts, or E_PTH_UNSUPPORTED
  }

 private:
  std::vector<StorageRef> storages_;
  std::vector<TensorRef> tensors_;

  static PRef object(const char* kind, size_t index) {
    PRef v = make_pvalue(PValue::T::Object);
    v->s = kind;
    v->i = static_cast<int64_t>(index);
    return v;
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
void collect(const TorchUnpickler& u, const PValue& dict, const std::string& prefix, int depth, ParsedPth& out,
             const std::string& path, size_t& budget) {
  if (depth > 16) checkpoint_corrupt(path, "dicts nested too deeply");
  for (const auto& kv : dict.dict) {
    if (budget == 0) checkpoint_corrupt(path, "too many entries (shared sub-dicts?)");
    --budget;
    if (kv.first->t != PValue::T::Str) continue;
    const std::string name = prefix + kv.first->s;
    if (const TensorRef* t = u.tensor_of(*kv.second)) {
      TensorInfo info = t->info;
      info.name = name;
      out.tensors.push_back(std::move(info));
      out.storage_numel.push_back(t->storage_numel);
    } else if (kv.second->t == PValue::T::Dict) {
      collect(u, *kv.second, name + ".", depth + 1, out, path, budget);
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
  if (!pkl) checkpoint_corrupt(file.path(), "no data.pkl in the archive");
  out.prefix = pkl->name.substr(0, pkl->name.size() - 8);
  if (pkl->size > (1ull << 31)) checkpoint_corrupt(file.path(), "data.pkl is implausibly large");
  std::vector<uint8_t> data = zip.read_entry(*pkl);
  TorchUnpickler unpickler(data, file.path());
  PRef root = unpickler.run();
  if (root->t != PValue::T::Dict)
    throw EngineError("E_PTH_UNSUPPORTED", file.path() + ": the checkpoint is not a dict of tensors",
                      "save a state dict: torch.save(model.state_dict(), path)");
  size_t budget = std::max<size_t>(1u << 20, data.size());  // a real entry costs > 1 pickle byte
  collect(unpickler, *root, "", 0, out, file.path(), budget);
  return out;
}

// Checks a view against its storage: every element it addresses must lie inside.
void check_view(const TensorInfo& t, int64_t storage_numel, const std::string& path) {
  const int64_t kMax = std::numeric_limits<int64_t>::max() / 16;
  int64_t numel = 1, last = t.storage_offset;
  for (size_t d = 0; d < t.shape.size(); ++d) {
    if (t.shape[d] == 0) return;  // empty tensor addresses nothing
    if (t.shape[d] > kMax / numel) checkpoint_corrupt(path, t.name + " has an absurd shape");
    numel *= t.shape[d];
    if (t.stride[d] != 0 && t.shape[d] - 1 > (kMax - last) / t.stride[d]) checkpoint_corrupt(path, t.name + " has an absurd stride");
    last += (t.shape[d] - 1) * t.stride[d];
  }
  if (last >= storage_numel) checkpoint_corrupt(path, t.name + " reaches past the end of its storage");
  // A zero stride repeats elements; torch.save keeps such views, but a tiny storage claiming a
  // huge broadcast view is far more likely a hostile file than a real checkpoint.
  if (numel > storage_numel && numel > (int64_t{1} << 24)) checkpoint_corrupt(path, t.name + " is an implausible broadcast view");
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
      if (!e) checkpoint_corrupt(path, "storage data/" + t.storage_key + " of " + t.name + " is missing");
      if (static_cast<uint64_t>(parsed.storage_numel[i]) > e->size / esize)
        checkpoint_corrupt(path, "storage data/" + t.storage_key + " is shorter than its declared size");
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
      if (!e) checkpoint_corrupt(path, "storage data/" + t.storage_key + " of " + t.name + " is missing");
      if (static_cast<uint64_t>(parsed.storage_numel[i]) > e->size / esize)
        checkpoint_corrupt(path, "storage data/" + t.storage_key + " is shorter than its declared size");
      it = storages.emplace(t.storage_key, zip.read_entry(*e)).first;
    }
    const std::vector<uint8_t>& src = it->second;
    if (static_cast<uint64_t>(parsed.storage_numel[i]) > src.size() / esize)
      checkpoint_corrupt(path, "storage data/" + t.storage_key + " is shared with differing sizes");
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

}  // namespace

void save_pth(const std::string& path, const StateDict& tensors) {
  for (const auto& kv : tensors) {
    const HostTensor& t = kv.second;
    if (t.numel() < 0 || t.bytes.size() != static_cast<size_t>(t.numel()) * dtype_size(t.dtype))
      throw EngineError("E_TENSOR_SIZE", "save_pth: tensor " + kv.first + " has " + std::to_string(t.bytes.size()) +
                        " bytes for " + std::to_string(t.numel()) + " elements of " + dtype_name(t.dtype));
  }
  AtomicFile f(path);
  ZipWriter zip(f);
  const std::vector<uint8_t> pkl = state_dict_pickle(tensors);
  const std::vector<uint8_t> byteorder = {'l', 'i', 't', 't', 'l', 'e'};
  const std::vector<uint8_t> version = {'3', '\n'};
  zip.add("archive/data.pkl", {&pkl});
  zip.add("archive/byteorder", {&byteorder});
  for (size_t i = 0; i < tensors.size(); ++i) {
    const auto& b = tensors[i].second.bytes;
    zip.add("archive/data/" + std::to_string(i), {}, b.data(), b.size());
  }
  zip.add("archive/version", {&version});
  zip.finish();
  f.commit();
}

}  // namespace rwkv
