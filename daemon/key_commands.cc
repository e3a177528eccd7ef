// Key generation and derivation for the `sitelink` tool (see key_commands.h).
// Randomness is libsodium's (SodiumRng); secrets are wiped after printing.
#include "daemon/key_commands.h"

#include <sys/stat.h>

#include <cstdio>
#include <istream>
#include <ostream>

#include "daemon/exit_codes.h"
#include "handshake/base/secret.h"
#include "handshake/keys.h"

namespace sitelink::daemon {
namespace {

// A key and its newline are 45 bytes; allow generous whitespace around it.
constexpr size_t kMaxKeyInput = 4096;

int write_secret(std::string text, Io& io) {
  if (auto warning = exposed_output_warning(io.out_fd)) io.err << *warning;
  io.out << text << '\n';
  io.out.flush();
  secure_zero(text.data(), text.size());
  if (!io.out) {
    io.err << "sitelink: cannot write the key to standard output\n";
    return kExitFailure;
  }
  return kExitOk;
}

std::string trim(const std::string& s) {
  const char* ws = " \t\r\n\v\f";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

}  // namespace

std::optional<std::string> exposed_output_warning(int fd) {
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077) == 0) return std::nullopt;
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return std::string("Warning: writing a secret key to a file that group or others can access (mode ") + mode +
         ").\nConsider setting the umask to 077 and trying again.\n";
}

int genkey(Io& io) {
  handshake::SodiumRng rng;
  return write_secret(handshake::PrivateKey::generate(rng).to_base64(), io);
}

int genpsk(Io& io) {
  handshake::SodiumRng rng;
  return write_secret(handshake::PresharedKey::generate(rng).to_base64(), io);
}

int pubkey(Io& io) {
  std::string input(kMaxKeyInput + 1, '\0');
  io.in.read(input.data(), static_cast<std::streamsize>(input.size()));
  input.resize(static_cast<size_t>(io.in.gcount()));
  std::string text = trim(input);
  const auto key = input.size() <= kMaxKeyInput ? handshake::PrivateKey::from_base64(text) : std::nullopt;
  secure_zero(input.data(), input.size());
  secure_zero(text.data(), text.size());
  if (!key) {
    io.err << "sitelink pubkey: standard input is not a private key; expected 44 characters of base64 "
              "(from 'sitelink genkey' or 'wg genkey')\n";
    return kExitUsage;
  }
  io.out << key->public_key().to_base64() << '\n';
  io.out.flush();
  if (!io.out) {
    io.err << "sitelink: cannot write the key to standard output\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace sitelink::daemon
