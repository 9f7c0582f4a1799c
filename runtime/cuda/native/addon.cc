// The tessera CUDA addon: a thin Node-API surface over the driver API and NVRTC. Handles (device pointers,
// modules, functions, events, streams, graphs) cross into JavaScript as BigInt values; every failing call throws
// a JavaScript Error naming the call, the CUDA or NVRTC error and, where there is one, the kernel.
//
// All work is ordered on one stream, created by init() without implicit synchronisation with the legacy default
// stream (which cannot be captured): launches, copies, fills, event records and cuBLASLt matmuls all go to it, so
// any stretch of it can be captured into a CUDA graph. Host-to-device copies return once the host bytes are
// staged (the caller may reuse its array); device-to-host copies return when the bytes have arrived.
#include <napi.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cuda-api.h"

namespace tessera {
namespace {

const DriverApi* g_driver = nullptr;
CUcontext g_context = nullptr;
CUdevice g_device = 0;
CUstream g_stream = nullptr;

[[noreturn]] void Throw(Napi::Env env, const std::string& message) {
  throw Napi::Error::New(env, message);
}

// Throw unless `result` is CUDA_SUCCESS; `what` names the call, `kernel` the kernel it was for (may be empty).
void Check(Napi::Env env, CUresult result, const char* what, const std::string& kernel = "") {
  if (result == 0) return;
  std::string message = DriverErrorText(*g_driver, what, result);
  if (!kernel.empty()) message += " [kernel " + kernel + "]";
  Throw(env, message);
}

const DriverApi& Driver(Napi::Env env) {
  if (g_driver == nullptr || g_context == nullptr) Throw(env, "the CUDA device is not initialised: call init() first");
  return *g_driver;
}

unsigned long long HandleArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsBigInt()) Throw(info.Env(), std::string(name) + " must be a BigInt handle");
  bool lossless = true;
  return info[i].As<Napi::BigInt>().Uint64Value(&lossless);
}

double NumberArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsNumber()) Throw(info.Env(), std::string(name) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsString()) Throw(info.Env(), std::string(name) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

// The bytes of a TypedArray or Buffer argument.
std::pair<unsigned char*, size_t> BytesArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsTypedArray()) Throw(info.Env(), std::string(name) + " must be a TypedArray");
  Napi::TypedArray array = info[i].As<Napi::TypedArray>();
  auto* base = static_cast<unsigned char*>(array.ArrayBuffer().Data()) + array.ByteOffset();
  return {base, array.ByteLength()};
}

Napi::BigInt Handle(Napi::Env env, const void* p) {
  return Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)));
}

// probe() -> { available, reason, driverVersion, devices }: never throws, for cudaAvailable().
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  std::string why;
  const DriverApi* api = LoadDriver(why);
  int count = 0;
  int version = 0;
  if (api != nullptr) {
    CUresult r = api->cuInit(0);
    if (r != 0) {
      why = DriverErrorText(*api, "cuInit", r);
    } else if ((r = api->cuDeviceGetCount(&count)) != 0) {
      why = DriverErrorText(*api, "cuDeviceGetCount", r);
    } else if (count == 0) {
      why = "the NVIDIA driver is installed but reports no CUDA device";
    }
    api->cuDriverGetVersion(&version);
  }
  out.Set("available", Napi::Boolean::New(env, why.empty()));
  out.Set("reason", Napi::String::New(env, why));
  out.Set("driverVersion", Napi::Number::New(env, version));
  out.Set("devices", Napi::Number::New(env, count));
  return out;
}

