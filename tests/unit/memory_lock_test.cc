// lock_memory(): locks only under an unlimited RLIMIT_MEMLOCK (raising it
// when allowed), falls back when MCL_ONFAULT is unknown, and says why when it
// cannot lock; and, for real in a child process, reports what the kernel did.
#include "daemon/memory_lock.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <vector>

namespace sitelink::daemon {
namespace {

class FakeSys final : public MemoryLockSys {
 public:
  int get_memlock_limit(rlimit& out) override {
    out = limit;
    return get_error;
  }
  int set_memlock_limit(const rlimit& l) override {
    sets.push_back(l);
    if (set_error != 0) return set_error;
    limit = l;
    return 0;
  }
  int lock_all(int flags) override {
    lock_flags.push_back(flags);
    return lock_errors.empty() ? 0 : pop(lock_errors);
  }

  rlimit limit{RLIM_INFINITY, RLIM_INFINITY};
  int get_error = 0;
  int set_error = 0;
  std::vector<int> lock_errors;  // returned by successive lock_all calls
  std::vector<rlimit> sets;
  std::vector<int> lock_flags;

 private:
  static int pop(std::vector<int>& v) {
    const int e = v.front();
    v.erase(v.begin());
    return e;
  }
};

constexpr int kAll = MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT;

TEST(MemoryLock, UnlimitedLimitLocksEverythingOnFault) {
  FakeSys sys;
  const auto r = lock_memory(sys);
  EXPECT_TRUE(r.locked);
  EXPECT_EQ(r.warning, "");
  EXPECT_TRUE(sys.sets.empty());
  EXPECT_EQ(sys.lock_flags, std::vector<int>{kAll});
}

TEST(MemoryLock, SoftLimitIsRaisedToUnlimitedFirst) {
  FakeSys sys;
  sys.limit = {8u << 20, RLIM_INFINITY};
  EXPECT_TRUE(lock_memory(sys).locked);
  ASSERT_EQ(sys.sets.size(), 1u);
  EXPECT_EQ(sys.sets[0].rlim_cur, RLIM_INFINITY);
  EXPECT_EQ(sys.sets[0].rlim_max, RLIM_INFINITY);
  EXPECT_EQ(sys.lock_flags, std::vector<int>{kAll});
}

TEST(MemoryLock, FiniteLimitThatCannotBeRaisedLocksNothing) {
  // MCL_FUTURE under a finite limit would make later allocations fail.
  FakeSys sys;
  sys.limit = {8u << 20, 8u << 20};
  sys.set_error = EPERM;
  const auto r = lock_memory(sys);
  EXPECT_FALSE(r.locked);
  EXPECT_TRUE(sys.lock_flags.empty());
  EXPECT_NE(r.warning.find("RLIMIT_MEMLOCK is 8192 KiB"), std::string::npos) << r.warning;
  EXPECT_NE(r.warning.find("LimitMEMLOCK=infinity"), std::string::npos) << r.warning;
  EXPECT_NE(r.warning.find("swap"), std::string::npos) << r.warning;
}

TEST(MemoryLock, KernelWithoutOnFaultIsRetriedWithoutIt) {
  FakeSys sys;
  sys.lock_errors = {EINVAL};
  EXPECT_TRUE(lock_memory(sys).locked);
  EXPECT_EQ(sys.lock_flags, (std::vector<int>{kAll, MCL_CURRENT | MCL_FUTURE}));
}

TEST(MemoryLock, MlockallFailureIsReported) {
  FakeSys sys;
  sys.lock_errors = {ENOMEM};
  const auto r = lock_memory(sys);
  EXPECT_FALSE(r.locked);
  EXPECT_EQ(sys.lock_flags.size(), 1u);
  EXPECT_NE(r.warning.find("mlockall: Cannot allocate memory"), std::string::npos) << r.warning;
}

TEST(MemoryLock, GetrlimitFailureIsReported) {
  FakeSys sys;
  sys.get_error = EPERM;
  const auto r = lock_memory(sys);
  EXPECT_FALSE(r.locked);
  EXPECT_TRUE(sys.lock_flags.empty());
  EXPECT_NE(r.warning.find("getrlimit"), std::string::npos) << r.warning;
}

// VmLck of this process, in kB.
long locked_kb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmLck:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;  // ASan makes mlockall a no-op (its shadow must not be locked)
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

// In a child (a death test forks), so the test process itself stays
// unlocked: whatever the machine allows, the outcome matches the kernel's
// accounting, and a locked process can still allocate.
[[noreturn]] void lock_for_real() {
  const auto r = lock_memory();
  const long kb = locked_kb();
  std::vector<char> after(1 << 20, 1);  // MCL_FUTURE: later allocations still work
  const bool said = r.locked == r.warning.empty();
  const bool kernel_agrees = kAsan || (r.locked ? kb > 0 : kb == 0);
  _exit(said && kernel_agrees && after.back() == 1 ? 0 : 1);
}

TEST(MemoryLockDeathTest, RealLockMatchesTheKernelsAccounting) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(lock_for_real(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace sitelink::daemon
