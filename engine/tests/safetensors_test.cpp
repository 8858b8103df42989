// safetensors read/write: a round trip keeps names, order, dtypes, shapes and bytes; the data
// starts 8-byte aligned; truncated or malformed files are E_SAFETENSORS_* errors, never a crash.
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "core/errors.h"
#include "core/inspect.h"
#include "core/safetensors.h"
#include "tests/check.h"
#include "tests/test_files.h"

using namespace rwkv;

int main() {
  const std::string dir = "/tmp/rwkv_safetensors_test_" + std::to_string(::getpid());
  std::system(("mkdir -p " + dir).c_str());
  StateDict sd;
  sd.push_back({"base_model.model.blocks.0.att.key.lora_A.weight", HostTensor::from_f32({1, -2, 3.5f, 4, 5, 6}, {2, 3}, DType::BF16)});
  sd.push_back({"a.f32", HostTensor::from_f32({0.25f, 1e-3f, -7}, {3})});
  sd.push_back({"a.f16", HostTensor::from_f32({1.5f, 2}, {1, 2}, DType::F16)});
  HostTensor i64;
  i64.dtype = DType::I64;
  i64.shape = {};
  i64.bytes.resize(8);
  const int64_t seven = 7;
  std::memcpy(i64.bytes.data(), &seven, 8);
  sd.push_back({"step", i64});
  const std::string path = dir + "/x.safetensors";
  save_safetensors(path, sd, {{"format", "pt"}});
  {  // inspect (rwkv-train inspect, the addon) reads a peft adapter file and its folder
    StateDict adapter;
    for (int l = 0; l < 2; ++l)
      for (const char* m : {"att.key", "ffn.value"}) {
        const std::string p = "base_model.model.blocks." + std::to_string(l) + "." + m;
        adapter.push_back({p + ".lora_A.weight", HostTensor::from_f32(std::vector<float>(8 * 64), {8, 64}, DType::BF16)});
        adapter.push_back({p + ".lora_B.weight", HostTensor::from_f32(std::vector<float>(64 * 8), {64, 8}, DType::BF16)});
      }
    std::system(("mkdir -p " + dir + "/adapter").c_str());
    save_safetensors(dir + "/adapter/adapter_model.safetensors", adapter);
    for (const std::string& p : {dir + "/adapter", dir + "/adapter/adapter_model.safetensors"}) {
      const CheckpointSummary s = summarize_checkpoint(p);
      CHECK(s.is_adapter && s.adapter_method == "lora" && s.n_layer == 2 && s.tensors.size() == 8);
      CHECK(s.format == (p == dir + "/adapter" ? "peft-folder" : "safetensors"));
    }
  }
  const StateDict back = load_safetensors(path);
  CHECK(back.size() == sd.size());
  for (size_t i = 0; i < std::min(back.size(), sd.size()); ++i) {
    CHECK(back[i].first == sd[i].first);
    CHECK(back[i].second.dtype == sd[i].second.dtype && back[i].second.shape == sd[i].second.shape);
    CHECK(back[i].second.bytes == sd[i].second.bytes);
  }
  const auto bytes = rwkv_test::read_all(path);
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | bytes[size_t(i)];
  CHECK((8 + header) % 8 == 0);
  CHECK(std::string(bytes.begin() + 8, bytes.begin() + 8 + long(header)).find("\"__metadata__\":{\"format\":\"pt\"}") != std::string::npos);

  auto corrupt = [&](std::vector<uint8_t> b, const char* code) {
    rwkv_test::write_all(dir + "/bad.safetensors", b);
    CHECK_THROWS_CODE(load_safetensors(dir + "/bad.safetensors"), code);
  };
  corrupt({1, 2, 3}, "E_SAFETENSORS_CORRUPT");                                             // shorter than 8 bytes
  corrupt(std::vector<uint8_t>(bytes.begin(), bytes.end() - 3), "E_SAFETENSORS_CORRUPT");  // truncated data
  corrupt(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 40), "E_SAFETENSORS_CORRUPT");  // truncated header
  {
    auto b = bytes;
    b[8] = 'x';  // header no longer JSON
    corrupt(b, "E_SAFETENSORS_CORRUPT");
  }
  {
    auto b = bytes;
    const std::string h(b.begin() + 8, b.begin() + 8 + long(header));
    const size_t at = h.find("\"BF16\"");
    std::memcpy(&b[8 + at], "\"XF16\"", 6);  // an unknown dtype
    corrupt(b, "E_SAFETENSORS_UNSUPPORTED");
  }
  CHECK_THROWS_CODE(load_safetensors(dir + "/none.safetensors"), "E_SAFETENSORS_NOT_FOUND");
  if (!rwkv_test::failures()) std::system(("rm -rf " + dir).c_str());
  return rwkv_test::summary("safetensors_test");
}
