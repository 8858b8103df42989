// The part of NCCL's C API the engine calls, declared here because the engine builds without
// NCCL's headers and loads the library at run time (nccl_loader.h). Types and values are those
// of NCCL's public nccl.h (NVIDIA/nccl src/nccl.h.in, stable since NCCL 2.4): an opaque
// communicator handle, a 128-byte unique id passed by value, C enums (int-sized) for results,
// data types and reduction operations.
#pragma once
#include <cstddef>

typedef struct CUstream_st* cudaStream_t;

namespace rwkv::nccl {

typedef struct ncclComm* Comm;  // ncclComm_t

constexpr size_t kUniqueIdBytes = 128;  // NCCL_UNIQUE_ID_BYTES
struct UniqueId { char internal[kUniqueIdBytes]; };  // ncclUniqueId

// ncclResult_t
enum Result : int {
  kSuccess = 0, kUnhandledCudaError = 1, kSystemError = 2, kInternalError = 3, kInvalidArgument = 4,
  kInvalidUsage = 5, kRemoteError = 6, kInProgress = 7, kTimeout = 8,
};
// ncclDataType_t
enum DataType : int { kInt32 = 2, kUint64 = 5, kFloat32 = 7, kFloat64 = 8 };
// ncclRedOp_t
enum RedOp : int { kSum = 0, kMax = 2 };

// The entry points, in the order nccl.h declares them. Every NCCL since 2.4 exports them.
struct Api {
  Result (*get_version)(int* version) = nullptr;                                  // ncclGetVersion
  Result (*get_unique_id)(UniqueId* id) = nullptr;                                // ncclGetUniqueId
  Result (*comm_init_rank)(Comm* comm, int nranks, UniqueId id, int rank) = nullptr;  // ncclCommInitRank
  Result (*comm_destroy)(Comm comm) = nullptr;                                    // ncclCommDestroy
  Result (*comm_abort)(Comm comm) = nullptr;                                      // ncclCommAbort
  Result (*comm_get_async_error)(Comm comm, Result* async_error) = nullptr;       // ncclCommGetAsyncError
  const char* (*get_error_string)(Result result) = nullptr;                       // ncclGetErrorString
  Result (*all_reduce)(const void* send, void* recv, size_t count, DataType type, RedOp op, Comm comm,
                       cudaStream_t stream) = nullptr;                             // ncclAllReduce
  Result (*broadcast)(const void* send, void* recv, size_t count, DataType type, int root, Comm comm,
                      cudaStream_t stream) = nullptr;                              // ncclBroadcast
  Result (*all_gather)(const void* send, void* recv, size_t send_count, DataType type, Comm comm,
                       cudaStream_t stream) = nullptr;                             // ncclAllGather
  Result (*group_start)() = nullptr;                                              // ncclGroupStart
  Result (*group_end)() = nullptr;                                                // ncclGroupEnd
};

}  // namespace rwkv::nccl
