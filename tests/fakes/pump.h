// The event loop of in-memory gateways, minus epoll: deliver what is in
// flight on the FakeNetwork and let every gateway's Device handle its UDP
// and TUN input, until nothing moves. A gateway is anything with `udp` (a
// FakeUdp), `tun` (a FakeTun) and `dev` (a Device pointer).
#pragma once

#include <gtest/gtest.h>

#include "fakes/fake_network.h"

namespace sitelink::test {

template <class... Gateway>
void pump_until_settled(FakeNetwork& net, Gateway&... gateways) {
  for (int rounds = 0; rounds < 1000; ++rounds) {
    bool busy = net.flush() > 0;
    const auto run = [&busy](auto& g) {
      busy |= !g.udp.inbox.empty() || !g.tun.inbound.empty();
      while (g.dev->handle_udp_readable()) {
      }
      while (g.dev->handle_tun_readable()) {
      }
    };
    (run(gateways), ...);
    if (!busy) return;
  }
  ADD_FAILURE() << "network never settled";
}

}  // namespace sitelink::test