// init(ordinal) -> device info; makes the device's primary context current on this thread.
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string why;
  const DriverApi* api = LoadDriver(why);
  if (api == nullptr) Throw(env, "CUDA backend unavailable: " + why);
  g_driver = api;
  const int ordinal = static_cast<int>(NumberArg(info, 0, "ordinal"));
  Check(env, api->cuInit(0), "cuInit");
  Check(env, api->cuDeviceGet(&g_device, ordinal), "cuDeviceGet");
  Check(env, api->cuDevicePrimaryCtxRetain(&g_context, g_device), "cuDevicePrimaryCtxRetain");
  Check(env, api->cuCtxSetCurrent(g_context), "cuCtxSetCurrent");
  // One stream for the process, like the context: never destroyed.
  if (g_stream == nullptr) Check(env, api->cuStreamCreate(&g_stream, kStreamNonBlocking), "cuStreamCreate");
  char name[256] = {0};
  Check(env, api->cuDeviceGetName(name, sizeof(name) - 1, g_device), "cuDeviceGetName");
  auto attr = [&](int which, const char* label) {
    int value = 0;
    Check(env, api->cuDeviceGetAttribute(&value, which, g_device), label);
    return value;
  };
  size_t total = 0;
  Check(env, api->cuDeviceTotalMem(&total, g_device), "cuDeviceTotalMem");
  int version = 0;
  Check(env, api->cuDriverGetVersion(&version), "cuDriverGetVersion");
  Napi::Object out = Napi::Object::New(env);
  out.Set("name", Napi::String::New(env, name));
  out.Set("major", Napi::Number::New(env, attr(kAttrComputeCapabilityMajor, "cuDeviceGetAttribute(major)")));
  out.Set("minor", Napi::Number::New(env, attr(kAttrComputeCapabilityMinor, "cuDeviceGetAttribute(minor)")));
  out.Set("multiprocessors", Napi::Number::New(env, attr(kAttrMultiprocessorCount, "cuDeviceGetAttribute(SMs)")));
  out.Set("maxSharedPerBlock",
          Napi::Number::New(env, attr(kAttrMaxSharedMemoryPerBlockOptin, "cuDeviceGetAttribute(shared optin)")));
  out.Set("totalMemory", Napi::Number::New(env, static_cast<double>(total)));
  out.Set("driverVersion", Napi::Number::New(env, version));
  return out;
}

// nvrtcVersion() -> [major, minor]
Napi::Value NvrtcVersion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string why;
  const NvrtcApi* nvrtc = LoadNvrtc(why);
  if (nvrtc == nullptr) Throw(env, why);
  int major = 0, minor = 0;
  nvrtc->nvrtcVersion(&major, &minor);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, major));
  out.Set(1u, Napi::Number::New(env, minor));
  return out;
}

// compile(source, kernelName, arch like "sm_90", options[]) -> Uint8Array cubin. Throws with the NVRTC log.
Napi::Value Compile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string why;
  const NvrtcApi* nvrtc = LoadNvrtc(why);
  if (nvrtc == nullptr) Throw(env, why);
  const std::string source = StringArg(info, 0, "source");
  const std::string kernel = StringArg(info, 1, "kernelName");
  const std::string arch = "--gpu-architecture=" + StringArg(info, 2, "arch");
  std::vector<std::string> options = {arch, "-std=c++17"};
  if (info.Length() > 3 && info[3].IsArray()) {
    Napi::Array extra = info[3].As<Napi::Array>();
    for (uint32_t i = 0; i < extra.Length(); ++i) options.push_back(extra.Get(i).As<Napi::String>().Utf8Value());
  }
  std::vector<const char*> argv;
  for (const std::string& o : options) argv.push_back(o.c_str());
  nvrtcProgram program = nullptr;
  const std::string file = kernel + ".cu";
  nvrtcResult r = nvrtc->nvrtcCreateProgram(&program, source.c_str(), file.c_str(), 0, nullptr, nullptr);
  if (r != 0) Throw(env, std::string("nvrtcCreateProgram failed: ") + nvrtc->nvrtcGetErrorString(r) + " [kernel " + kernel + "]");
  r = nvrtc->nvrtcCompileProgram(program, static_cast<int>(argv.size()), argv.data());
  size_t logSize = 0;
  nvrtc->nvrtcGetProgramLogSize(program, &logSize);
  std::string log(logSize, '\0');
  if (logSize > 0) nvrtc->nvrtcGetProgramLog(program, &log[0]);
  if (r != 0) {
    nvrtc->nvrtcDestroyProgram(&program);
    Throw(env, std::string("nvrtcCompileProgram failed: ") + nvrtc->nvrtcGetErrorString(r) + " [kernel " + kernel +
                   ", " + arch + "]\n" + log);
  }
  size_t size = 0;
  r = nvrtc->nvrtcGetCUBINSize(program, &size);
  if (r != 0 || size == 0) {
    nvrtc->nvrtcDestroyProgram(&program);
    Throw(env, std::string("nvrtcGetCUBINSize failed: ") + nvrtc->nvrtcGetErrorString(r) + " [kernel " + kernel + "]");
  }
  Napi::Uint8Array cubin = Napi::Uint8Array::New(env, size);
  r = nvrtc->nvrtcGetCUBIN(program, reinterpret_cast<char*>(cubin.Data()));
  nvrtc->nvrtcDestroyProgram(&program);
  if (r != 0) Throw(env, std::string("nvrtcGetCUBIN failed: ") + nvrtc->nvrtcGetErrorString(r) + " [kernel " + kernel + "]");
  return cubin;
}

