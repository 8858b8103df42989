#include "core/safetensors.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "core/atomic_file.h"
#include "core/errors.h"
#include "core/json.h"

namespace rwkv {
namespace {

struct DTypeName { DType dtype; const char* name; };
const DTypeName kNames[] = {{DType::F32, "F32"}, {DType::F16, "F16"}, {DType::BF16, "BF16"},
                            {DType::F64, "F64"}, {DType::I64, "I64"}, {DType::I32, "I32"},
                            {DType::I16, "I16"}, {DType::U8, "U8"},   {DType::I8, "I8"},
                            {DType::Bool, "BOOL"}};

[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  throw EngineError("E_SAFETENSORS_CORRUPT", path + ": not a valid safetensors file (" + what + ")",
                    "give an adapter_model.safetensors that peft's save_pretrained wrote, or a .pth");
}

}  // namespace

StateDict load_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw EngineError("E_SAFETENSORS_NOT_FOUND", path + ": cannot open", "check the path");
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  if (bytes.size() < 8) corrupt(path, "shorter than its 8-byte header length");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | uint8_t(bytes[size_t(i)]);
  if (header_len > bytes.size() - 8) corrupt(path, "header longer than the file");
  Json header;
  try {
    header = Json::parse(bytes.substr(8, size_t(header_len)));
  } catch (const std::exception& e) {
    corrupt(path, std::string("header is not JSON: ") + e.what());
  }
  if (header.kind() != Json::Kind::Object) corrupt(path, "header is not a JSON object");
  const size_t data_start = 8 + size_t(header_len), data_len = bytes.size() - data_start;
  StateDict out;
  for (const auto& [name, entry] : header.members()) {
    if (name == "__metadata__") continue;
    const Json* dt = entry.find("dtype");
    const Json* shape = entry.find("shape");
    const Json* offsets = entry.find("data_offsets");
    if (!dt || dt->kind() != Json::Kind::String || !shape || shape->kind() != Json::Kind::Array || !offsets ||
        offsets->kind() != Json::Kind::Array || offsets->items().size() != 2)
      corrupt(path, "entry '" + name + "' lacks dtype, shape or data_offsets");
    HostTensor t;
    bool known = false;
    for (const auto& n : kNames)
      if (dt->as_string() == n.name) { t.dtype = n.dtype; known = true; }
    if (!known)
      throw EngineError("E_SAFETENSORS_UNSUPPORTED", path + ": tensor '" + name + "' has dtype " + dt->as_string(),
                        "supported: F32, F16, BF16, F64 and integer types");
    int64_t numel = 1;
    for (const auto& d : shape->items()) {
      if (d.kind() != Json::Kind::Number || d.as_number() < 0) corrupt(path, "bad shape of '" + name + "'");
      t.shape.push_back(int64_t(d.as_number()));
      numel *= t.shape.back();
    }
    const double b = offsets->items()[0].as_number(), e = offsets->items()[1].as_number();
    if (b < 0 || e < b || e > double(data_len) || uint64_t(e - b) != uint64_t(numel) * dtype_size(t.dtype))
      corrupt(path, "data_offsets of '" + name + "' disagree with its shape or the file size");
    t.bytes.assign(bytes.begin() + data_start + size_t(b), bytes.begin() + data_start + size_t(e));
    out.push_back({name, std::move(t)});
  }
  return out;
}

void save_safetensors(const std::string& path, const StateDict& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) {
    Json meta = Json::object();
    for (const auto& [k, v] : metadata) meta.set(k, v);
    header.set("__metadata__", meta);
  }
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    const char* dt = nullptr;
    for (const auto& n : kNames)
      if (n.dtype == t.dtype) dt = n.name;
    Json entry = Json::object();
    entry.set("dtype", dt);
    Json shape = Json::array();
    for (auto d : t.shape) shape.push(Json(d));
    entry.set("shape", shape);
    Json offs = Json::array();
    offs.push(Json(offset));
    offs.push(Json(offset + t.bytes.size()));
    entry.set("data_offsets", offs);
    header.set(name, entry);
    offset += t.bytes.size();
  }
  std::string text = header.dump();
  while ((8 + text.size()) % 8) text += ' ';  // the data starts 8-byte aligned, as safetensors pads
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(text.size()) >> (8 * i));
  AtomicFile f(path);
  f.write(len, 8);
  f.write(text.data(), text.size());
  for (const auto& [name, t] : tensors) f.write(t.bytes);
  f.commit();
}

}  // namespace rwkv
