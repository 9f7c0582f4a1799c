// The slice of cuBLASLt that tessera uses (one GEMM entry), declared by hand so the addon builds without CUDA
// headers; libcublasLt is opened with dlopen on first use. Types and enum values follow the public cublasLt.h /
// library_types.h ABI (cuBLAS 12 and 13).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tessera {

using cublasStatus_t = int;
using cublasLtHandle_t = struct cublasLtContext*;
using cublasLtMatmulDesc_t = struct cublasLtMatmulDescOpaque*;
using cublasLtMatrixLayout_t = struct cublasLtMatrixLayoutOpaque*;
using cublasLtMatmulPreference_t = struct cublasLtMatmulPreferenceOpaque*;

// cublasLtMatmulAlgo_t: semi-opaque, 8 x uint64.
struct CublasLtMatmulAlgo {
  uint64_t data[8];
};

// cublasLtMatmulHeuristicResult_t.
struct CublasLtHeuristicResult {
  CublasLtMatmulAlgo algo;
  size_t workspaceSize;
  cublasStatus_t state;
  float wavesCount;
  int reserved[4];
};

// cudaDataType_t values.
constexpr int kCudaR32F = 0;
constexpr int kCudaR16F = 2;
constexpr int kCudaR16BF = 14;
// cublasComputeType_t: fp32 accumulation.
constexpr int kCublasCompute32F = 68;
// cublasOperation_t.
constexpr int kCublasOpN = 0;
constexpr int kCublasOpT = 1;
// cublasLtMatmulDescAttributes_t.
constexpr int kLtDescTransA = 3;
constexpr int kLtDescTransB = 4;
constexpr int kLtDescEpilogue = 7;
constexpr int kLtDescBiasPointer = 8;
// cublasLtEpilogue_t.
constexpr uint32_t kLtEpilogueDefault = 1;
constexpr uint32_t kLtEpilogueBias = 4;
// cublasLtMatrixLayoutAttribute_t.
constexpr int kLtLayoutBatchCount = 5;
constexpr int kLtLayoutStridedBatchOffset = 6;
// cublasLtMatmulPreferenceAttributes_t.
constexpr int kLtPrefMaxWorkspaceBytes = 1;

// Function pointers of libcublasLt.
struct CublasLtApi {
  cublasStatus_t (*cublasLtCreate)(cublasLtHandle_t*);
  cublasStatus_t (*cublasLtMatmulDescCreate)(cublasLtMatmulDesc_t*, int computeType, int scaleType);
  cublasStatus_t (*cublasLtMatmulDescSetAttribute)(cublasLtMatmulDesc_t, int attr, const void* buf, size_t size);
  cublasStatus_t (*cublasLtMatrixLayoutCreate)(cublasLtMatrixLayout_t*, int type, uint64_t rows, uint64_t cols,
                                               int64_t ld);
  cublasStatus_t (*cublasLtMatrixLayoutSetAttribute)(cublasLtMatrixLayout_t, int attr, const void* buf, size_t size);
  cublasStatus_t (*cublasLtMatmulPreferenceCreate)(cublasLtMatmulPreference_t*);
  cublasStatus_t (*cublasLtMatmulPreferenceSetAttribute)(cublasLtMatmulPreference_t, int attr, const void* buf,
                                                         size_t size);
  cublasStatus_t (*cublasLtMatmulAlgoGetHeuristic)(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t,
                                                   cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                                   cublasLtMatrixLayout_t, cublasLtMatmulPreference_t, int requested,
                                                   CublasLtHeuristicResult* results, int* returned);
  cublasStatus_t (*cublasLtMatmul)(cublasLtHandle_t, cublasLtMatmulDesc_t, const void* alpha, const void* a,
                                   cublasLtMatrixLayout_t, const void* b, cublasLtMatrixLayout_t, const void* beta,
                                   const void* c, cublasLtMatrixLayout_t, void* d, cublasLtMatrixLayout_t,
                                   const CublasLtMatmulAlgo* algo, void* workspace, size_t workspaceBytes,
                                   void* stream);
  // Optional (cuBLAS 11.4+): readable status names; nullptr when absent.
  const char* (*cublasLtGetStatusName)(cublasStatus_t);
  size_t (*cublasLtGetVersion)();
};

// Load libcublasLt (TESSERA_CUBLASLT_PATH, libcublasLt.so.13, .12, .so, CUDA_HOME); nullptr + `why` on failure.
const CublasLtApi* LoadCublasLt(std::string& why);

}  // namespace tessera
