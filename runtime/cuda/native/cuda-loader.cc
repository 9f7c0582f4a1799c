// dlopen-based loading of libcuda and NVRTC. Nothing here links against CUDA: a machine without a driver gets
// a readable reason instead of a failed addon load.
#include <dlfcn.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "cuda-api.h"

namespace tessera {
namespace {

// Resolve `name` from `lib` into `slot`; false (and `why`) when the symbol is missing.
template <typename Fn>
bool Resolve(void* lib, const char* name, Fn& slot, std::string& why) {
  void* sym = dlsym(lib, name);
  if (sym == nullptr) {
    why = std::string("symbol ") + name + " not found";
    return false;
  }
  slot = reinterpret_cast<Fn>(sym);
  return true;
}

void* OpenFirst(const std::vector<std::string>& names, std::string& tried) {
  for (const std::string& name : names) {
    if (name.empty()) continue;
    void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib != nullptr) return lib;
    const char* err = dlerror();
    tried += "\n  " + name + ": " + (err ? err : "not found");
  }
  return nullptr;
}

}  // namespace

const DriverApi* LoadDriver(std::string& why) {
  static DriverApi api;
  static bool loaded = false;
  static std::string failure;
  if (loaded) return &api;
  if (!failure.empty()) {
    why = failure;
    return nullptr;
  }
  std::string tried;
  void* lib = OpenFirst({"libcuda.so.1", "libcuda.so"}, tried);
  if (lib == nullptr) {
    failure = "the NVIDIA driver library libcuda could not be loaded (no NVIDIA driver on this machine?):" + tried;
    why = failure;
    return nullptr;
  }
  bool ok = Resolve(lib, "cuInit", api.cuInit, why) && Resolve(lib, "cuDriverGetVersion", api.cuDriverGetVersion, why) &&
            Resolve(lib, "cuDeviceGetCount", api.cuDeviceGetCount, why) &&
            Resolve(lib, "cuDeviceGet", api.cuDeviceGet, why) &&
            Resolve(lib, "cuDeviceGetName", api.cuDeviceGetName, why) &&
            Resolve(lib, "cuDeviceGetAttribute", api.cuDeviceGetAttribute, why) &&
            Resolve(lib, "cuDeviceTotalMem_v2", api.cuDeviceTotalMem, why) &&
            Resolve(lib, "cuDevicePrimaryCtxRetain", api.cuDevicePrimaryCtxRetain, why) &&
            Resolve(lib, "cuCtxSetCurrent", api.cuCtxSetCurrent, why) &&
            Resolve(lib, "cuCtxSynchronize", api.cuCtxSynchronize, why) &&
            Resolve(lib, "cuModuleLoadData", api.cuModuleLoadData, why) &&
            Resolve(lib, "cuModuleUnload", api.cuModuleUnload, why) &&
            Resolve(lib, "cuModuleGetFunction", api.cuModuleGetFunction, why) &&
            Resolve(lib, "cuFuncSetAttribute", api.cuFuncSetAttribute, why) &&
            Resolve(lib, "cuFuncGetAttribute", api.cuFuncGetAttribute, why) &&
            Resolve(lib, "cuLaunchKernel", api.cuLaunchKernel, why) &&
            Resolve(lib, "cuMemAlloc_v2", api.cuMemAlloc, why) && Resolve(lib, "cuMemFree_v2", api.cuMemFree, why) &&
            Resolve(lib, "cuMemcpyHtoDAsync_v2", api.cuMemcpyHtoDAsync, why) &&
            Resolve(lib, "cuMemcpyDtoHAsync_v2", api.cuMemcpyDtoHAsync, why) &&
            Resolve(lib, "cuMemsetD8Async", api.cuMemsetD8Async, why) &&
            Resolve(lib, "cuStreamCreate", api.cuStreamCreate, why) &&
            Resolve(lib, "cuStreamSynchronize", api.cuStreamSynchronize, why) &&
            Resolve(lib, "cuEventCreate", api.cuEventCreate, why) &&
            Resolve(lib, "cuEventRecord", api.cuEventRecord, why) &&
            Resolve(lib, "cuEventSynchronize", api.cuEventSynchronize, why) &&
            Resolve(lib, "cuEventElapsedTime", api.cuEventElapsedTime, why) &&
            Resolve(lib, "cuEventDestroy_v2", api.cuEventDestroy, why) &&
            Resolve(lib, "cuGetErrorName", api.cuGetErrorName, why) &&
            Resolve(lib, "cuGetErrorString", api.cuGetErrorString, why);
  if (!ok) {
    failure = "libcuda is too old or incomplete: " + why;
    why = failure;
    return nullptr;
  }
  // Optional: resolved when present, so drivers older than CUDA 12 still run the sm_80 kernels.
  std::string ignored;
  if (!Resolve(lib, "cuTensorMapEncodeTiled", api.cuTensorMapEncodeTiled, ignored)) api.cuTensorMapEncodeTiled = nullptr;
  // Optional as a group: CUDA graphs need every one of them (cuStreamBeginCapture_v2 is the entry cuda.h maps
  // cuStreamBeginCapture to; cuGraphInstantiateWithFlags came with CUDA 11.4).
  const bool graphs = Resolve(lib, "cuStreamBeginCapture_v2", api.cuStreamBeginCapture, ignored) &&
                      Resolve(lib, "cuStreamEndCapture", api.cuStreamEndCapture, ignored) &&
                      Resolve(lib, "cuGraphInstantiateWithFlags", api.cuGraphInstantiateWithFlags, ignored) &&
                      Resolve(lib, "cuGraphLaunch", api.cuGraphLaunch, ignored) &&
                      Resolve(lib, "cuGraphExecDestroy", api.cuGraphExecDestroy, ignored) &&
                      Resolve(lib, "cuGraphDestroy", api.cuGraphDestroy, ignored) &&
                      Resolve(lib, "cuGraphGetNodes", api.cuGraphGetNodes, ignored);
  if (!graphs) api.cuStreamBeginCapture = nullptr;
  loaded = true;
  return &api;
}

