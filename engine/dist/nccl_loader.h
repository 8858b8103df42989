// NCCL, loaded at run time with dlopen, so rwkv-train builds without NCCL and starts without it
// (one GPU needs none). Where it looks, in order (the first that loads and exports every entry
// point of nccl_api.h wins):
//   1. $RWKV_NCCL: the library file, or a folder holding libnccl.so.2. When set, nothing else is
//      tried: an explicit setting that does not load is an error, not a silent fallback.
//   2. The CUDA toolkit: $CUDA_HOME, $CUDA_PATH, /usr/local/cuda (lib64, lib, targets/<arch>/lib).
//   3. PyTorch's wheels (pip's nvidia-nccl-cu12/cu13): <site-packages>/nvidia/nccl/lib under
//      $VIRTUAL_ENV, $CONDA_PREFIX, ~/.local, /usr, /usr/local, /opt/conda (python3.X/site- and
//      dist-packages).
//   4. The folders of `python3 -c 'import sys; print(sys.path)'` (+ nvidia/nccl/lib): wheels of
//      an interpreter the scan above does not know (pyenv, a custom prefix). Asked only when 1-3
//      found no file.
//   5. The dynamic linker's own search (LD_LIBRARY_PATH, ldconfig): "libnccl.so.2".
// Nothing found: EngineError E_NO_NCCL naming every place tried and how to install NCCL.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "dist/nccl_api.h"

namespace rwkv {

// What the search reads from the machine; tests replace both to point at fake folders.
struct NcclSearch {
  std::function<std::string(const std::string& name)> env;        // "" when unset
  std::function<std::vector<std::string>()> python_sys_path;       // folders of python3's sys.path
  // The fixed places of steps 2 and 3 (tests point them at fake folders).
  std::vector<std::string> toolkit_roots = {"/usr/local/cuda"};
  std::vector<std::string> python_prefixes = {"/usr", "/usr/local", "/opt/conda"};
  bool linker_search = true;                                       // step 5
  static NcclSearch from_process();                                // the real environment + python3
};

struct NcclLibrary {
  std::string path;         // the file (or soname) that was loaded
  int version = 0;          // ncclGetVersion's code, e.g. 22103 for 2.21.3
  nccl::Api api;
};

// The candidate files in search order (steps 1-3: only files that exist; step 5's bare soname
// last). Step 4 is added by load_nccl when 1-3 gave no file.
std::vector<std::string> nccl_candidates(const NcclSearch& search);

// Loads the first candidate that works. Throws EngineError("E_NO_NCCL") listing what was tried.
NcclLibrary load_nccl(const NcclSearch& search);

// load_nccl(NcclSearch::from_process()), once per process.
const NcclLibrary& process_nccl();

// "2.21.3" from 22103 (and 2.8.4 from 2804, NCCL's older coding).
std::string nccl_version_string(int code);

}  // namespace rwkv
