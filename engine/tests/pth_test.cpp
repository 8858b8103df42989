// .pth: reading torch-laid-out fixtures (data descriptors, zip64, memo, shared storages with
// offsets/strides, Parameters), our writer's round trip, malformed files, and that shapes are
// read without touching tensor data (timed on a large file).
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "core/errors.h"
#include "core/json.h"
#include "core/pth.h"
#include "fuzz/fuzz_targets.h"
#include "tests/check.h"
#include "tests/test_files.h"

using namespace rwkv;

static const HostTensor* find(const StateDict& sd, const std::string& name) {
  for (const auto& kv : sd) if (kv.first == name) return &kv.second;
  return nullptr;
}
using rwkv_test::read_all;
using rwkv_test::write_all;

static void check_torch_like(const std::string& path) {
  std::vector<TensorInfo> header = read_pth_header(path);
  CHECK(header.size() == 6);
  if (header.size() != 6) return;
  CHECK(header[0].name == "emb.weight" && header[0].dtype == DType::BF16);
  CHECK((header[0].shape == std::vector<int64_t>{4, 3}));
  CHECK(header[2].name == "view.transposed" && header[2].storage_offset == 2);
  CHECK((header[2].stride == std::vector<int64_t>{1, 3}));
  CHECK(header[4].name == "head.weight" && header[4].dtype == DType::F16);

  StateDict sd = load_pth(path);
  CHECK(sd.size() == 6);
  const HostTensor* emb = find(sd, "emb.weight");
  CHECK(emb && emb->to_f32() == (std::vector<float>{1, -2, 0.5, 3, 0.25, -0.125, 8, 1.5, -1, 2, 4, 0}));
  const HostTensor* rows = find(sd, "view.rows");
  CHECK(rows && rows->to_f32() == (std::vector<float>{2, 3, 4, 5, 6, 7}));
  const HostTensor* tr = find(sd, "view.transposed");
  CHECK(tr && (tr->shape == std::vector<int64_t>{3, 2}) && tr->to_f32() == (std::vector<float>{2, 5, 3, 6, 4, 7}));
  const HostTensor* scalar = find(sd, "view.scalar");
  CHECK(scalar && scalar->shape.empty() && scalar->to_f32() == std::vector<float>{9});
  const HostTensor* head = find(sd, "head.weight");
  CHECK(head && head->to_f32() == (std::vector<float>{0.5f, -1.5f, 2, 65504}));
  const HostTensor* empty = find(sd, "empty");
  CHECK(empty && empty->numel() == 0 && empty->bytes.empty());
}

