// The slice of the CUDA driver API and NVRTC that tessera uses, declared here by hand (no CUDA headers at build
// time) and resolved with dlopen at run time, so the addon builds and loads on machines without CUDA.
// Types and constants follow the public cuda.h / nvrtc.h ABI.
#pragma once

#include <cstddef>
#include <string>

namespace tessera {

using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st*;
using CUmodule = struct CUmod_st*;
using CUfunction = struct CUfunc_st*;
using CUstream = struct CUstream_st*;
using CUevent = struct CUevent_st*;
using CUgraph = struct CUgraph_st*;
using CUgraphNode = struct CUgraphNode_st*;
using CUgraphExec = struct CUgraphExec_st*;
using nvrtcResult = int;
using nvrtcProgram = struct _nvrtcProgram*;

// cuDeviceGetAttribute attributes (CUdevice_attribute).
constexpr int kAttrMultiprocessorCount = 16;
constexpr int kAttrComputeCapabilityMajor = 75;
constexpr int kAttrComputeCapabilityMinor = 76;
constexpr int kAttrMaxSharedMemoryPerBlockOptin = 97;
// cuFuncSetAttribute / cuFuncGetAttribute attributes (CUfunction_attribute).
constexpr int kFuncAttrMaxDynamicSharedSizeBytes = 8;
constexpr int kFuncAttrNumRegs = 4;
constexpr int kFuncAttrLocalSizeBytes = 3;
// cuStreamCreate flags: no implicit synchronisation with the legacy default stream (a capturable stream).
constexpr unsigned kStreamNonBlocking = 0x1;
// CUstreamCaptureMode: other API calls of this thread stay allowed while a stream captures.
constexpr int kStreamCaptureModeRelaxed = 2;
// cuLaunchKernel 'extra' keys: the kernel arguments as one packed buffer.
#define TP_CU_LAUNCH_PARAM_END (reinterpret_cast<void*>(0x00))
#define TP_CU_LAUNCH_PARAM_BUFFER_POINTER (reinterpret_cast<void*>(0x01))
#define TP_CU_LAUNCH_PARAM_BUFFER_SIZE (reinterpret_cast<void*>(0x02))

// Function pointers of the driver API (libcuda.so.1). The _v2 entry points are the ones cuda.h maps to.
struct DriverApi {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDriverGetVersion)(int*);
  CUresult (*cuDeviceGetCount)(int*);
  CUresult (*cuDeviceGet)(CUdevice*, int);
  CUresult (*cuDeviceGetName)(char*, int, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int*, int, CUdevice);
  CUresult (*cuDeviceTotalMem)(size_t*, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuModuleLoadData)(CUmodule*, const void*);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*);
  CUresult (*cuFuncSetAttribute)(CUfunction, int, int);
  CUresult (*cuFuncGetAttribute)(int*, int, CUfunction);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void**, void**);
  CUresult (*cuMemAlloc)(CUdeviceptr*, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void*, size_t, CUstream);
  CUresult (*cuMemcpyDtoHAsync)(void*, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD8Async)(CUdeviceptr, unsigned char, size_t, CUstream);
  CUresult (*cuStreamCreate)(CUstream*, unsigned);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuEventCreate)(CUevent*, unsigned);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventElapsedTime)(float*, CUevent, CUevent);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuGetErrorName)(CUresult, const char**);
  CUresult (*cuGetErrorString)(CUresult, const char**);
  // CUDA 12+ drivers only; null on older ones (the Hopper kernel's bulk tensor copies need it).
  CUresult (*cuTensorMapEncodeTiled)(void* tensorMap, int dataType, unsigned rank, void* globalAddress,
                                     const unsigned long long* globalDim, const unsigned long long* globalStrides,
                                     const unsigned* boxDim, const unsigned* elementStrides, int interleave,
                                     int swizzle, int l2Promotion, int oobFill);
  // Stream capture and CUDA graphs (CUDA 11.4+ drivers: cuGraphInstantiateWithFlags); all null when any is missing.
  CUresult (*cuStreamBeginCapture)(CUstream, int mode);
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph*);
  CUresult (*cuGraphInstantiateWithFlags)(CUgraphExec*, CUgraph, unsigned long long flags);
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream);
  CUresult (*cuGraphExecDestroy)(CUgraphExec);
  CUresult (*cuGraphDestroy)(CUgraph);
  CUresult (*cuGraphGetNodes)(CUgraph, CUgraphNode*, size_t*);
};

// cuTensorMapEncodeTiled enums (CUtensorMapDataType, ...Interleave, ...L2promotion, ...FloatOOBfill) and size.
constexpr int kTensorMapBytes = 128;
constexpr int kTensorMapUint16 = 1;
constexpr int kTensorMapInterleaveNone = 0;
constexpr int kTensorMapL2Promotion128B = 2;
constexpr int kTensorMapOobFillZeros = 0;

// Function pointers of NVRTC (libnvrtc.so.*).
struct NvrtcApi {
  const char* (*nvrtcGetErrorString)(nvrtcResult);
  nvrtcResult (*nvrtcVersion)(int*, int*);
  nvrtcResult (*nvrtcCreateProgram)(nvrtcProgram*, const char*, const char*, int, const char* const*,
                                    const char* const*);
  nvrtcResult (*nvrtcDestroyProgram)(nvrtcProgram*);
  nvrtcResult (*nvrtcCompileProgram)(nvrtcProgram, int, const char* const*);
  nvrtcResult (*nvrtcGetProgramLogSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetProgramLog)(nvrtcProgram, char*);
  nvrtcResult (*nvrtcGetCUBINSize)(nvrtcProgram, size_t*);
  nvrtcResult (*nvrtcGetCUBIN)(nvrtcProgram, char*);
};

// Load libcuda and resolve every DriverApi entry; on failure returns nullptr and sets `why`.
const DriverApi* LoadDriver(std::string& why);
// Load NVRTC (TESSERA_NVRTC_PATH, then versioned names, then CUDA_HOME / /usr/local/cuda); nullptr + `why` on failure.
const NvrtcApi* LoadNvrtc(std::string& why);
// The addon's stream (created by init()): every launch, copy, fill, event record and cuBLASLt matmul goes to it.
CUstream CurrentStream();
// "cuMemAlloc failed: CUDA_ERROR_OUT_OF_MEMORY (out of memory)" for a driver result.
std::string DriverErrorText(const DriverApi& api, const char* call, CUresult result);

}  // namespace tessera
