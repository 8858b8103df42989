// dlopen-based NCCL loader (see nccl_loader.h for why and where it looks).
#include "dist/nccl_loader.h"

#include <dirent.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "core/errors.h"
#include "core/paths.h"

namespace rwkv {
namespace {

const char* const kSonames[] = {"libnccl.so.2", "libnccl.so"};

void add_existing(const std::string& dir, std::vector<std::string>& out) {
  for (const char* so : kSonames) {
    const std::string p = dir + "/" + so;
    if (is_regular_file(p)) {
      for (const auto& seen : out) if (seen == p) return;
      out.push_back(p);
      return;  // one file per folder: libnccl.so is the same library as libnccl.so.2
    }
  }
}

// <prefix>/lib*/python3.X/{site,dist}-packages/nvidia/nccl/lib, where pip puts nvidia-nccl-cuXX.
void add_python_wheels(const std::string& prefix, std::vector<std::string>& out) {
  for (const char* lib : {"/lib", "/lib64", "/local/lib"}) {
    const std::string base = prefix + lib;
    DIR* d = ::opendir(base.c_str());
    if (!d) continue;
    std::vector<std::string> pythons;
    while (dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name.rfind("python3", 0) == 0) pythons.push_back(name);
    }
    ::closedir(d);
    for (const auto& py : pythons)
      for (const char* pk : {"/site-packages", "/dist-packages"})
        add_existing(base + "/" + py + pk + "/nvidia/nccl/lib", out);
  }
}

std::vector<std::string> python_sys_path_of_python3() {
  std::vector<std::string> out;
  // stderr silenced: no python3 is an ordinary case, reported by E_NO_NCCL's list instead.
  std::FILE* p = ::popen("python3 -c 'import sys; print(\"\\n\".join(x for x in sys.path if x))' 2>/dev/null", "r");
  if (!p) return out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, p)) {
    std::string line = buf;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  ::pclose(p);
  return out;
}

template <typename F>
bool bind(void* so, const char* name, F& fn) {
  fn = reinterpret_cast<F>(::dlsym(so, name));
  return fn != nullptr;
}

// Loads one candidate; "" on success, else why not.
std::string try_load(const std::string& path, NcclLibrary& lib) {
  void* so = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!so) {
    const char* e = ::dlerror();
    return e ? e : "dlopen failed";
  }
  nccl::Api& a = lib.api;
  const char* missing = nullptr;
  if (!bind(so, "ncclGetVersion", a.get_version)) missing = "ncclGetVersion";
  else if (!bind(so, "ncclGetUniqueId", a.get_unique_id)) missing = "ncclGetUniqueId";
  else if (!bind(so, "ncclCommInitRank", a.comm_init_rank)) missing = "ncclCommInitRank";
  else if (!bind(so, "ncclCommDestroy", a.comm_destroy)) missing = "ncclCommDestroy";
  else if (!bind(so, "ncclCommAbort", a.comm_abort)) missing = "ncclCommAbort";
  else if (!bind(so, "ncclCommGetAsyncError", a.comm_get_async_error)) missing = "ncclCommGetAsyncError";
  else if (!bind(so, "ncclGetErrorString", a.get_error_string)) missing = "ncclGetErrorString";
  else if (!bind(so, "ncclAllReduce", a.all_reduce)) missing = "ncclAllReduce";
  else if (!bind(so, "ncclBroadcast", a.broadcast)) missing = "ncclBroadcast";
  else if (!bind(so, "ncclAllGather", a.all_gather)) missing = "ncclAllGather";
  else if (!bind(so, "ncclGroupStart", a.group_start)) missing = "ncclGroupStart";
  else if (!bind(so, "ncclGroupEnd", a.group_end)) missing = "ncclGroupEnd";
  if (missing) {
    ::dlclose(so);
    lib.api = nccl::Api{};
    return std::string("has no ") + missing + " (not NCCL, or older than 2.4)";
  }
  int v = 0;
  if (a.get_version(&v) != nccl::kSuccess) {
    ::dlclose(so);
    lib.api = nccl::Api{};
    return "ncclGetVersion failed";
  }
  lib.path = path;
  lib.version = v;
  return "";  // the handle stays open for the life of the process
}

}  // namespace