// loadFunction(cubin, kernelName, dynamicSharedBytes) -> { module, fn, registers, localBytes }
Napi::Value LoadFunction(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  auto [bytes, size] = BytesArg(info, 0, "cubin");
  (void)size;
  const std::string kernel = StringArg(info, 1, "kernelName");
  const int shared = static_cast<int>(NumberArg(info, 2, "dynamicSharedBytes"));
  CUmodule module = nullptr;
  Check(env, api.cuModuleLoadData(&module, bytes), "cuModuleLoadData", kernel);
  CUfunction fn = nullptr;
  CUresult r = api.cuModuleGetFunction(&fn, module, kernel.c_str());
  if (r != 0) {
    api.cuModuleUnload(module);
    Check(env, r, "cuModuleGetFunction", kernel);
  }
  if (shared > 48 * 1024) {
    // Past 48 KB a kernel must opt in to its dynamic shared memory.
    Check(env, api.cuFuncSetAttribute(fn, kFuncAttrMaxDynamicSharedSizeBytes, shared), "cuFuncSetAttribute", kernel);
  }
  int regs = 0, local = 0;
  api.cuFuncGetAttribute(&regs, kFuncAttrNumRegs, fn);
  api.cuFuncGetAttribute(&local, kFuncAttrLocalSizeBytes, fn);
  Napi::Object out = Napi::Object::New(env);
  out.Set("module", Handle(env, module));
  out.Set("fn", Handle(env, fn));
  out.Set("registers", Napi::Number::New(env, regs));
  out.Set("localBytes", Napi::Number::New(env, local));
  return out;
}

// unloadModule(module)
Napi::Value UnloadModule(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  Check(env, api.cuModuleUnload(reinterpret_cast<CUmodule>(HandleArg(info, 0, "module"))), "cuModuleUnload");
  return env.Undefined();
}