// A 5 GiB bf16 checkpoint laid out as torch writes one past 4 GiB (zip64 sizes and offsets),
// built as a sparse file: the tensor data is a hole, so it costs no disk and no time.
static void write_sparse_zip64_checkpoint(const std::string& path) {
  std::vector<uint8_t> pkl = {0x80, 2, '}', '('};
  auto str = [&](const std::string& s) {
    pkl.push_back('X');
    for (int k = 0; k < 4; ++k) pkl.push_back(static_cast<uint8_t>(s.size() >> (8 * k)));
    pkl.insert(pkl.end(), s.begin(), s.end());
  };
  auto global = [&](const std::string& m, const std::string& n) {
    pkl.push_back('c');
    pkl.insert(pkl.end(), m.begin(), m.end()); pkl.push_back('\n');
    pkl.insert(pkl.end(), n.begin(), n.end()); pkl.push_back('\n');
  };
  auto int32 = [&](uint32_t v) { pkl.push_back('J'); for (int k = 0; k < 4; ++k) pkl.push_back(static_cast<uint8_t>(v >> (8 * k))); };
  str("emb.weight");
  global("torch._utils", "_rebuild_tensor_v2");
  pkl.insert(pkl.end(), {'(', '('});
  str("storage"); global("torch", "BFloat16Storage"); str("0"); str("cpu");
  pkl.insert(pkl.end(), {0x8a, 5, 0x00, 0x00, 0x00, 0xA0, 0x00});  // LONG1 2684354560 elements
  pkl.insert(pkl.end(), {'t', 'Q', 'K', 0, '('});
  int32(40960); int32(65536);
  pkl.insert(pkl.end(), {'t', '('});
  int32(65536); pkl.insert(pkl.end(), {'K', 1, 't', 0x89});
  global("collections", "OrderedDict");
  pkl.insert(pkl.end(), {')', 'R', 't', 'R', 'u', '.'});

  const uint64_t data_size = uint64_t{2684354560} * 2;
  std::vector<uint8_t> head;
  auto p16 = [](std::vector<uint8_t>& b, uint64_t v) { b.push_back(v & 0xFF); b.push_back((v >> 8) & 0xFF); };
  auto p32 = [&](std::vector<uint8_t>& b, uint64_t v) { p16(b, v & 0xFFFF); p16(b, (v >> 16) & 0xFFFF); };
  auto p64 = [&](std::vector<uint8_t>& b, uint64_t v) { p32(b, v & 0xFFFFFFFFu); p32(b, v >> 32); };
  auto local = [&](std::vector<uint8_t>& b, const std::string& name, uint64_t size, bool z64) {
    p32(b, 0x04034b50); p16(b, 45); p16(b, 0); p16(b, 0); p16(b, 0); p16(b, 0); p32(b, 0);
    p32(b, z64 ? 0xFFFFFFFFu : size); p32(b, z64 ? 0xFFFFFFFFu : size);
    p16(b, name.size()); p16(b, z64 ? 20 : 0);
    b.insert(b.end(), name.begin(), name.end());
    if (z64) { p16(b, 1); p16(b, 16); p64(b, size); p64(b, size); }
  };
  local(head, "archive/data.pkl", pkl.size(), false);
  head.insert(head.end(), pkl.begin(), pkl.end());
  const uint64_t off_data = head.size();
  local(head, "archive/data/0", data_size, true);
  const uint64_t data_start = head.size();
  const uint64_t off_version = data_start + data_size;
  std::vector<uint8_t> tail;
  local(tail, "archive/version", 2, false);
  tail.push_back('3'); tail.push_back('\n');
  const uint64_t cd_start = off_version + tail.size();
  std::vector<uint8_t> cd;
  auto central = [&](const std::string& name, uint64_t size, uint64_t offset) {
    const bool big_size = size >= 0xFFFFFFFFu, big_off = offset >= 0xFFFFFFFFu;
    p32(cd, 0x02014b50); p16(cd, 45); p16(cd, 45); p16(cd, 0); p16(cd, 0); p16(cd, 0); p16(cd, 0); p32(cd, 0);
    p32(cd, big_size ? 0xFFFFFFFFu : size); p32(cd, big_size ? 0xFFFFFFFFu : size);
    p16(cd, name.size()); p16(cd, (big_size || big_off) ? 4 + (big_size ? 16 : 0) + (big_off ? 8 : 0) : 0);
    p16(cd, 0); p16(cd, 0); p16(cd, 0); p32(cd, 0); p32(cd, big_off ? 0xFFFFFFFFu : offset);
    cd.insert(cd.end(), name.begin(), name.end());
    if (big_size || big_off) {
      p16(cd, 1); p16(cd, (big_size ? 16 : 0) + (big_off ? 8 : 0));
      if (big_size) { p64(cd, size); p64(cd, size); }
      if (big_off) p64(cd, offset);
    }
  };
  central("archive/data.pkl", pkl.size(), 0);
  central("archive/data/0", data_size, off_data);
  central("archive/version", 2, off_version);
  const uint64_t cd_end = cd_start + cd.size();
  tail.insert(tail.end(), cd.begin(), cd.end());
  p32(tail, 0x06064b50); p64(tail, 44); p16(tail, 45); p16(tail, 45); p32(tail, 0); p32(tail, 0);
  p64(tail, 3); p64(tail, 3); p64(tail, cd.size()); p64(tail, cd_start);
  p32(tail, 0x07064b50); p32(tail, 0); p64(tail, cd_end); p32(tail, 1);
  p32(tail, 0x06054b50); p16(tail, 0); p16(tail, 0); p16(tail, 0xFFFF); p16(tail, 0xFFFF);
  p32(tail, 0xFFFFFFFFu); p32(tail, 0xFFFFFFFFu); p16(tail, 0);
  FILE* f = std::fopen(path.c_str(), "wb");
  std::fwrite(head.data(), 1, head.size(), f);
  std::fseek(f, static_cast<long>(off_version), SEEK_SET);  // the hole: 5 GiB of zeros
  std::fwrite(tail.data(), 1, tail.size(), f);
  std::fclose(f);
}

