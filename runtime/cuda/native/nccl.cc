// NCCL for sequence parallelism: libnccl.so.2 opened with dlopen on first use (the addon loads, and tessera
// installs and tests, without it), one communicator per process, and the calls a parallel step makes: grouped
// ncclSend/ncclRecv (the all-to-alls and gathers), all-gather and broadcast, all queued on the addon's one
// stream so a step still captures as one CUDA graph. Every failing call throws an Error naming the call, the
// NCCL error (with ncclGetLastError's details), the rank and the peer. ncclAbort may be called from another
// thread (the control channel's watchdog) while this one is blocked on the stream: it takes the communicator
// away atomically, so later calls report the abort instead of touching a freed communicator.
#include <dlfcn.h>
#include <napi.h>

#include <atomic>
#include <string>
#include <vector>

#include "dl-symbols.h"
#include "nccl-api.h"

namespace tessera {
namespace {

const NcclApi* g_nccl = nullptr;
std::atomic<ncclComm_t> g_comm{nullptr};
std::atomic<bool> g_aborted{false};
int g_rank = -1;
int g_size = 0;

std::string Where(const std::string& what, int peer = -1) {
  std::string out = " [rank " + std::to_string(g_rank) + " of " + std::to_string(g_size);
  if (peer >= 0) out += ", peer " + std::to_string(peer);
  if (!what.empty()) out += ", " + what;
  return out + "]";
}

std::string ResultText(ncclResult_t r) {
  const char* text = g_nccl != nullptr ? g_nccl->ncclGetErrorString(r) : nullptr;
  return std::string(text != nullptr ? text : "NCCL error") + " (" + std::to_string(r) + ")";
}

[[noreturn]] void ThrowNccl(Napi::Env env, const char* call, ncclResult_t r, const std::string& where) {
  std::string message = std::string(call) + " failed: " + ResultText(r);
  ncclComm_t comm = g_comm.load();
  if (g_nccl != nullptr && g_nccl->ncclGetLastError != nullptr) {
    const char* last = g_nccl->ncclGetLastError(comm);
    if (last != nullptr && last[0] != '\0') message += ": " + std::string(last);
  }
  throw Napi::Error::New(env, message + where);
}

const NcclApi& Api(Napi::Env env) {
  if (g_nccl == nullptr) throw Napi::Error::New(env, "NCCL is not loaded: call ncclLoad() first");
  return *g_nccl;
}

ncclComm_t Comm(Napi::Env env, const std::string& what) {
  ncclComm_t comm = g_comm.load();
  if (comm == nullptr)
    throw Napi::Error::New(env, std::string(g_aborted.load() ? "the NCCL communicator was aborted"
                                                              : "no NCCL communicator: call ncclInit() first") +
                                    Where(what));
  return comm;
}

unsigned long long Address(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsBigInt()) throw Napi::Error::New(o.Env(), std::string("'") + key + "' must be a BigInt address");
  bool lossless = true;
  return v.As<Napi::BigInt>().Uint64Value(&lossless);
}

double Number(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::Error::New(o.Env(), std::string("'") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::string Text(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() && info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : "";
}

// ncclLoad(candidates[]) -> { available, reason, version, path }: never throws.
Napi::Value NcclLoad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<std::string> candidates;
  if (info.Length() > 0 && info[0].IsArray()) {
    Napi::Array a = info[0].As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i)
      if (a.Get(i).IsString()) candidates.push_back(a.Get(i).As<Napi::String>().Utf8Value());
  }
  std::string why, path;
  const NcclApi* api = LoadNccl(candidates, why, path);
  int version = 0;
  if (api != nullptr) api->ncclGetVersion(&version);
  Napi::Object out = Napi::Object::New(env);
  out.Set("available", Napi::Boolean::New(env, api != nullptr));
  out.Set("reason", Napi::String::New(env, why));
  out.Set("version", Napi::Number::New(env, version));
  out.Set("path", Napi::String::New(env, path));
  return out;
}

// ncclUniqueId() -> Uint8Array(128): rank 0 makes it and sends it to the others (or NCCL_COMM_ID names the root).
Napi::Value NcclUniqueIdNew(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const NcclApi& api = Api(env);
  NcclUniqueId id{};
  ncclResult_t r = api.ncclGetUniqueId(&id);
  if (r != kNcclSuccess) ThrowNccl(env, "ncclGetUniqueId", r, Where(""));
  Napi::Uint8Array out = Napi::Uint8Array::New(env, kNcclUniqueIdBytes);
  std::copy(id.internal, id.internal + kNcclUniqueIdBytes, reinterpret_cast<char*>(out.Data()));
  return out;
}

// ncclInit(id, nranks, rank): the process's communicator on the current device (init() made it current).
Napi::Value NcclInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const NcclApi& api = Api(env);
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber())
    throw Napi::Error::New(env, "ncclInit(id: Uint8Array(128), nranks, rank)");
  Napi::TypedArray a = info[0].As<Napi::TypedArray>();
  if (a.ByteLength() != kNcclUniqueIdBytes) throw Napi::Error::New(env, "ncclInit: the unique id must be 128 bytes");
  if (g_comm.load() != nullptr) throw Napi::Error::New(env, "ncclInit: this process already has a communicator");
  NcclUniqueId id{};
  const auto* bytes = static_cast<const char*>(a.ArrayBuffer().Data()) + a.ByteOffset();
  std::copy(bytes, bytes + kNcclUniqueIdBytes, id.internal);
  g_size = info[1].As<Napi::Number>().Int32Value();
  g_rank = info[2].As<Napi::Number>().Int32Value();
  ncclComm_t comm = nullptr;
  ncclResult_t r = api.ncclCommInitRank(&comm, g_size, id, g_rank);
  if (r != kNcclSuccess) ThrowNccl(env, "ncclCommInitRank", r, Where(""));
  g_aborted = false;
  g_comm = comm;
  return env.Undefined();
}

