// Reading key files (private-key-file, preshared-key-file) the way ssh reads
// private keys: the file must be a regular file that neither group nor
// others can access (mode & 077 == 0), owned by root, the daemon's user
// (daemon_user.h) or the reader, and it holds one base64 key with
// surrounding whitespace ignored.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "handshake/base/result.h"

namespace sitelink::config {

// The file's contents with leading and trailing whitespace removed. The
// caller must wipe the returned text (secure_zero) once it is decoded. On
// failure the error is a message naming the file and the fix.
[[nodiscard]] Result<std::string, std::string> read_key_file(const std::string& path);

// As ssh accepts a key file only from its user or root: root, the reader
// (`sitelink check` run by the file's owner) or the daemon's user (the
// `sitelink` user, when it exists).
bool key_file_owner_allowed(uid_t owner, uid_t reader, std::optional<uid_t> daemon_uid);

// "0644": a file mode's permission bits, as messages name them.
std::string mode_text(mode_t mode);

}  // namespace sitelink::config