int main() {
  // Written by real PyTorch (fixtures/make_torch_fixtures.py): every tensor equals torch's.
  {
    std::ifstream f("fixtures/torch_saved_expected.json");
    Json expected = Json::parse(std::string(std::istreambuf_iterator<char>(f), {}));
    StateDict sd = load_pth("fixtures/torch_saved.pth");
    CHECK(sd.size() == expected.members().size());
    for (const auto& member : expected.members()) {
      const HostTensor* t = find(sd, member.first);
      CHECK(t != nullptr);
      if (!t) continue;
      CHECK(std::string(dtype_name(t->dtype)) == member.second.find("dtype")->as_string());
      std::vector<int64_t> shape;
      for (const Json& d : member.second.find("shape")->items()) shape.push_back(static_cast<int64_t>(d.as_number()));
      CHECK(t->shape == shape);
      const std::vector<float> got = t->to_f32();
      const auto& want = member.second.find("values")->items();
      CHECK(got.size() == want.size());
      for (size_t i = 0; i < got.size() && i < want.size(); ++i)
        if (static_cast<double>(got[i]) != static_cast<double>(static_cast<float>(want[i].as_number())))
          rwkv_test::fail(__FILE__, __LINE__, member.first + "[" + std::to_string(i) + "] differs");
    }
    CHECK_THROWS_CODE(read_pth_header("fixtures/torch_legacy.pth"), "E_PTH_LEGACY");
  }
  check_torch_like("fixtures/torch_like_descriptors.pth");
  check_torch_like("fixtures/torch_like_zip64.pth");
  {
    StateDict many = load_pth("fixtures/torch_like_many.pth");  // LONG_BINPUT / LONG_BINGET
    CHECK(many.size() == 200);
    if (many.size() == 200) {
      CHECK(many[7].first == "blocks.7.w" && many[7].second.to_f32() == std::vector<float>{7});
      CHECK(many[150].second.dtype == DType::F16 && many[150].second.to_f32() == std::vector<float>{-150});
    }
  }

  const std::string dir = "/tmp/rwkv_pth_test_" + std::to_string(::getpid());
  std::system(("mkdir -p " + dir).c_str());

  // Round trip through our writer, every dtype, 64-byte aligned entries.
  StateDict sd;
  sd.emplace_back("blocks.0.att.r_k", HostTensor::from_f32({1, 2, 3, 4, 5, 6}, {2, 3}, DType::BF16));
  sd.emplace_back("blocks.0.ln1.weight", HostTensor::from_f32({0.5f, -0.25f}, {2}, DType::F32));
  sd.emplace_back("head.weight", HostTensor::from_f32({1e-3f, 7}, {1, 2}, DType::F16));
  HostTensor ids; ids.dtype = DType::I64; ids.shape = {3};
  for (int64_t v : {int64_t{1}, int64_t{-2}, int64_t{1} << 40}) {
    const uint8_t* p = reinterpret_cast<const uint8_t*>(&v);
    ids.bytes.insert(ids.bytes.end(), p, p + 8);
  }
  sd.emplace_back("step", ids);
  sd.emplace_back("scalar", HostTensor::from_f32({3.5f}, {}, DType::F32));
  const std::string out = dir + "/round.pth";
  save_pth(out, sd);
  StateDict back = load_pth(out);
  CHECK(back.size() == sd.size());
  for (size_t i = 0; i < back.size() && i < sd.size(); ++i) {
    CHECK(back[i].first == sd[i].first);
    CHECK(back[i].second.dtype == sd[i].second.dtype);
    CHECK(back[i].second.shape == sd[i].second.shape);
    CHECK(back[i].second.bytes == sd[i].second.bytes);
  }
  std::vector<uint8_t> bytes = read_all(out);
  // torch's layout: the first entry is <archive>/data.pkl; data entries start 64-byte aligned.
  CHECK(bytes.size() > 64 && std::string(bytes.begin() + 30, bytes.begin() + 46) == "archive/data.pkl");
  {
    std::vector<TensorInfo> h = read_pth_header(out);
    CHECK(h.size() == 5 && h[0].storage_key == "0");
  }
  // No temporary file is left behind; an unwritable destination is an E_IO_* error.
  CHECK(access((out + ".tmp-" + std::to_string(::getpid())).c_str(), F_OK) != 0);
  CHECK_THROWS_CODE(save_pth("/nonexistent_dir_rwkv/x.pth", sd), "E_IO_WRITE");
  CHECK_THROWS_CODE(save_pth(out + "/inside_a_file.pth", sd), "E_IO_WRITE");

  // Malformed inputs: clean errors with stable codes.
  CHECK_THROWS_CODE(read_pth_header(dir + "/missing.pth"), "E_PTH_NOT_FOUND");
  write_all(dir + "/text.pth", std::vector<uint8_t>(100, 'x'));
  CHECK_THROWS_CODE(read_pth_header(dir + "/text.pth"), "E_PTH_NOT_ZIP");
  write_all(dir + "/legacy.pth", {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19,
                                   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  CHECK_THROWS_CODE(read_pth_header(dir + "/legacy.pth"), "E_PTH_LEGACY");
  write_all(dir + "/empty.pth", {});
  CHECK_THROWS_CODE(read_pth_header(dir + "/empty.pth"), "E_PTH_NOT_ZIP");
  // Every truncation of a valid file fails cleanly (or, when only the tail is cut, still
  // reads the header); never a crash.
  int clean = 0, total = 0;
  for (size_t cut = 1; cut < bytes.size(); cut += 7) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut));
    write_all(dir + "/cut.pth", part);
    ++total;
    try { load_pth(dir + "/cut.pth"); } catch (const EngineError& e) { if (e.code.rfind("E_PTH_", 0) == 0) ++clean; }
  }
  CHECK(clean == total);
  // A flipped byte inside the pickle is reported, not trusted.
  {
    std::vector<uint8_t> bad = bytes;
    size_t pkl_start = 30 + 16;
    pkl_start += bad[28] | (bad[29] << 8);  // extra field length
    bad[pkl_start + 2] = 0xff;              // replaces the GLOBAL opcode
    write_all(dir + "/flip.pth", bad);
    CHECK_THROWS_CODE(read_pth_header(dir + "/flip.pth"), "E_PTH_UNSUPPORTED");
  }

  // A write that fails half-way (here: a file-size limit, as a full disk would) is an E_IO_*
  // error, leaves the previous checkpoint intact and no temporary file behind.
  {
    std::signal(SIGXFSZ, SIG_IGN);
    struct rlimit old_limit;
    getrlimit(RLIMIT_FSIZE, &old_limit);
    struct rlimit small = old_limit;
    small.rlim_cur = 200;
    setrlimit(RLIMIT_FSIZE, &small);
    bool io_error = false;
    try { save_pth(out, sd); } catch (const EngineError& e) { io_error = e.code.rfind("E_IO_", 0) == 0; }
    setrlimit(RLIMIT_FSIZE, &old_limit);
    CHECK(io_error);
    CHECK(read_all(out) == bytes);
    CHECK(access((out + ".tmp-" + std::to_string(::getpid())).c_str(), F_OK) != 0);
  }

  // A pickle bomb: 16 levels of dicts, each holding the previous one under 10 keys (10^16
  // paths in a few hundred bytes) is refused quickly instead of hanging.
  {
    std::vector<uint8_t> pkl = {0x80, 2, '}', 'q', 0, '(', 'X', 1, 0, 0, 0, 'k', 'K', 1, 'u'};
    for (int level = 1; level <= 16; ++level) {
      pkl.insert(pkl.end(), {'}', '('});
      for (int k = 0; k < 10; ++k) {
        pkl.insert(pkl.end(), {'X', 1, 0, 0, 0, static_cast<uint8_t>('a' + k), 'h', static_cast<uint8_t>(level - 1)});
      }
      pkl.insert(pkl.end(), {'u', 'q', static_cast<uint8_t>(level)});
    }
    pkl.push_back('.');
    std::vector<uint8_t> zip = rwkv_fuzz::stored_zip({{"archive/data.pkl", pkl}});
    write_all(dir + "/bomb.pth", zip);
    auto t0 = std::chrono::steady_clock::now();
    CHECK_THROWS_CODE(read_pth_header(dir + "/bomb.pth"), "E_PTH_CORRUPT");
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < 5);
  }

  // More than 65535 entries need zip64 end records: written and read back.
  {
    StateDict many;
    for (int i = 0; i < 70000; ++i) many.emplace_back("t" + std::to_string(i), HostTensor::from_f32({float(i)}, {1}));
    const std::string many_path = dir + "/many.pth";
    save_pth(many_path, many);
    StateDict back_many = load_pth(many_path);
    CHECK(back_many.size() == 70000);
    if (back_many.size() == 70000) CHECK(back_many[69999].first == "t69999" && back_many[69999].second.to_f32()[0] == 69999.0f);
    std::vector<uint8_t> raw = read_all(many_path);
    CHECK(raw.size() > 98 && raw[raw.size() - 22] == 0x50 && raw[raw.size() - 22 + 10] == 0xFF);  // EOCD count = 0xFFFF
  }

  // Past 4 GiB: zip64 offsets in the central directory; the shape read stays in milliseconds.
  {
    const std::string sparse = dir + "/sparse_5gib.pth";
    write_sparse_zip64_checkpoint(sparse);
    auto t0 = std::chrono::steady_clock::now();
    std::vector<TensorInfo> h = read_pth_header(sparse);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "read_pth_header on a 5 GiB zip64 checkpoint: %.2f ms\n", ms);
    CHECK(h.size() == 1 && h[0].name == "emb.weight" && h[0].dtype == DType::BF16);
    CHECK(h.size() == 1 && (h[0].shape == std::vector<int64_t>{40960, 65536}));
    CHECK(ms < 50);
    std::remove(sparse.c_str());
  }

  // Shapes come from the pickle alone: a large checkpoint's header reads in milliseconds.
  {
    StateDict big;
    HostTensor t; t.dtype = DType::BF16; t.shape = {2048, 8192}; t.bytes.assign(size_t{2048} * 8192 * 2, 0);
    for (int i = 0; i < 4; ++i) big.emplace_back("blocks." + std::to_string(i) + ".ffn.key.weight", t);
    const std::string big_path = dir + "/big.pth";
    save_pth(big_path, big);
    big.clear();
    auto t0 = std::chrono::steady_clock::now();
    std::vector<TensorInfo> h = read_pth_header(big_path);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "read_pth_header on a 128 MiB file: %.2f ms\n", ms);
    CHECK(h.size() == 4 && (h[3].shape == std::vector<int64_t>{2048, 8192}));
    CHECK(ms < 50);
  }
  std::system(("rm -rf " + dir).c_str());
  return rwkv_test::summary("pth_test");
}