NcclSearch NcclSearch::from_process() {
  NcclSearch s;
  s.env = [](const std::string& name) {
    const char* v = std::getenv(name.c_str());
    return std::string(v ? v : "");
  };
  s.python_sys_path = python_sys_path_of_python3;
  return s;
}

std::vector<std::string> nccl_candidates(const NcclSearch& s) {
  std::vector<std::string> out;
  const std::string explicit_path = s.env ? s.env("RWKV_NCCL") : "";
  if (!explicit_path.empty()) {
    // the setting names the library or its folder; either way it is the only candidate
    if (is_directory(explicit_path)) {
      add_existing(explicit_path, out);
      if (out.empty()) out.push_back(explicit_path + "/libnccl.so.2");  // fails with a clear dlerror
    } else {
      out.push_back(explicit_path);
    }
    return out;
  }
  std::vector<std::string> toolkits;
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"})
    if (const std::string v = s.env ? s.env(var) : ""; !v.empty()) toolkits.push_back(v);
  for (const auto& t : s.toolkit_roots) toolkits.push_back(t);
  for (const auto& t : toolkits)
    for (const char* lib : {"/lib64", "/lib", "/targets/x86_64-linux/lib", "/targets/sbsa-linux/lib"})
      add_existing(t + lib, out);
  std::vector<std::string> prefixes;
  for (const char* var : {"VIRTUAL_ENV", "CONDA_PREFIX"})
    if (const std::string v = s.env ? s.env(var) : ""; !v.empty()) prefixes.push_back(v);
  if (const std::string home = s.env ? s.env("HOME") : ""; !home.empty()) prefixes.push_back(home + "/.local");
  for (const auto& p : s.python_prefixes) prefixes.push_back(p);
  for (const auto& p : prefixes) add_python_wheels(p, out);
  return out;
}

NcclLibrary load_nccl(const NcclSearch& s) {
  std::vector<std::string> candidates = nccl_candidates(s);
  const bool explicit_setting = s.env && !s.env("RWKV_NCCL").empty();
  if (!explicit_setting) {
    if (candidates.empty() && s.python_sys_path)
      for (const auto& dir : s.python_sys_path()) add_existing(dir + "/nvidia/nccl/lib", candidates);
    if (s.linker_search) candidates.push_back(kSonames[0]);  // the linker's own search
  }
  std::string tried;
  for (const auto& path : candidates) {
    NcclLibrary lib;
    const std::string why = try_load(path, lib);
    if (why.empty()) return lib;
    tried += "\n  " + path + ": " + why;
  }
  if (explicit_setting)
    throw EngineError("E_NO_NCCL", "RWKV_NCCL=" + s.env("RWKV_NCCL") + " does not load as NCCL:" + tried,
                      "point RWKV_NCCL at libnccl.so.2 (or its folder), or unset it to search the CUDA toolkit "
                      "and PyTorch's wheels");
  throw EngineError("E_NO_NCCL",
                    "training on several GPUs needs NCCL (libnccl.so.2), and none was found. Tried:" + tried +
                        "\n  python3's sys.path (+ nvidia/nccl/lib)",
                    "install it with `pip install nvidia-nccl-cu12` (PyTorch's wheels bring it) or the CUDA "
                    "toolkit's NCCL package, or set RWKV_NCCL to libnccl.so.2; or train on one GPU (--devices 1)");
}

const NcclLibrary& process_nccl() {
  static std::once_flag once;
  static NcclLibrary lib;
  static std::string error_code, error_message, error_hint;
  std::call_once(once, [] {
    try {
      lib = load_nccl(NcclSearch::from_process());
    } catch (const EngineError& e) {
      error_code = e.code;
      error_message = e.what();
      error_hint = e.hint;
    }
  });
  if (!error_code.empty()) throw EngineError(error_code, error_message, error_hint);
  return lib;
}

std::string nccl_version_string(int code) {
  // NCCL_VERSION(X,Y,Z): X*1000+Y*100+Z up to 2.8, X*10000+Y*100+Z from 2.9 on
  const int major = code >= 10000 ? code / 10000 : code / 1000;
  const int minor = code >= 10000 ? (code / 100) % 100 : (code / 100) % 10;
  const int patch = code % 100;
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace rwkv
