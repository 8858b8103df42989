// cuBLASLt, loaded at run time with dlopen so that the engine builds without cuBLAS headers and
// starts (with the CPU backend) on machines without it. Only the entry points and enum values
// the engine uses are declared here, with the values of cublasLt.h (CUDA 11.0 onwards).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

typedef struct CUstream_st* cudaStream_t;

namespace rwkv::cuda::lt {

using Status = int;  // cublasStatus_t; 0 = success
using Handle = void*;
using MatmulDesc = void*;
using MatrixLayout = void*;
using Preference = void*;
struct Algo { uint64_t data[8]; };
struct HeuristicResult { Algo algo; size_t workspace_size; Status state; float waves; int reserved[4]; };

enum : int { kComputeF32 = 68 };                 // CUBLAS_COMPUTE_32F
enum : int { kR32F = 0, kR16BF = 14 };           // cudaDataType_t values
enum : int { kOpN = 0, kOpT = 1 };               // cublasOperation_t
enum : int { kDescTransA = 3, kDescTransB = 4 };  // cublasLtMatmulDescAttributes_t
enum : int { kPrefMaxWorkspace = 1 };            // cublasLtMatmulPreferenceAttributes_t

struct Api {
  std::string path;  // the library file that was loaded
  size_t version = 0;
  Status (*create)(Handle*) = nullptr;
  Status (*destroy)(Handle) = nullptr;
  size_t (*get_version)() = nullptr;
  Status (*desc_create)(MatmulDesc*, int compute, int scale_type) = nullptr;
  Status (*desc_destroy)(MatmulDesc) = nullptr;
  Status (*desc_set)(MatmulDesc, int attr, const void* buf, size_t size) = nullptr;
  Status (*layout_create)(MatrixLayout*, int type, uint64_t rows, uint64_t cols, int64_t ld) = nullptr;
  Status (*layout_destroy)(MatrixLayout) = nullptr;
  Status (*pref_create)(Preference*) = nullptr;
  Status (*pref_destroy)(Preference) = nullptr;
  Status (*pref_set)(Preference, int attr, const void* buf, size_t size) = nullptr;
  Status (*heuristic)(Handle, MatmulDesc, MatrixLayout, MatrixLayout, MatrixLayout, MatrixLayout,
                      Preference, int requested, HeuristicResult* results, int* returned) = nullptr;
  Status (*matmul)(Handle, MatmulDesc, const void* alpha, const void* A, MatrixLayout,
                   const void* B, MatrixLayout, const void* beta, const void* C, MatrixLayout,
                   void* D, MatrixLayout, const Algo* algo, void* workspace, size_t ws_size,
                   cudaStream_t stream) = nullptr;
};

// Where the library is looked for, in order: $RWKV_CUBLASLT (a file or a folder), the CUDA
// toolkit ($CUDA_HOME, $CUDA_PATH, /usr/local/cuda), PyTorch's wheels (site-packages/nvidia/
// cublas/lib of every python3 prefix found), then the dynamic linker's own search.
std::vector<std::string> candidate_paths();

// Loads cuBLASLt once (thread-safe) and returns it; throws EngineError E_NO_CUBLAS naming every
// place it looked and how to get the library.
const Api& load();

}  // namespace rwkv::cuda::lt
