// Resolving a library's entry points after dlopen, shared by the loaders of the optional libraries (cuBLASLt,
// NCCL): a required symbol that is missing fails the load with its name; an optional one is left null.
#pragma once

#include <dlfcn.h>

#include <string>

namespace tessera {

// Resolve `name` from `lib` into `slot`. A missing required symbol returns false and names it in `why`; a missing
// optional one sets `slot` to nullptr and returns true.
template <typename Fn>
bool ResolveSymbol(void* lib, const char* name, Fn& slot, std::string& why, bool required = true) {
  void* sym = dlsym(lib, name);
  if (sym == nullptr) {
    slot = nullptr;
    if (required) why = std::string("symbol ") + name + " not found";
    return !required;
  }
  slot = reinterpret_cast<Fn>(sym);
  return true;
}

}  // namespace tessera