const NvrtcApi* LoadNvrtc(std::string& why) {
  static NvrtcApi api;
  static bool loaded = false;
  static std::string failure;
  if (loaded) return &api;
  if (!failure.empty()) {
    why = failure;
    return nullptr;
  }
  std::vector<std::string> names;
  if (const char* path = std::getenv("TESSERA_NVRTC_PATH")) names.emplace_back(path);
  for (const char* v : {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"}) names.emplace_back(v);
  for (const char* env : {"CUDA_HOME", "CUDA_PATH"}) {
    if (const char* home = std::getenv(env)) names.emplace_back(std::string(home) + "/lib64/libnvrtc.so");
  }
  names.emplace_back("/usr/local/cuda/lib64/libnvrtc.so");
  std::string tried;
  void* lib = OpenFirst(names, tried);
  if (lib == nullptr) {
    failure = "NVRTC (libnvrtc.so) could not be loaded; install the CUDA toolkit or set TESSERA_NVRTC_PATH:" + tried;
    why = failure;
    return nullptr;
  }
  bool ok = Resolve(lib, "nvrtcGetErrorString", api.nvrtcGetErrorString, why) &&
            Resolve(lib, "nvrtcVersion", api.nvrtcVersion, why) &&
            Resolve(lib, "nvrtcCreateProgram", api.nvrtcCreateProgram, why) &&
            Resolve(lib, "nvrtcDestroyProgram", api.nvrtcDestroyProgram, why) &&
            Resolve(lib, "nvrtcCompileProgram", api.nvrtcCompileProgram, why) &&
            Resolve(lib, "nvrtcGetProgramLogSize", api.nvrtcGetProgramLogSize, why) &&
            Resolve(lib, "nvrtcGetProgramLog", api.nvrtcGetProgramLog, why) &&
            Resolve(lib, "nvrtcGetCUBINSize", api.nvrtcGetCUBINSize, why) &&
            Resolve(lib, "nvrtcGetCUBIN", api.nvrtcGetCUBIN, why);
  if (!ok) {
    failure = "NVRTC is too old (needs CUBIN output, CUDA 11.1+): " + why;
    why = failure;
    return nullptr;
  }
  loaded = true;
  return &api;
}

std::string DriverErrorText(const DriverApi& api, const char* call, CUresult result) {
  const char* name = nullptr;
  const char* text = nullptr;
  api.cuGetErrorName(result, &name);
  api.cuGetErrorString(result, &text);
  return std::string(call) + " failed: " + (name ? name : "CUDA error " + std::to_string(result)) + " (" +
         (text ? text : "no description") + ")";
}

}  // namespace tessera
