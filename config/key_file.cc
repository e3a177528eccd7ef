// Key files: open, check type and mode on the open descriptor (no race
// between check and read), read a bounded amount, trim.
#include "config/key_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "config/daemon_user.h"
#include "handshake/base/secret.h"
#include "handshake/base/unique_fd.h"

namespace sitelink::config {
namespace {

// A key is 44 characters; anything much larger is not a key file.
constexpr size_t kMaxKeyFile = 4096;

std::string trim(const char* p, size_t n) {
  const char* ws = " \t\r\n\v\f";
  std::string_view s(p, n);
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(ws);
  return std::string(s.substr(b, e - b + 1));
}

bool owner_may_hold_keys(uid_t owner) {
  const auto user = find_user(kDaemonUserName);
  return key_file_owner_allowed(owner, ::geteuid(), user ? std::optional<uid_t>(user->uid) : std::nullopt);
}

}  // namespace

bool key_file_owner_allowed(uid_t owner, uid_t reader, std::optional<uid_t> daemon_uid) {
  return owner == 0 || owner == reader || (daemon_uid && owner == *daemon_uid);
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Result<std::string, std::string> read_key_file(const std::string& path) {
  const std::string quoted = "'" + path + "'";
  if (path.find('\0') != std::string::npos) return Err("key file name " + quoted + " contains a NUL byte");
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (!fd.valid()) return Err("cannot read key file " + quoted + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Err("cannot read key file " + quoted + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return Err("key file " + quoted + " is not a regular file");
  if (!owner_may_hold_keys(st.st_uid)) {
    return Err("key file " + quoted + " belongs to uid " + std::to_string(st.st_uid) + ", not to root or the '" +
               kDaemonUserName + "' user; run 'chown root: " + path + "'");
  }
  if ((st.st_mode & 077) != 0) {
    return Err("key file " + quoted + " is accessible by group or others (mode " + mode_text(st.st_mode) +
               "); run 'chmod 600 " + path + "'");
  }
  Secret<kMaxKeyFile + 1> buf;
  size_t len = 0;
  while (len < decltype(buf)::size()) {
    const ssize_t n = ::read(fd.get(), buf.data() + len, decltype(buf)::size() - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Err("cannot read key file " + quoted + ": " + std::strerror(errno));
    if (n == 0) break;
    len += static_cast<size_t>(n);
  }
  if (len > kMaxKeyFile) return Err("key file " + quoted + " is too large to hold a key");
  return trim(reinterpret_cast<const char*>(buf.data()), len);
}

}  // namespace sitelink::config
