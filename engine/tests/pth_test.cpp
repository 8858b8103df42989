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
#include "core/pth.h"
#include "tests/check.h"

using namespace rwkv;

static const HostTensor* find(const StateDict& sd, const std::string& name) {
  for (const auto& kv : sd) if (kv.first == name) return &kv.second;
  return nullptr;
}
static std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}
static void write_all(const std::string& path, const std::vector<uint8_t>& b) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

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

int main() {
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

  // Shapes come from the pickle alone: a large checkpoint's header reads in milliseconds.
  {
    StateDict big;
    HostTensor t; t.dtype = DType::BF16; t.shape = {4096, 8192}; t.bytes.assign(size_t{4096} * 8192 * 2, 0);
    for (int i = 0; i < 4; ++i) big.emplace_back("blocks." + std::to_string(i) + ".ffn.key.weight", t);
    const std::string big_path = dir + "/big.pth";
    save_pth(big_path, big);
    big.clear();
    auto t0 = std::chrono::steady_clock::now();
    std::vector<TensorInfo> h = read_pth_header(big_path);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr, "read_pth_header on a 256 MiB file: %.2f ms\n", ms);
    CHECK(h.size() == 4 && (h[3].shape == std::vector<int64_t>{4096, 8192}));
    CHECK(ms < 50);
  }
  std::system(("rm -rf " + dir).c_str());
  return rwkv_test::summary("pth_test");
}
