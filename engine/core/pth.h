// PyTorch checkpoints (.pth): a zip archive holding `archive/data.pkl` (a pickle of a dict of
// tensors whose storages are persistent ids) and `archive/data/N` (raw storage bytes). We read
// and write the subset torch.save produces for state dicts. Shapes come from the pickle alone,
// so a multi-GB file is inspected without reading tensor data. The archive is core/zip_archive,
// the pickle machine core/pickle; this layer knows torch's storages, tensors and views.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace rwkv {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<int64_t> stride;
  int64_t storage_offset = 0;   // in elements
  std::string storage_key;      // the entry under archive/data/
};

// Reads the tensor table from the pickle only. Throws EngineError (E_PTH_*) on a file that is
// not a zip, a truncated archive, or a pickle outside the supported subset.
std::vector<TensorInfo> read_pth_header(const std::string& path);

// An ordered state dict (torch keeps insertion order; RWKV tools rely on names, not order).
using StateDict = std::vector<std::pair<std::string, HostTensor>>;

// Loads every tensor (or only those whose name `want` accepts), honouring offsets and strides.
StateDict load_pth(const std::string& path);

// Writes a state dict that `torch.load(path, weights_only=True)` reads. Atomic: a temporary
// file in the same folder, fsync, rename. Throws EngineError(E_IO_*) on a full disk etc.
void save_pth(const std::string& path, const StateDict& tensors);

}  // namespace rwkv
