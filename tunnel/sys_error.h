// SysError: a failed system call, with errno and what we were doing, for
// Result<T, SysError> in tunnel/ and daemon/ (libbase's ErrnoError()).
#pragma once

#include <cerrno>
#include <cstring>
#include <string>

#include "handshake/base/result.h"

namespace sitelink::tunnel {

struct SysError {
  int error = 0;     // errno, or 0 for a failure that is not a syscall's
  std::string what;  // "bind 0.0.0.0:51820", "open /dev/net/tun", ...

  std::string message() const {
    if (error == 0) return what;
    return what + ": " + std::strerror(error);
  }
};

// The current errno with context.
inline Err<SysError> errno_error(std::string what) { return Err(SysError{errno, std::move(what)}); }
inline Err<SysError> sys_error(int err, std::string what) { return Err(SysError{err, std::move(what)}); }

template <typename T>
using SysResult = Result<T, SysError>;

}  // namespace sitelink::tunnel