// launch(fn, kernelName, [gx, gy, gz], [bx, by, bz], sharedBytes, argBytes, singleParam?): arguments as one packed
// buffer; with singleParam, argBytes is the kernel's only parameter (a struct) and goes through kernelParams, which
// lets the driver place it: a 64-byte aligned struct (one holding CUtensorMaps) starts 48 bytes into the parameter
// bank on sm_90, which a packed buffer would have to reproduce.
Napi::Value Launch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  auto fn = reinterpret_cast<CUfunction>(HandleArg(info, 0, "fn"));
  const std::string kernel = StringArg(info, 1, "kernelName");
  if (!info[2].IsArray() || !info[3].IsArray()) Throw(env, "grid and block must be arrays of 3 numbers");
  Napi::Array grid = info[2].As<Napi::Array>();
  Napi::Array block = info[3].As<Napi::Array>();
  auto dim = [&](Napi::Array a, uint32_t i) { return a.Get(i).As<Napi::Number>().Uint32Value(); };
  const unsigned shared = static_cast<unsigned>(NumberArg(info, 4, "sharedBytes"));
  auto [args, size] = BytesArg(info, 5, "argBytes");
  const bool singleParam = info.Length() > 6 && info[6].IsBoolean() && info[6].As<Napi::Boolean>().Value();
  size_t argSize = size;
  void* extra[] = {TP_CU_LAUNCH_PARAM_BUFFER_POINTER, args, TP_CU_LAUNCH_PARAM_BUFFER_SIZE, &argSize,
                   TP_CU_LAUNCH_PARAM_END};
  void* params[] = {args};
  Check(env,
        api.cuLaunchKernel(fn, dim(grid, 0), dim(grid, 1), dim(grid, 2), dim(block, 0), dim(block, 1), dim(block, 2),
                           shared, g_stream, singleParam ? params : nullptr, singleParam ? nullptr : extra),
        "cuLaunchKernel", kernel);
  return env.Undefined();
}

// encodeTensorMap(ptr, dims[], strideBytes[], box[], swizzle) -> Uint8Array(128): a tiled tensor map of 16-bit
// elements for bulk tensor copies (cuTensorMapEncodeTiled). dims and box innermost first; strideBytes has one entry
// per dimension after the first; swizzle is CUtensorMapSwizzle (0 none, 1 32B, 2 64B, 3 128B). Out-of-bounds
// elements read as zeros.
Napi::Value EncodeTensorMap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  if (api.cuTensorMapEncodeTiled == nullptr) Throw(env, "cuTensorMapEncodeTiled is missing: the driver is older than CUDA 12");
  const unsigned long long ptr = HandleArg(info, 0, "ptr");
  auto numbers = [&](size_t i, const char* name) {
    if (!info[i].IsArray()) Throw(env, std::string(name) + " must be an array of numbers");
    Napi::Array a = info[i].As<Napi::Array>();
    std::vector<unsigned long long> out(a.Length());
    for (uint32_t k = 0; k < a.Length(); ++k) out[k] = static_cast<unsigned long long>(a.Get(k).As<Napi::Number>().DoubleValue());
    return out;
  };
  const auto dims = numbers(1, "dims");
  const auto strides = numbers(2, "strideBytes");
  const auto box64 = numbers(3, "box");
  const int swizzle = static_cast<int>(NumberArg(info, 4, "swizzle"));
  const unsigned rank = static_cast<unsigned>(dims.size());
  if (rank < 1 || rank > 5 || strides.size() + 1 != rank || box64.size() != rank) {
    Throw(env, "encodeTensorMap: rank 1-5 with dims, box of that length and one stride fewer");
  }
  std::vector<unsigned> box(box64.begin(), box64.end()), elementStrides(rank, 1);
  alignas(64) unsigned char encoded[kTensorMapBytes];  // CUtensorMap is 64-byte aligned
  Check(env,
        api.cuTensorMapEncodeTiled(encoded, kTensorMapUint16, rank, reinterpret_cast<void*>(ptr), dims.data(),
                                   strides.data(), box.data(), elementStrides.data(), kTensorMapInterleaveNone, swizzle,
                                   kTensorMapL2Promotion128B, kTensorMapOobFillZeros),
        "cuTensorMapEncodeTiled");
  Napi::Uint8Array map = Napi::Uint8Array::New(env, kTensorMapBytes);
  std::copy(encoded, encoded + kTensorMapBytes, map.Data());
  return map;
}

// synchronize(kernelName?): waits for the device; errors of earlier launches surface here.
Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  const std::string kernel = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  Check(env, api.cuCtxSynchronize(), "cuCtxSynchronize", kernel);
  return env.Undefined();
}

