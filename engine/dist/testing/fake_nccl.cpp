// A stand-in libnccl.so.2 for the loader's tests (nccl_loader_test): it exports every entry
// point nccl_api.h binds, reports the version in $FAKE_NCCL_VERSION (22103 by default) and
// refuses every collective, so a test can tell which copy was loaded and that nothing ran.
#include <cstdlib>

extern "C" {
typedef struct { char internal[128]; } ncclUniqueId;
int ncclGetVersion(int* v) {
  const char* e = std::getenv("FAKE_NCCL_VERSION");
  *v = e ? std::atoi(e) : 22103;
  return 0;
}
int ncclGetUniqueId(ncclUniqueId*) { return 5; }
int ncclCommInitRank(void**, int, ncclUniqueId, int) { return 5; }
int ncclCommDestroy(void*) { return 5; }
int ncclCommAbort(void*) { return 5; }
int ncclCommGetAsyncError(void*, int*) { return 5; }
const char* ncclGetErrorString(int) { return "fake NCCL"; }
int ncclAllReduce(const void*, void*, unsigned long, int, int, void*, void*) { return 5; }
int ncclBroadcast(const void*, void*, unsigned long, int, int, void*, void*) { return 5; }
int ncclAllGather(const void*, void*, unsigned long, int, void*, void*) { return 5; }
int ncclGroupStart() { return 0; }
int ncclGroupEnd() { return 0; }
}
