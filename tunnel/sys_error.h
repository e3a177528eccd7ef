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

// What a refused UDP send (its errno) most likely means, as "; ..." to
// append to the error text, or "" when there is nothing to add.
inline const char* send_error_hint(int err) {
  switch (err) {
    case EPERM:
    case EACCES: return "; a local firewall rejects it (an nftables or iptables output rule)";
    case ENETUNREACH:
    case EHOSTUNREACH: return "; this host has no route to it";
    case EMSGSIZE: return "; the datagram is larger than the route allows (lower the mtu)";
    case ENOBUFS:
    case EAGAIN: return "; the socket's send buffer is full (the uplink is saturated)";
    case EADDRNOTAVAIL: return "; the local address it would use is gone";
    default: return "";
  }
}

}  // namespace sitelink::tunnel