// ncclExchange(sends[{peer, ptr, bytes}], recvs[...], what): one group of ncclSend/ncclRecv on the stream.
Napi::Value NcclExchange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const NcclApi& api = Api(env);
  const std::string what = Text(info, 2);
  ncclComm_t comm = Comm(env, what);
  if (info.Length() < 2 || !info[0].IsArray() || !info[1].IsArray())
    throw Napi::Error::New(env, "ncclExchange(sends[], recvs[], what)");
  Napi::Array sends = info[0].As<Napi::Array>();
  Napi::Array recvs = info[1].As<Napi::Array>();
  CUstream stream = CurrentStream();
  ncclResult_t r = api.ncclGroupStart();
  if (r != kNcclSuccess) ThrowNccl(env, "ncclGroupStart", r, Where(what));
  // The group is always ended, so a failed send leaves NCCL usable enough to report (or abort).
  ncclResult_t first = kNcclSuccess;
  const char* firstCall = "";
  int firstPeer = -1;
  auto post = [&](Napi::Array list, bool send) {
    for (uint32_t i = 0; i < list.Length() && first == kNcclSuccess; ++i) {
      Napi::Object o = list.Get(i).As<Napi::Object>();
      const int peer = static_cast<int>(Number(o, "peer"));
      const auto bytes = static_cast<size_t>(Number(o, "bytes"));
      void* ptr = reinterpret_cast<void*>(Address(o, "ptr"));
      ncclResult_t s = send ? api.ncclSend(ptr, bytes, kNcclUint8, peer, comm, stream)
                            : api.ncclRecv(ptr, bytes, kNcclUint8, peer, comm, stream);
      if (s != kNcclSuccess) {
        first = s;
        firstCall = send ? "ncclSend" : "ncclRecv";
        firstPeer = peer;
      }
    }
  };
  post(sends, true);
  post(recvs, false);
  r = api.ncclGroupEnd();
  if (first != kNcclSuccess) ThrowNccl(env, firstCall, first, Where(what, firstPeer));
  if (r != kNcclSuccess && r != kNcclInProgress) ThrowNccl(env, "ncclGroupEnd", r, Where(what));
  return env.Undefined();
}

// ncclAllGather(send, recv, bytes, what): every rank's `bytes` at send, in rank order at recv.
Napi::Value NcclAllGather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const NcclApi& api = Api(env);
  const std::string what = Text(info, 3);
  ncclComm_t comm = Comm(env, what);
  bool lossless = true;
  if (info.Length() < 3 || !info[0].IsBigInt() || !info[1].IsBigInt() || !info[2].IsNumber())
    throw Napi::Error::New(env, "ncclAllGather(send, recv, bytes, what)");
  const void* send = reinterpret_cast<const void*>(info[0].As<Napi::BigInt>().Uint64Value(&lossless));
  void* recv = reinterpret_cast<void*>(info[1].As<Napi::BigInt>().Uint64Value(&lossless));
  const auto bytes = static_cast<size_t>(info[2].As<Napi::Number>().DoubleValue());
  ncclResult_t r = api.ncclAllGather(send, recv, bytes, kNcclUint8, comm, CurrentStream());
  if (r != kNcclSuccess) ThrowNccl(env, "ncclAllGather", r, Where(what));
  return env.Undefined();
}

// ncclBroadcast(send, recv, bytes, root, what).
Napi::Value NcclBroadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const NcclApi& api = Api(env);
  const std::string what = Text(info, 4);
  ncclComm_t comm = Comm(env, what);
  bool lossless = true;
  if (info.Length() < 4 || !info[0].IsBigInt() || !info[1].IsBigInt() || !info[2].IsNumber() || !info[3].IsNumber())
    throw Napi::Error::New(env, "ncclBroadcast(send, recv, bytes, root, what)");
  const void* send = reinterpret_cast<const void*>(info[0].As<Napi::BigInt>().Uint64Value(&lossless));
  void* recv = reinterpret_cast<void*>(info[1].As<Napi::BigInt>().Uint64Value(&lossless));
  const auto bytes = static_cast<size_t>(info[2].As<Napi::Number>().DoubleValue());
  const int root = info[3].As<Napi::Number>().Int32Value();
  ncclResult_t r = api.ncclBroadcast(send, recv, bytes, kNcclUint8, root, comm, CurrentStream());
  if (r != kNcclSuccess) ThrowNccl(env, "ncclBroadcast", r, Where(what, root));
  return env.Undefined();
}

