// `rwkv-train merge` with RWKV-PEFT's merge/merge.py command line (--base_model --lora_init
// --lora_checkpoint --output --type pissa), as its merge_pissa.sh calls it, gives the same file
// as the library merge; bad input is an `error` event with a code and a non-zero exit.
#include <sys/wait.h>

#include <cstdio>

#include "tests/check.h"
#include "tests/peft_test_util.h"
#include "train/adapter_merge.h"

using namespace rwkv;
using namespace peft_test;

namespace {

// ctest runs the tests in engine/tests; the build puts the CLI in dist/bin.
const char* kCli = "../../dist/bin/rwkv-train";

struct Run { int code = -1; std::string out; };
Run run(const std::string& args) {
  Run r;
  FILE* p = popen((std::string(kCli) + " " + args + " 2>/dev/null").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string error_code(const Run& r) {
  const size_t at = r.out.find("\"code\":\"");
  return at == std::string::npos ? "" : r.out.substr(at + 8, r.out.find('"', at + 8) - at - 8);
}

}  // namespace

int main() {
  if (FILE* f = std::fopen(kCli, "rb")) std::fclose(f);
  else { rwkv_test::fail(__FILE__, __LINE__, std::string(kCli) + " is not built"); return rwkv_test::summary("merge_cli_test"); }
  const std::string dir = temp_dir("mergecli");
  const StateDict base = low_rank_base(2);
  save_pth(dir + "/base.pth", base);
  const std::string data = pattern_data(dir);
  CHECK(train(tiny_flags(dir + "/base.pth", data, dir + "/p",
                         {"--peft", "pissa", "--pissa_config", R"({"pissa_load":"","pissa_init":"","pissa_r":4,"svd_niter":4})",
                          "--epoch_count", "1"})) == "");
  const Run ok = run("merge --base_model " + dir + "/base.pth --lora_init " + dir + "/p/init_pissa.pth --lora_checkpoint " +
                     dir + "/p/rwkv-0.pth --output " + dir + "/merged.pth --type pissa --quant none --device cuda");
  CHECK(ok.code == 0);
  CHECK(ok.out.find("\"type\":\"pissa\"") != std::string::npos);
  MergeRequest req;
  req.type = "pissa";
  req.init_path = dir + "/p/init_pissa.pth";
  const StateDict lib = merge_adapter(base, dir + "/p/rwkv-0.pth", req).merged;
  const StateDict cli = load_pth(dir + "/merged.pth");
  CHECK(cli.size() == lib.size());
  for (size_t i = 0; i < std::min(cli.size(), lib.size()); ++i) {
    CHECK(cli[i].first == lib[i].first && cli[i].second.dtype == DType::BF16);
    const HostTensor rounded = HostTensor::from_f32(lib[i].second.to_f32(), lib[i].second.shape, DType::BF16);
    if (rounded.bytes != cli[i].second.bytes) rwkv_test::fail(__FILE__, __LINE__, "merged " + cli[i].first + " differs");
  }
  const std::string common = "merge --base_model " + dir + "/base.pth --lora_checkpoint " + dir + "/p/rwkv-0.pth --output " +
                             dir + "/x.pth ";
  Run r = run(common + "--type pissa");  // merge.py's --lora_init default "none"
  CHECK(r.code != 0 && error_code(r) == "E_FLAG_VALUE");
  r = run(common + "--type pissa --lora_init " + dir + "/missing.pth");
  CHECK(r.code != 0 && error_code(r) == "E_PISSA_INIT");
  // merge.py --quant nf4: the residual base quantised and dequantised, then the adapter added;
  // the same file as the library's merge, and not the plain merge
  r = run(common + "--type pissa --lora_init " + dir + "/p/init_pissa.pth --quant nf4");
  CHECK(r.code == 0 && r.out.find("\"quant\":\"nf4\"") != std::string::npos);
  req.quant = QuantType::Nf4;
  const StateDict lib4 = merge_adapter(base, dir + "/p/rwkv-0.pth", req).merged;
  const StateDict cli4 = load_pth(dir + "/x.pth");
  CHECK(cli4.size() == lib4.size());
  double off_plain = 0;
  for (size_t i = 0; i < std::min(cli4.size(), lib4.size()); ++i) {
    const HostTensor rounded = HostTensor::from_f32(lib4[i].second.to_f32(), lib4[i].second.shape, DType::BF16);
    if (rounded.bytes != cli4[i].second.bytes) rwkv_test::fail(__FILE__, __LINE__, "nf4 merged " + cli4[i].first + " differs");
    off_plain = std::fmax(off_plain, max_abs_diff(cli4[i].second.to_f32(), cli[i].second.to_f32()));
  }
  CHECK(off_plain > 1e-3);
  r = run(common + "--type pissa --lora_init " + dir + "/p/init_pissa.pth --quant fp4");
  CHECK(r.code != 0 && error_code(r) == "E_FLAG_UNSUPPORTED");
  r = run(common + "--type miss");
  CHECK(r.code != 0 && error_code(r) == "E_ADAPTER");
  r = run(common + "--type lora --lora_init " + dir + "/p/init_pissa.pth");
  CHECK(r.code != 0 && error_code(r) == "E_FLAG_VALUE");
  if (!rwkv_test::failures()) std::system(("rm -rf '" + dir + "'").c_str());
  return rwkv_test::summary("merge_cli_test");
}
