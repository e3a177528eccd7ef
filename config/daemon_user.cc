// The daemon's user from the user database; see daemon_user.h.
#include "config/daemon_user.h"

#include <pwd.h>
#include <unistd.h>

#include <vector>

namespace sitelink::config {

std::optional<DaemonUser> find_user(const std::string& name) {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  std::vector<char> buf(size > 0 ? static_cast<size_t>(size) : 16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return std::nullopt;
  return DaemonUser{name, pw.pw_uid, pw.pw_gid};
}

std::optional<DaemonUser> daemon_user() {
  if (auto u = find_user(kDaemonUserName)) return u;
  return find_user(kFallbackUserName);
}

}  // namespace sitelink::config