// malloc(bytes) -> BigInt device address (plain device memory, never managed).
Napi::Value Malloc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  const double bytes = NumberArg(info, 0, "bytes");
  CUdeviceptr ptr = 0;
  const std::string what = "cuMemAlloc(" + std::to_string(static_cast<unsigned long long>(bytes)) + " bytes)";
  Check(env, api.cuMemAlloc(&ptr, static_cast<size_t>(bytes > 0 ? bytes : 1)), what.c_str());
  return Napi::BigInt::New(env, static_cast<uint64_t>(ptr));
}

Napi::Value Free(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  Check(env, api.cuMemFree(HandleArg(info, 0, "ptr")), "cuMemFree");
  return env.Undefined();
}

// copyToDevice(ptr, typedArray): the whole array, ordered on the stream. From pageable memory the driver
// stages the bytes before returning, so the array may change as soon as this returns.
Napi::Value CopyToDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  const CUdeviceptr ptr = HandleArg(info, 0, "ptr");
  auto [bytes, size] = BytesArg(info, 1, "source");
  if (size > 0) Check(env, api.cuMemcpyHtoDAsync(ptr, bytes, size, g_stream), "cuMemcpyHtoDAsync");
  return env.Undefined();
}

// copyToHost(typedArray, ptr): fills the whole array once the stream's earlier work is done.
Napi::Value CopyToHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  auto [bytes, size] = BytesArg(info, 0, "destination");
  const CUdeviceptr ptr = HandleArg(info, 1, "ptr");
  if (size > 0) {
    Check(env, api.cuMemcpyDtoHAsync(bytes, ptr, size, g_stream), "cuMemcpyDtoHAsync");
    Check(env, api.cuStreamSynchronize(g_stream), "cuStreamSynchronize (after cuMemcpyDtoHAsync)");
  }
  return env.Undefined();
}

// fill(ptr, byteValue, bytes), ordered on the stream.
Napi::Value Fill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  const CUdeviceptr ptr = HandleArg(info, 0, "ptr");
  const auto value = static_cast<unsigned char>(NumberArg(info, 1, "value"));
  const auto bytes = static_cast<size_t>(NumberArg(info, 2, "bytes"));
  Check(env, api.cuMemsetD8Async(ptr, value, bytes, g_stream), "cuMemsetD8Async");
  return env.Undefined();
}

Napi::Value EventCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  CUevent event = nullptr;
  Check(env, api.cuEventCreate(&event, 0), "cuEventCreate");
  return Handle(env, event);
}

Napi::Value EventRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  Check(env, api.cuEventRecord(reinterpret_cast<CUevent>(HandleArg(info, 0, "event")), g_stream), "cuEventRecord");
  return env.Undefined();
}

// eventElapsed(start, end) -> milliseconds, after waiting for `end`.
Napi::Value EventElapsed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  auto start = reinterpret_cast<CUevent>(HandleArg(info, 0, "start"));
  auto end = reinterpret_cast<CUevent>(HandleArg(info, 1, "end"));
  Check(env, api.cuEventSynchronize(end), "cuEventSynchronize");
  float ms = 0;
  Check(env, api.cuEventElapsedTime(&ms, start, end), "cuEventElapsedTime");
  return Napi::Number::New(env, ms);
}

Napi::Value EventDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = Driver(env);
  Check(env, api.cuEventDestroy(reinterpret_cast<CUevent>(HandleArg(info, 0, "event"))), "cuEventDestroy");
  return env.Undefined();
}

const DriverApi& GraphDriver(Napi::Env env) {
  const DriverApi& api = Driver(env);
  if (api.cuStreamBeginCapture == nullptr)
    Throw(env, "CUDA graphs need a CUDA 11.4 or newer driver (cuGraphInstantiateWithFlags and the capture entry points)");
  return api;
}

// captureBegin(): later work on the stream is recorded into a graph instead of running (relaxed mode: other API
// calls of this thread stay allowed; synchronising ones still fail, and invalidate the capture).
Napi::Value CaptureBegin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = GraphDriver(env);
  Check(env, api.cuStreamBeginCapture(g_stream, kStreamCaptureModeRelaxed), "cuStreamBeginCapture");
  return env.Undefined();
}

