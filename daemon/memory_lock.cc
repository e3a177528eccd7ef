// Locking the daemon's memory; see memory_lock.h.
#include "daemon/memory_lock.h"

#include <sys/mman.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstring>

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4  // Linux 4.4; older C libraries lack the name
#endif

namespace sitelink::daemon {

namespace {

std::string limit_text(rlim_t v) { return v == RLIM_INFINITY ? "unlimited" : std::to_string(v / 1024) + " KiB"; }

const char* const kSwapRisk = "; key material may be written to swap";

// Makes RLIMIT_MEMLOCK unlimited if it is not; "" or why it cannot.
std::string unlimit(MemoryLockSys& sys) {
  rlimit lim{};
  if (int e = sys.get_memlock_limit(lim); e != 0) {
    return std::string("memory not locked: getrlimit(RLIMIT_MEMLOCK): ") + std::strerror(e) + kSwapRisk;
  }
  if (lim.rlim_cur == RLIM_INFINITY) return "";
  const rlimit unlimited{RLIM_INFINITY, RLIM_INFINITY};
  if (sys.set_memlock_limit(unlimited) == 0) return "";
  return "memory not locked: RLIMIT_MEMLOCK is " + limit_text(lim.rlim_cur) + " (hard " + limit_text(lim.rlim_max) +
         ") and cannot be raised; locking needs it unlimited" + kSwapRisk +
         " (set LimitMEMLOCK=infinity in the systemd unit, or run with `ulimit -l unlimited`)";
}

}  // namespace

int MemoryLockSys::get_memlock_limit(rlimit& out) { return ::getrlimit(RLIMIT_MEMLOCK, &out) == 0 ? 0 : errno; }

int MemoryLockSys::set_memlock_limit(const rlimit& limit) {
  return ::setrlimit(RLIMIT_MEMLOCK, &limit) == 0 ? 0 : errno;
}

int MemoryLockSys::lock_all(int flags) { return ::mlockall(flags) == 0 ? 0 : errno; }

MemoryLockOutcome lock_memory(MemoryLockSys& sys) {
  if (std::string why = unlimit(sys); !why.empty()) return {false, why};
  int e = sys.lock_all(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT);
  if (e == EINVAL) e = sys.lock_all(MCL_CURRENT | MCL_FUTURE);
  if (e != 0) return {false, std::string("memory not locked: mlockall: ") + std::strerror(e) + kSwapRisk};
  return {true, ""};
}

MemoryLockOutcome lock_memory() {
  MemoryLockSys sys;
  return lock_memory(sys);
}

void disable_core_dumps() {
  const rlimit zero{0, 0};
  setrlimit(RLIMIT_CORE, &zero);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

}  // namespace sitelink::daemon
