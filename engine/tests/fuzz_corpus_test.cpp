// Replays the committed fuzz corpus (engine/fuzz/corpus/<target>/*) through the same target
// bodies the libFuzzer harnesses run (engine/fuzz/fuzz_targets.h), in the normal build: every
// input must be read or rejected with an EngineError, never crash or throw anything else.
#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/fuzz_targets.h"
#include "tests/check.h"
#include "tests/test_files.h"

static std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') out.push_back(dir + "/" + e->d_name);
    closedir(d);
  }
  return out;
}

using rwkv_test::read_all;

int main() {
  const std::string root = "../fuzz/corpus/";
  const std::string scratch = "/tmp/rwkv_fuzz_replay_" + std::to_string(::getpid());
  size_t replayed = 0;
  for (const std::string& target : {"pth", "pickle", "binidx", "safetensors"}) {
    const std::vector<std::string> inputs = files_in(root + target);
    CHECK(!inputs.empty());  // the seeds at least
    for (const std::string& path : inputs) {
      const std::vector<uint8_t> data = read_all(path);
      try {
        if (target == "pth") rwkv_fuzz::fuzz_pth(data.data(), data.size());
        else if (target == "pickle") rwkv_fuzz::fuzz_pickle(data.data(), data.size());
        else if (target == "safetensors") rwkv_fuzz::fuzz_safetensors(data.data(), data.size());
        else rwkv_fuzz::fuzz_binidx(data.data(), data.size(), scratch);
      } catch (const std::exception& e) {
        rwkv_test::fail(__FILE__, __LINE__, path + ": " + e.what());
      }
      ++replayed;
    }
  }
  std::remove((scratch + ".idx").c_str());
  std::remove((scratch + ".bin").c_str());
  std::fprintf(stderr, "replayed %zu corpus inputs\n", replayed);
  return rwkv_test::summary("fuzz_corpus_test");
}
