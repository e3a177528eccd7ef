// Keeping key material out of swap: lock the daemon's memory in RAM with
// mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT), best effort.
//
// MCL_FUTURE makes every later mapping count against RLIMIT_MEMLOCK, and a
// mapping past the limit fails (malloc returns null, the daemon dies). So
// memory is locked only when the limit is unlimited: it is raised to
// unlimited when that is allowed (the hard limit is unlimited, or we may
// raise it: CAP_SYS_RESOURCE), and otherwise nothing is locked and the
// caller is told why, to log it as a warning. MCL_ONFAULT locks pages as
// they are first touched instead of all at once, so the resident size does
// not jump to the virtual size (kernels before 4.4 lack it: retried
// without). Under systemd, LimitMEMLOCK=infinity in the unit gives the
// limit (the unit's system call filter refuses setrlimit).
//
// Secrets are also zeroed when freed (Secret<N>), and core dumps are off,
// so a locked daemon leaves no key in swap, core files or freed memory.
#pragma once

#include <sys/resource.h>

#include <string>

namespace sitelink::daemon {

// The system calls lock_memory() makes; tests replace them.
class MemoryLockSys {
 public:
  virtual ~MemoryLockSys() = default;
  // Each returns 0 or an errno value.
  virtual int get_memlock_limit(rlimit& out);
  virtual int set_memlock_limit(const rlimit& limit);
  virtual int lock_all(int flags);
};

struct MemoryLockOutcome {
  bool locked = false;
  std::string warning;  // why memory is not locked (empty when it is)
};

MemoryLockOutcome lock_memory(MemoryLockSys& sys);
MemoryLockOutcome lock_memory();  // with the real system calls

// Key material must never reach a core file: RLIMIT_CORE 0 and not
// dumpable. Both binaries call it first thing in main, before any key or
// configuration is read; the daemon again after it forks.
void disable_core_dumps();

}  // namespace sitelink::daemon