// ncclAsyncError() -> { code, text }: code 0 when the communicator is healthy (or there is none).
Napi::Value NcclAsyncError(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  ncclResult_t code = kNcclSuccess;
  ncclComm_t comm = g_comm.load();
  if (g_nccl != nullptr && comm != nullptr) {
    ncclResult_t r = g_nccl->ncclCommGetAsyncError(comm, &code);
    if (r != kNcclSuccess) code = r;
  }
  out.Set("code", Napi::Number::New(env, code));
  out.Set("text", Napi::String::New(env, code == kNcclSuccess ? "" : ResultText(code)));
  return out;
}

// ncclAbort() -> whether there was a communicator to abort. Safe from another thread (see the file comment).
Napi::Value NcclAbort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ncclComm_t comm = g_comm.exchange(nullptr);
  if (comm == nullptr || g_nccl == nullptr) return Napi::Boolean::New(env, false);
  g_aborted = true;
  g_nccl->ncclCommAbort(comm);
  return Napi::Boolean::New(env, true);
}

// ncclDestroy(): free the communicator after its work finished (a clean end of the run).
Napi::Value NcclDestroy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ncclComm_t comm = g_comm.exchange(nullptr);
  if (comm == nullptr || g_nccl == nullptr) return env.Undefined();
  ncclResult_t r = g_nccl->ncclCommDestroy(comm);
  if (r != kNcclSuccess) ThrowNccl(env, "ncclCommDestroy", r, Where(""));
  return env.Undefined();
}

}  // namespace

const NcclApi* LoadNccl(const std::vector<std::string>& candidates, std::string& why, std::string& path) {
  static NcclApi api;
  static std::string loadedFrom;
  if (g_nccl != nullptr) {
    path = loadedFrom;
    return g_nccl;
  }
  std::string tried;
  void* lib = nullptr;
  for (const std::string& name : candidates) {
    if (name.empty()) continue;
    lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib != nullptr) {
      loadedFrom = name;
      break;
    }
    const char* err = dlerror();
    tried += "\n  " + name + ": " + (err ? err : "not found");
  }
  if (lib == nullptr) {
    why = "NCCL (libnccl.so.2) could not be loaded; set TESSERA_NCCL_LIBRARY to its path, or install NCCL (the "
          "nvidia-nccl-cu12 / -cu13 wheel PyTorch depends on, or the system package). Tried:" + tried;
    return nullptr;
  }
  bool ok = ResolveSymbol(lib, "ncclGetVersion", api.ncclGetVersion, why) &&
            ResolveSymbol(lib, "ncclGetUniqueId", api.ncclGetUniqueId, why) &&
            ResolveSymbol(lib, "ncclCommInitRank", api.ncclCommInitRank, why) &&
            ResolveSymbol(lib, "ncclCommDestroy", api.ncclCommDestroy, why) &&
            ResolveSymbol(lib, "ncclCommAbort", api.ncclCommAbort, why) &&
            ResolveSymbol(lib, "ncclCommGetAsyncError", api.ncclCommGetAsyncError, why) &&
            ResolveSymbol(lib, "ncclGetErrorString", api.ncclGetErrorString, why) &&
            ResolveSymbol(lib, "ncclGetLastError", api.ncclGetLastError, why, false) &&
            ResolveSymbol(lib, "ncclGroupStart", api.ncclGroupStart, why) &&
            ResolveSymbol(lib, "ncclGroupEnd", api.ncclGroupEnd, why) &&
            ResolveSymbol(lib, "ncclSend", api.ncclSend, why) && ResolveSymbol(lib, "ncclRecv", api.ncclRecv, why) &&
            ResolveSymbol(lib, "ncclAllGather", api.ncclAllGather, why) &&
            ResolveSymbol(lib, "ncclBroadcast", api.ncclBroadcast, why);
  if (!ok) {
    why = "NCCL at " + loadedFrom + " is too old or incomplete (tessera needs NCCL 2.7 or newer): " + why;
    dlclose(lib);
    return nullptr;
  }
  path = loadedFrom;
  g_nccl = &api;
  return g_nccl;
}

// Adds the NCCL entries to the addon's exports (called from addon.cc's Register).
void RegisterNccl(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Napi::Value (*)(const Napi::CallbackInfo&)> functions[] = {
      {"ncclLoad", NcclLoad},         {"ncclUniqueId", NcclUniqueIdNew}, {"ncclInit", NcclInit},
      {"ncclExchange", NcclExchange}, {"ncclAllGather", NcclAllGather},  {"ncclBroadcast", NcclBroadcast},
      {"ncclAsyncError", NcclAsyncError}, {"ncclAbort", NcclAbort},      {"ncclDestroy", NcclDestroy},
  };
  for (const auto& [name, fn] : functions) exports.Set(name, Napi::Function::New(env, fn, name));
}

}  // namespace tessera
