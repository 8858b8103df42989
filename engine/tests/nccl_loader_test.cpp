// dist/nccl_loader: the search order over fake folders holding a stand-in libnccl.so.2
// (dist/testing/fake_nccl.cpp), the explicit setting winning alone, python3's sys.path asked
// only when nothing else was found, and E_NO_NCCL listing every place when nothing loads.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

#include "check.h"
#include "core/errors.h"
#include "dist/nccl_loader.h"
#include "test_files.h"

using namespace rwkv;

namespace {

std::string g_root;

void mkdirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') if (!cur.empty()) ::mkdir(cur.c_str(), 0777);
    if (i < path.size()) cur += path[i];
  }
}

// Copies the fake library to dir/name and returns the path.
std::string plant(const std::string& dir, const std::string& name = "libnccl.so.2") {
  mkdirs(dir);
  const std::string p = dir + "/" + name;
  rwkv_test::write_all(p, rwkv_test::read_all(FAKE_NCCL_LIB));
  return p;
}

NcclSearch search(std::map<std::string, std::string> env, std::vector<std::string> sys_path = {},
                  int* python_asked = nullptr) {
  NcclSearch s;
  s.env = [env](const std::string& n) { auto it = env.find(n); return it == env.end() ? std::string() : it->second; };
  s.python_sys_path = [sys_path, python_asked] {
    if (python_asked) ++*python_asked;
    return sys_path;
  };
  s.toolkit_roots = {g_root + "/usr-local-cuda"};
  s.python_prefixes = {g_root + "/usr"};
  s.linker_search = false;  // this machine's own libraries stay out of the test
  return s;
}

}  // namespace

