// The system user that sitelinkd's network process runs as (privsep.h in
// daemon/): `sitelink`, which the package creates, or `nobody` where it does
// not exist. Key files may belong to root or to that user.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace sitelink::config {

inline constexpr const char* kDaemonUserName = "sitelink";
inline constexpr const char* kFallbackUserName = "nobody";

struct DaemonUser {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// The `sitelink` user, else `nobody`; nullopt if neither exists.
std::optional<DaemonUser> daemon_user();

// The user called `name` in the user database, if any.
std::optional<DaemonUser> find_user(const std::string& name);

}  // namespace sitelink::config
