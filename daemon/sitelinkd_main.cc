// Process entry point of `sitelinkd`: the real standard streams, and a
// last-resort catch so that no exception ends the process without a word.
#include <signal.h>
#include <unistd.h>

#include <exception>
#include <iostream>

#include "daemon/exit_codes.h"
#include "daemon/memory_lock.h"
#include "daemon/sitelinkd_cli.h"
#include "handshake/crypto.h"

int main(int argc, char** argv) {
  using namespace sitelink::daemon;
  disable_core_dumps();  // before any key or configuration is read
  // A log stream whose reader went away (`sitelinkd -f sl0 2>&1 | head`)
  // fails its writes; it must never stop the data plane.
  ::signal(SIGPIPE, SIG_IGN);
  try {
    sitelink::handshake::crypto_init();
    Io io{std::cin, std::cout, std::cerr, STDOUT_FILENO};
    return sitelinkd_main(std::vector<std::string>(argv + 1, argv + argc), io);
  } catch (const std::exception& e) {
    std::cerr << "sitelinkd: " << e.what() << '\n';
    return kExitFailure;
  }
}
