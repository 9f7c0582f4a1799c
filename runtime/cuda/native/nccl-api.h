// The slice of NCCL that tessera uses (communicator set-up and teardown, grouped send/receive, all-gather,
// broadcast, asynchronous errors), declared here by hand so the addon builds without NCCL's headers; libnccl is
// opened with dlopen when a parallel run asks for it. Types, enum values and signatures follow the public nccl.h
// ABI (NCCL 2.x: ncclUniqueId is 128 bytes passed by value to ncclCommInitRank; cudaStream_t is CUstream).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "cuda-api.h"

namespace tessera {

using ncclResult_t = int;
using ncclComm_t = struct ncclComm*;
constexpr int kNcclUniqueIdBytes = 128;
struct NcclUniqueId {
  char internal[kNcclUniqueIdBytes];
};
// ncclDataType_t: bytes travel as ncclUint8 (counts are byte counts).
constexpr int kNcclUint8 = 1;
// ncclResult_t values used in messages.
constexpr ncclResult_t kNcclSuccess = 0;
constexpr ncclResult_t kNcclInProgress = 7;

struct NcclApi {
  ncclResult_t (*ncclGetVersion)(int*);
  ncclResult_t (*ncclGetUniqueId)(NcclUniqueId*);
  ncclResult_t (*ncclCommInitRank)(ncclComm_t*, int nranks, NcclUniqueId commId, int rank);
  ncclResult_t (*ncclCommDestroy)(ncclComm_t);
  ncclResult_t (*ncclCommAbort)(ncclComm_t);
  ncclResult_t (*ncclCommGetAsyncError)(ncclComm_t, ncclResult_t*);
  const char* (*ncclGetErrorString)(ncclResult_t);
  // Optional (NCCL 2.13+): the last error's details; nullptr when absent.
  const char* (*ncclGetLastError)(ncclComm_t);
  ncclResult_t (*ncclGroupStart)();
  ncclResult_t (*ncclGroupEnd)();
  ncclResult_t (*ncclSend)(const void*, size_t count, int datatype, int peer, ncclComm_t, CUstream);
  ncclResult_t (*ncclRecv)(void*, size_t count, int datatype, int peer, ncclComm_t, CUstream);
  ncclResult_t (*ncclAllGather)(const void*, void*, size_t sendcount, int datatype, ncclComm_t, CUstream);
  ncclResult_t (*ncclBroadcast)(const void*, void*, size_t count, int datatype, int root, ncclComm_t, CUstream);
};

// Open the first loadable library of `candidates` and resolve every entry; nullptr + `why` (every candidate
// tried, with dlopen's reason) on failure. The first success is kept for the process; `path` says which.
const NcclApi* LoadNccl(const std::vector<std::string>& candidates, std::string& why, std::string& path);

}  // namespace tessera
