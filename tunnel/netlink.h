// Interface set-up over rtnetlink (libmnl): link up/down, MTU, addresses and
// routes, and taking away exactly what we added. The only file that includes
// libmnl.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/ip_prefix.h"
#include "tunnel/sys_error.h"
#include "tunnel/unique_fd.h"

namespace sitelink::tunnel {

class Netlink {
 public:
  [[nodiscard]] static SysResult<Netlink> open();

  [[nodiscard]] SysResult<int> ifindex(const std::string& name);
  [[nodiscard]] SysResult<void> set_up(int ifindex, bool up);
  [[nodiscard]] SysResult<void> set_mtu(int ifindex, uint32_t mtu);
  // An address with its on-link prefix ("198.18.0.1/24").
  [[nodiscard]] SysResult<void> add_address(int ifindex, const config::IpPrefix& addr);
  [[nodiscard]] SysResult<void> del_address(int ifindex, const config::IpPrefix& addr);
  // A route for `dst` through the interface (replaces an existing one).
  [[nodiscard]] SysResult<void> add_route(int ifindex, const config::IpPrefix& dst);
  [[nodiscard]] SysResult<void> del_route(int ifindex, const config::IpPrefix& dst);
  // Deletes a link by name (a leftover from a crashed run); ENODEV if absent.
  [[nodiscard]] SysResult<void> delete_link(const std::string& name);
  // Current MTU of a link (it may be changed from outside with ip link).
  [[nodiscard]] SysResult<uint32_t> mtu(int ifindex);

 private:
  struct Impl;
  explicit Netlink(UniqueFd fd, uint32_t port_id) : fd_(std::move(fd)), port_id_(port_id) {}
  [[nodiscard]] SysResult<void> request(void* buf, size_t len, const char* what);

  UniqueFd fd_;
  uint32_t port_id_ = 0;
  uint32_t seq_ = 1;
};

}  // namespace sitelink::tunnel