int main() {
  char tmpl[] = "/tmp/nccl_loader_test.XXXXXX";
  g_root = ::mkdtemp(tmpl);

  // Nothing anywhere: E_NO_NCCL that says how to get NCCL and was not satisfied by python3's path.
  {
    int asked = 0;
    const NcclSearch s = search({{"HOME", g_root + "/home"}}, {g_root + "/nowhere"}, &asked);
    CHECK(nccl_candidates(s).empty());
    std::string message, hint;
    try { load_nccl(s); } catch (const EngineError& e) { message = e.what(); hint = e.hint; CHECK(e.code == "E_NO_NCCL"); }
    CHECK(message.find("libnccl.so.2") != std::string::npos);
    CHECK(message.find("sys.path") != std::string::npos);
    CHECK(hint.find("nvidia-nccl") != std::string::npos && hint.find("RWKV_NCCL") != std::string::npos);
    CHECK(asked == 1);
  }

  // PyTorch's wheels in a venv, in ~/.local and under /usr: the venv comes first, ~/.local next.
  const std::string venv_lib = plant(g_root + "/venv/lib/python3.11/site-packages/nvidia/nccl/lib");
  const std::string user_lib = plant(g_root + "/home/.local/lib/python3.12/site-packages/nvidia/nccl/lib");
  const std::string usr_lib = plant(g_root + "/usr/lib/python3/dist-packages/nvidia/nccl/lib");  // python3, no X
  {
    const NcclSearch s = search({{"VIRTUAL_ENV", g_root + "/venv"}, {"HOME", g_root + "/home"}});
    const auto c = nccl_candidates(s);
    CHECK(c.size() == 3);
    if (c.size() == 3) { CHECK(c[0] == venv_lib); CHECK(c[1] == user_lib); CHECK(c[2] == usr_lib); }
    const NcclLibrary lib = load_nccl(s);
    CHECK(lib.path == venv_lib);
    CHECK(lib.version == 22103);
    CHECK(nccl_version_string(lib.version) == "2.21.3");
    CHECK(lib.api.all_reduce && lib.api.broadcast && lib.api.all_gather && lib.api.comm_abort);
  }
  CHECK(nccl_version_string(2804) == "2.8.4");
  CHECK(nccl_version_string(22703) == "2.27.3");

  // The CUDA toolkit comes before the wheels: $CUDA_HOME, then the fixed /usr/local/cuda.
  const std::string home_tk = plant(g_root + "/cuda-12.8/lib64");
  const std::string fixed_tk = plant(g_root + "/usr-local-cuda/targets/x86_64-linux/lib", "libnccl.so");
  {
    const NcclSearch s = search({{"CUDA_HOME", g_root + "/cuda-12.8"}, {"VIRTUAL_ENV", g_root + "/venv"}});
    const auto c = nccl_candidates(s);
    CHECK(c.size() >= 3);
    if (c.size() >= 3) { CHECK(c[0] == home_tk); CHECK(c[1] == fixed_tk); CHECK(c[2] == venv_lib); }
    CHECK(load_nccl(s).path == home_tk);
  }

  // The explicit setting is the only candidate: a folder, a file, and one that does not load.
  const std::string mine = plant(g_root + "/my-nccl");
  {
    const NcclSearch s = search({{"RWKV_NCCL", g_root + "/my-nccl"}, {"CUDA_HOME", g_root + "/cuda-12.8"}});
    CHECK(nccl_candidates(s) == std::vector<std::string>{mine});
    CHECK(load_nccl(s).path == mine);
    const NcclSearch f = search({{"RWKV_NCCL", mine}});
    CHECK(load_nccl(f).path == mine);
    rwkv_test::write_all(g_root + "/not-a-library.so", {'n', 'o', 'p', 'e'});
    const NcclSearch bad = search({{"RWKV_NCCL", g_root + "/not-a-library.so"}, {"CUDA_HOME", g_root + "/cuda-12.8"}});
    std::string message;
    try { load_nccl(bad); } catch (const EngineError& e) { message = e.what(); CHECK(e.code == "E_NO_NCCL"); }
    CHECK(message.find("RWKV_NCCL=") != std::string::npos);  // no silent fallback to $CUDA_HOME
    const NcclSearch empty_dir = search({{"RWKV_NCCL", g_root + "/home"}});
    CHECK_THROWS_CODE(load_nccl(empty_dir), "E_NO_NCCL");
  }

#ifdef FAKE_NVML_LIB
  // A library that is not NCCL (exports none of its entry points) is skipped for the next one.
  {
    const std::string impostor_dir = g_root + "/impostor/lib64";
    mkdirs(impostor_dir);
    rwkv_test::write_all(impostor_dir + "/libnccl.so.2", rwkv_test::read_all(FAKE_NVML_LIB));
    const NcclSearch s = search({{"CUDA_HOME", g_root + "/impostor"}, {"VIRTUAL_ENV", g_root + "/venv"}});
    const auto c = nccl_candidates(s);
    CHECK(!c.empty() && c[0] == impostor_dir + "/libnccl.so.2");
    const NcclLibrary lib = load_nccl(s);
    CHECK(lib.path == fixed_tk);  // the impostor is passed over, /usr/local/cuda's copy loads
  }
#endif

  // python3's sys.path is asked only when no other place had a file.
  {
    int asked = 0;
    const std::string pyenv_lib = plant(g_root + "/pyenv/site-packages/nvidia/nccl/lib");
    NcclSearch s = search({}, {g_root + "/pyenv/site-packages"}, &asked);
    s.python_prefixes = {};
    s.toolkit_roots = {};
    CHECK(load_nccl(s).path == pyenv_lib);
    CHECK(asked == 1);
    asked = 0;
    const NcclSearch with_venv = search({{"VIRTUAL_ENV", g_root + "/venv"}}, {g_root + "/pyenv/site-packages"}, &asked);
    CHECK(load_nccl(with_venv).path == fixed_tk);
    CHECK(asked == 0);
  }
  std::string cmd = "rm -rf " + g_root;
  CHECK(std::system(cmd.c_str()) == 0);
  return rwkv_test::summary("nccl_loader_test");
}
