// The standard streams a command runs with, passed in so the commands can be
// tested in-process. out_fd is the descriptor behind `out` (for the key
// commands' file-mode check), or -1.
#pragma once

#include <iosfwd>

namespace sitelink::daemon {

struct Io {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
  int out_fd = -1;
};

}  // namespace sitelink::daemon
