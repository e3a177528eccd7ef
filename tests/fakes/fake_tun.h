// An in-memory TUN device (wireguard-go's tuntest.ChannelTUN): the test
// pushes packets "from the host" into `inbound` and finds packets the device
// wrote "to the host" in `outbound`.
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "tunnel/tun_device.h"

namespace sitelink::test {

class FakeTun final : public tunnel::TunDevice {
 public:
  std::optional<size_t> read(MutableBytes buf) override {
    if (inbound.empty()) return std::nullopt;
    std::vector<uint8_t> p = std::move(inbound.front());
    inbound.pop_front();
    if (p.size() > buf.size()) return std::nullopt;
    std::copy(p.begin(), p.end(), buf.begin());
    return p.size();
  }
  bool write(Bytes packet) override {
    outbound.emplace_back(packet.begin(), packet.end());
    return true;
  }
  int fd() const override { return -1; }
  const std::string& name() const override { return name_; }

  std::deque<std::vector<uint8_t>> inbound;
  std::vector<std::vector<uint8_t>> outbound;

 private:
  std::string name_ = "fake0";
};

}  // namespace sitelink::test
