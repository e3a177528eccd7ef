// `sitelink genkey`, `pubkey` and `genpsk`: WireGuard's key format (32 bytes,
// standard base64, 44 characters and a newline), so they are interchangeable
// with `wg genkey`, `wg pubkey` and `wg genpsk`.
#pragma once

#include <optional>
#include <string>

#include "daemon/io.h"

namespace sitelink::daemon {

// A new private key on io.out. Warns on io.err when io.out_fd is a regular
// file that group or others can access (as wg does, suggesting umask 077).
int genkey(Io& io);
// A new preshared key on io.out, with the same warning.
int genpsk(Io& io);
// Reads a private key from io.in (surrounding whitespace ignored) and writes
// its public key. Input that is not a key is a usage error (kExitUsage).
int pubkey(Io& io);

// The warning for a secret written to `fd`, if it is a regular file with
// any group or other permission bits; nullopt otherwise.
std::optional<std::string> exposed_output_warning(int fd);

}  // namespace sitelink::daemon
