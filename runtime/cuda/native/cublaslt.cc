// cuBLASLt GEMMs for the model backend: libcublasLt opened with dlopen on first use (the addon loads without
// it), one strided-batched bf16/fp16 GEMM entry with fp32 accumulation and an optional bias epilogue. Matmul
// descriptors, layouts and the heuristic's algorithm are cached per problem shape, so a forward pass queries the
// heuristic once per distinct GEMM. Every failing call throws an Error naming the call and the cuBLAS status.
#include <dlfcn.h>
#include <napi.h>

#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "cublaslt-api.h"
#include "dl-symbols.h"
#include "cuda-api.h"

namespace tessera {
namespace {

const CublasLtApi* g_lt = nullptr;
cublasLtHandle_t g_handle = nullptr;

std::string StatusText(cublasStatus_t status) {
  const char* name = g_lt != nullptr && g_lt->cublasLtGetStatusName != nullptr ? g_lt->cublasLtGetStatusName(status)
                                                                               : nullptr;
  return name != nullptr ? std::string(name) + " (" + std::to_string(status) + ")"
                         : "cuBLAS status " + std::to_string(status);
}

void CheckLt(Napi::Env env, cublasStatus_t status, const char* what, const std::string& gemm) {
  if (status == 0) return;
  throw Napi::Error::New(env, std::string(what) + " failed: " + StatusText(status) + " [gemm " + gemm + "]");
}

const CublasLtApi& Lt(Napi::Env env) {
  std::string why;
  const CublasLtApi* api = LoadCublasLt(why);
  if (api == nullptr) throw Napi::Error::New(env, why);
  g_lt = api;
  if (g_handle == nullptr) CheckLt(env, api->cublasLtCreate(&g_handle), "cublasLtCreate", "init");
  return *api;
}

// One cached GEMM configuration: descriptor, the four layouts (C and D share one) and the chosen algorithm.
struct Plan {
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  CublasLtMatmulAlgo algo{};
  size_t workspace = 0;
};
std::map<std::string, Plan> g_plans;

int DataType(Napi::Env env, const std::string& name) {
  if (name == "bfloat16") return kCudaR16BF;
  if (name == "float16") return kCudaR16F;
  if (name == "float32") return kCudaR32F;
  throw Napi::Error::New(env, "gemm: unsupported dtype '" + name + "' (bfloat16, float16 or float32)");
}

double Num(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::Error::New(o.Env(), std::string("gemm: '") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

uint64_t Ptr(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBigInt()) throw Napi::Error::New(o.Env(), std::string("gemm: '") + key + "' must be a BigInt address");
  bool lossless = true;
  return v.As<Napi::BigInt>().Uint64Value(&lossless);
}

std::string Str(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::Error::New(o.Env(), std::string("gemm: '") + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

cublasLtMatrixLayout_t Layout(Napi::Env env, const CublasLtApi& api, int type, uint64_t rows, uint64_t cols, int64_t ld,
                              int32_t batch, int64_t stride, const std::string& key) {
  cublasLtMatrixLayout_t layout = nullptr;
  CheckLt(env, api.cublasLtMatrixLayoutCreate(&layout, type, rows, cols, ld), "cublasLtMatrixLayoutCreate", key);
  if (batch > 1) {
    CheckLt(env, api.cublasLtMatrixLayoutSetAttribute(layout, kLtLayoutBatchCount, &batch, sizeof(batch)),
            "cublasLtMatrixLayoutSetAttribute(BATCH_COUNT)", key);
    CheckLt(env, api.cublasLtMatrixLayoutSetAttribute(layout, kLtLayoutStridedBatchOffset, &stride, sizeof(stride)),
            "cublasLtMatrixLayoutSetAttribute(STRIDED_BATCH_OFFSET)", key);
  }
  return layout;
}

// gemmProbe() -> { available, reason, version }: never throws.
Napi::Value GemmProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string why;
  const CublasLtApi* api = LoadCublasLt(why);
  Napi::Object out = Napi::Object::New(env);
  out.Set("available", Napi::Boolean::New(env, api != nullptr));
  out.Set("reason", Napi::String::New(env, why));
  const double version = api != nullptr && api->cublasLtGetVersion != nullptr ? double(api->cublasLtGetVersion()) : 0;
  out.Set("version", Napi::Number::New(env, version));
  return out;
}

// gemm(desc): row-major C[M, N] (+)= alpha * A[M, K] * op(B) (+ bias[N]), batched by strides; see native-binding.ts.
//
// cuBLASLt is column-major, so the row-major product is computed transposed: C^T[N, M] = op(B)^T' * A^T, i.e.
// cuBLAS' A operand is our B (transposed when B is [N, K]) and its B operand is our A; bias[N] then runs along
// the rows of the column-major D, which is what CUBLASLT_EPILOGUE_BIAS broadcasts.
Napi::Value Gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::Error::New(env, "gemm: expected one descriptor object");
  Napi::Object o = info[0].As<Napi::Object>();
  const CublasLtApi& api = Lt(env);
  const auto m = static_cast<uint64_t>(Num(o, "m"));
  const auto n = static_cast<uint64_t>(Num(o, "n"));
  const auto k = static_cast<uint64_t>(Num(o, "k"));
  const auto lda = static_cast<int64_t>(Num(o, "lda"));
  const auto ldb = static_cast<int64_t>(Num(o, "ldb"));
  const auto ldc = static_cast<int64_t>(Num(o, "ldc"));
  const auto batch = static_cast<int32_t>(Num(o, "batch"));
  const auto strideA = static_cast<int64_t>(Num(o, "strideA"));
  const auto strideB = static_cast<int64_t>(Num(o, "strideB"));
  const auto strideC = static_cast<int64_t>(Num(o, "strideC"));
  const bool transB = o.Get("transB").ToBoolean().Value();
  const float alpha = static_cast<float>(Num(o, "alpha"));
  const float beta = 0.0f;
  const std::string inType = Str(o, "inType");
  const std::string outType = Str(o, "outType");
  const uint64_t bias = Ptr(o, "bias");
  const uint64_t workspace = Ptr(o, "workspace");
  const auto workspaceBytes = static_cast<uint64_t>(Num(o, "workspaceBytes"));
  const std::string key = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + " ld " +
                          std::to_string(lda) + "/" + std::to_string(ldb) + "/" + std::to_string(ldc) + " batch " +
                          std::to_string(batch) + " s " + std::to_string(strideA) + "/" + std::to_string(strideB) +
                          "/" + std::to_string(strideC) + (transB ? " BT " : " B ") + inType + "->" + outType +
                          (bias != 0 ? " +bias" : "") + " ws " + std::to_string(workspaceBytes);
  auto found = g_plans.find(key);
  if (found == g_plans.end()) {
    Plan plan;
    const int in = DataType(env, inType);
    const int out = DataType(env, outType);
    CheckLt(env, api.cublasLtMatmulDescCreate(&plan.desc, kCublasCompute32F, kCudaR32F), "cublasLtMatmulDescCreate",
            key);
    const int32_t opA = transB ? kCublasOpT : kCublasOpN;
    const int32_t opB = kCublasOpN;
    CheckLt(env, api.cublasLtMatmulDescSetAttribute(plan.desc, kLtDescTransA, &opA, sizeof(opA)),
            "cublasLtMatmulDescSetAttribute(TRANSA)", key);
    CheckLt(env, api.cublasLtMatmulDescSetAttribute(plan.desc, kLtDescTransB, &opB, sizeof(opB)),
            "cublasLtMatmulDescSetAttribute(TRANSB)", key);
    const uint32_t epilogue = bias != 0 ? kLtEpilogueBias : kLtEpilogueDefault;
    CheckLt(env, api.cublasLtMatmulDescSetAttribute(plan.desc, kLtDescEpilogue, &epilogue, sizeof(epilogue)),
            "cublasLtMatmulDescSetAttribute(EPILOGUE)", key);
    if (bias != 0) {
      const void* biasPtr = reinterpret_cast<const void*>(bias);
      CheckLt(env, api.cublasLtMatmulDescSetAttribute(plan.desc, kLtDescBiasPointer, &biasPtr, sizeof(biasPtr)),
              "cublasLtMatmulDescSetAttribute(BIAS_POINTER)", key);
    }
    // Our B: [N, K] row-major = column-major K x N (op T gives N x K); [K, N] row-major = column-major N x K.
    plan.a = transB ? Layout(env, api, in, k, n, ldb, batch, strideB, key)
                    : Layout(env, api, in, n, k, ldb, batch, strideB, key);
    plan.b = Layout(env, api, in, k, m, lda, batch, strideA, key);
    plan.d = Layout(env, api, out, n, m, ldc, batch, strideC, key);
    cublasLtMatmulPreference_t pref = nullptr;
    CheckLt(env, api.cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate", key);
    CheckLt(env,
            api.cublasLtMatmulPreferenceSetAttribute(pref, kLtPrefMaxWorkspaceBytes, &workspaceBytes,
                                                     sizeof(workspaceBytes)),
            "cublasLtMatmulPreferenceSetAttribute(MAX_WORKSPACE_BYTES)", key);
    CublasLtHeuristicResult result{};
    int returned = 0;
    CheckLt(env,
            api.cublasLtMatmulAlgoGetHeuristic(g_handle, plan.desc, plan.a, plan.b, plan.d, plan.d, pref, 1, &result,
                                               &returned),
            "cublasLtMatmulAlgoGetHeuristic", key);
    if (returned == 0) throw Napi::Error::New(env, "cublasLtMatmulAlgoGetHeuristic found no algorithm [gemm " + key + "]");
    plan.algo = result.algo;
    plan.workspace = result.workspaceSize;
    found = g_plans.emplace(key, plan).first;
  }
  const Plan& plan = found->second;
  if (bias != 0) {
    const void* biasPtr = reinterpret_cast<const void*>(bias);
    CheckLt(env, api.cublasLtMatmulDescSetAttribute(plan.desc, kLtDescBiasPointer, &biasPtr, sizeof(biasPtr)),
            "cublasLtMatmulDescSetAttribute(BIAS_POINTER)", key);
  }
  const auto* aPtr = reinterpret_cast<const void*>(Ptr(o, "a"));
  const auto* bPtr = reinterpret_cast<const void*>(Ptr(o, "b"));
  auto* cPtr = reinterpret_cast<void*>(Ptr(o, "c"));
  // cuBLAS' A is our B and vice versa (see above).
  CheckLt(env,
          api.cublasLtMatmul(g_handle, plan.desc, &alpha, bPtr, plan.a, aPtr, plan.b, &beta, cPtr, plan.d, cPtr, plan.d,
                             &plan.algo, reinterpret_cast<void*>(workspace), plan.workspace, CurrentStream()),
          "cublasLtMatmul", key);
  return env.Undefined();
}

}  // namespace

const CublasLtApi* LoadCublasLt(std::string& why) {
  static CublasLtApi api;
  static bool loaded = false;
  static std::string failure;
  if (loaded) return &api;
  if (!failure.empty()) {
    why = failure;
    return nullptr;
  }
  std::vector<std::string> names;
  if (const char* path = std::getenv("TESSERA_CUBLASLT_PATH")) names.emplace_back(path);
  for (const char* v : {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"}) names.emplace_back(v);
  for (const char* env : {"CUDA_HOME", "CUDA_PATH"}) {
    if (const char* home = std::getenv(env)) names.emplace_back(std::string(home) + "/lib64/libcublasLt.so");
  }
  names.emplace_back("/usr/local/cuda/lib64/libcublasLt.so");
  std::string tried;
  void* lib = nullptr;
  for (const std::string& name : names) {
    lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib != nullptr) break;
    const char* err = dlerror();
    tried += "\n  " + name + ": " + (err ? err : "not found");
  }
  if (lib == nullptr) {
    failure = "cuBLASLt (libcublasLt.so) could not be loaded; install the CUDA toolkit's cuBLAS or set "
              "TESSERA_CUBLASLT_PATH:" + tried;
    why = failure;
    return nullptr;
  }
  bool ok = ResolveSymbol(lib, "cublasLtCreate", api.cublasLtCreate, why) &&
            ResolveSymbol(lib, "cublasLtMatmulDescCreate", api.cublasLtMatmulDescCreate, why) &&
            ResolveSymbol(lib, "cublasLtMatmulDescSetAttribute", api.cublasLtMatmulDescSetAttribute, why) &&
            ResolveSymbol(lib, "cublasLtMatrixLayoutCreate", api.cublasLtMatrixLayoutCreate, why) &&
            ResolveSymbol(lib, "cublasLtMatrixLayoutSetAttribute", api.cublasLtMatrixLayoutSetAttribute, why) &&
            ResolveSymbol(lib, "cublasLtMatmulPreferenceCreate", api.cublasLtMatmulPreferenceCreate, why) &&
            ResolveSymbol(lib, "cublasLtMatmulPreferenceSetAttribute", api.cublasLtMatmulPreferenceSetAttribute, why) &&
            ResolveSymbol(lib, "cublasLtMatmulAlgoGetHeuristic", api.cublasLtMatmulAlgoGetHeuristic, why) &&
            ResolveSymbol(lib, "cublasLtMatmul", api.cublasLtMatmul, why) &&
            ResolveSymbol(lib, "cublasLtGetStatusName", api.cublasLtGetStatusName, why, false) &&
            ResolveSymbol(lib, "cublasLtGetVersion", api.cublasLtGetVersion, why, false);
  if (!ok) {
    failure = "libcublasLt is too old or incomplete: " + why;
    why = failure;
    return nullptr;
  }
  loaded = true;
  return &api;
}

// Adds gemmProbe and gemm to the addon's exports (called from addon.cc's Register).
void RegisterGemm(Napi::Env env, Napi::Object exports) {
  exports.Set("gemmProbe", Napi::Function::New(env, GemmProbe, "gemmProbe"));
  exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
}

}  // namespace tessera