// captureEnd() -> BigInt graph: what the stream recorded since captureBegin. Throws (naming the call) when an
// operation during the capture invalidated it.
Napi::Value CaptureEnd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = GraphDriver(env);
  CUgraph graph = nullptr;
  const CUresult r = api.cuStreamEndCapture(g_stream, &graph);
  if (r != 0 && graph != nullptr) api.cuGraphDestroy(graph);
  Check(env, r, "cuStreamEndCapture");
  return Handle(env, graph);
}

// graphInstantiate(graph) -> { exec, nodes }: the executable graph and how many nodes it holds.
Napi::Value GraphInstantiate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = GraphDriver(env);
  auto graph = reinterpret_cast<CUgraph>(HandleArg(info, 0, "graph"));
  size_t nodes = 0;
  Check(env, api.cuGraphGetNodes(graph, nullptr, &nodes), "cuGraphGetNodes");
  CUgraphExec exec = nullptr;
  Check(env, api.cuGraphInstantiateWithFlags(&exec, graph, 0), "cuGraphInstantiateWithFlags");
  Napi::Object out = Napi::Object::New(env);
  out.Set("exec", Handle(env, exec));
  out.Set("nodes", Napi::Number::New(env, static_cast<double>(nodes)));
  return out;
}

// graphLaunch(exec): queue one run of the executable graph on the stream, after the work queued before it.
Napi::Value GraphLaunch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = GraphDriver(env);
  auto exec = reinterpret_cast<CUgraphExec>(HandleArg(info, 0, "exec"));
  Check(env, api.cuGraphLaunch(exec, g_stream), "cuGraphLaunch");
  return env.Undefined();
}

Napi::Value GraphExecDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = GraphDriver(env);
  Check(env, api.cuGraphExecDestroy(reinterpret_cast<CUgraphExec>(HandleArg(info, 0, "exec"))), "cuGraphExecDestroy");
  return env.Undefined();
}

Napi::Value GraphDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DriverApi& api = GraphDriver(env);
  Check(env, api.cuGraphDestroy(reinterpret_cast<CUgraph>(HandleArg(info, 0, "graph"))), "cuGraphDestroy");
  return env.Undefined();
}

}  // namespace

CUstream CurrentStream() { return g_stream; }

// cuBLASLt entries, in cublaslt.cc; NCCL entries, in nccl.cc.
void RegisterGemm(Napi::Env env, Napi::Object exports);
void RegisterNccl(Napi::Env env, Napi::Object exports);

Napi::Object Register(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)> functions[] = {
      {"probe", Probe},           {"init", Init},
      {"nvrtcVersion", NvrtcVersion}, {"compile", Compile},
      {"loadFunction", LoadFunction}, {"unloadModule", UnloadModule},
      {"launch", Launch},         {"synchronize", Synchronize},
      {"malloc", Malloc},         {"free", Free},
      {"copyToDevice", CopyToDevice}, {"copyToHost", CopyToHost},
      {"fill", Fill},             {"eventCreate", EventCreate},
      {"eventRecord", EventRecord}, {"eventElapsed", EventElapsed},
      {"eventDestroy", EventDestroy}, {"encodeTensorMap", EncodeTensorMap},
      {"captureBegin", CaptureBegin}, {"captureEnd", CaptureEnd},
      {"graphInstantiate", GraphInstantiate},
      {"graphLaunch", GraphLaunch}, {"graphExecDestroy", GraphExecDestroy},
      {"graphDestroy", GraphDestroy},
  };
  for (const auto& [name, fn] : functions) exports.Set(name, Napi::Function::New(env, fn, name));
  RegisterGemm(env, exports);
  RegisterNccl(env, exports);
  return exports;
}

}  // namespace tessera

// NODE_API_MODULE pastes the name into an identifier, so it needs an unqualified one.
static Napi::Object RegisterTessera(Napi::Env env, Napi::Object exports) { return tessera::Register(env, exports); }
NODE_API_MODULE(tessera_cuda, RegisterTessera)
