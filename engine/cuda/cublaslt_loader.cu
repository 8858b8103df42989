// dlopen-based cuBLASLt loader (see cublaslt_loader.h for why and where it looks).
#include "cuda/cublaslt_loader.h"

#include <dlfcn.h>
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

#include "core/errors.h"

namespace rwkv::cuda::lt {
namespace {

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// Every libcublasLt.so* in a folder, the unversioned name last-resort (it is often a dev link).
void add_from_dir(const std::string& dir, std::vector<std::string>& out) {
  DIR* d = opendir(dir.c_str());
  if (!d) return;
  std::vector<std::string> found;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("libcublasLt.so", 0) == 0) found.push_back(dir + "/" + name);
  }
  closedir(d);
  // Prefer versioned sonames (libcublasLt.so.13 before libcublasLt.so): longer names first.
  std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
    return a.size() != b.size() ? a.size() > b.size() : a > b;
  });
  for (auto& f : found) out.push_back(f);
}

// python3.X/site-packages and dist-packages under a prefix, where pip puts nvidia-cublas.
void add_python_wheels(const std::string& prefix, std::vector<std::string>& out) {
  for (const char* lib : {"/lib", "/lib64", "/local/lib"}) {
    std::string base = prefix + lib;
    DIR* d = opendir(base.c_str());
    if (!d) continue;
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (name.rfind("python3", 0) != 0) continue;
      for (const char* pk : {"/site-packages", "/dist-packages"}) {
        add_from_dir(base + "/" + name + pk + "/nvidia/cublas/lib", out);
        add_from_dir(base + "/" + name + pk + "/nvidia/cu13/lib", out);
      }
    }
    closedir(d);
  }
}

std::once_flag g_once;
Api g_api;
std::string g_error;

template <typename F>
bool bind(void* so, const char* name, F& fn) {
  fn = reinterpret_cast<F>(dlsym(so, name));
  return fn != nullptr;
}

}  // namespace

std::vector<std::string> candidate_paths() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("RWKV_CUBLASLT"); env && *env) {
    if (is_dir(env)) add_from_dir(env, out);
    else out.push_back(env);
  }
  for (const char* var : {"CUDA_HOME", "CUDA_PATH"}) {
    if (const char* v = std::getenv(var); v && *v) {
      add_from_dir(std::string(v) + "/lib64", out);
      add_from_dir(std::string(v) + "/lib", out);
    }
  }
  add_from_dir("/usr/local/cuda/lib64", out);
  add_from_dir("/usr/local/cuda/targets/x86_64-linux/lib", out);
  if (const char* venv = std::getenv("VIRTUAL_ENV"); venv && *venv) add_python_wheels(venv, out);
  if (const char* conda = std::getenv("CONDA_PREFIX"); conda && *conda) add_python_wheels(conda, out);
  if (const char* home = std::getenv("HOME"); home && *home) add_python_wheels(std::string(home) + "/.local", out);
  add_python_wheels("/usr", out);
  add_python_wheels("/opt/conda", out);
  // Last: let the dynamic linker search LD_LIBRARY_PATH and ld.so.cache.
  for (const char* soname : {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so.11", "libcublasLt.so"})
    out.push_back(soname);
  return out;
}

const Api& load() {
  std::call_once(g_once, [] {
    std::string tried;
    for (const std::string& path : candidate_paths()) {
      if (path.find('/') != std::string::npos && !is_file(path)) {
        tried += "\n  " + path + ": no such file";
        continue;
      }
      void* so = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!so) {
        tried += "\n  " + path + ": " + dlerror();
        continue;
      }
      Api api;
      api.path = path;
      bool ok = bind(so, "cublasLtCreate", api.create) && bind(so, "cublasLtDestroy", api.destroy) &&
                bind(so, "cublasLtGetVersion", api.get_version) &&
                bind(so, "cublasLtMatmulDescCreate", api.desc_create) &&
                bind(so, "cublasLtMatmulDescDestroy", api.desc_destroy) &&
                bind(so, "cublasLtMatmulDescSetAttribute", api.desc_set) &&
                bind(so, "cublasLtMatrixLayoutCreate", api.layout_create) &&
                bind(so, "cublasLtMatrixLayoutDestroy", api.layout_destroy) &&
                bind(so, "cublasLtMatmulPreferenceCreate", api.pref_create) &&
                bind(so, "cublasLtMatmulPreferenceDestroy", api.pref_destroy) &&
                bind(so, "cublasLtMatmulPreferenceSetAttribute", api.pref_set) &&
                bind(so, "cublasLtMatmulAlgoGetHeuristic", api.heuristic) &&
                bind(so, "cublasLtMatmul", api.matmul);
      if (!ok) {
        tried += "\n  " + path + ": missing entry points (too old a cuBLASLt)";
        dlclose(so);
        continue;
      }
      api.version = api.get_version();
      if (api.version < 110000) {
        tried += "\n  " + path + ": version " + std::to_string(api.version) + " is older than 11.0";
        dlclose(so);
        continue;
      }
      g_api = api;
      return;
    }
    g_error = "cuBLASLt (libcublasLt.so) was not found or could not be loaded. Looked in:" +
              (tried.empty() ? std::string("\n  (no candidate file exists)") : tried);
  });
  if (!g_error.empty())
    throw EngineError("E_NO_CUBLAS", g_error,
                      "Install the CUDA toolkit (11.0 or newer) or `pip install nvidia-cublas-cu12`, "
                      "or point RWKV_CUBLASLT at libcublasLt.so.");
  return g_api;
}

}  // namespace rwkv::cuda::lt
