// Netlink: interface set-up over rtnetlink. Messages are built and parsed
// with libmnl; every request carries NLM_F_ACK and waits for the kernel's
// answer, so a failure comes back as -errno (plus the kernel's extended-ack
// text when it gives one) on the call that caused it.
//
// The socket is opened with plain socket()/bind() (what mnl_socket_open2 and
// mnl_socket_bind do) so the descriptor stays owned by one UniqueFd.
#include "tunnel/netlink.h"

#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

namespace sitelink::tunnel {

namespace {

// Replies to one request; room for a full RTM_NEWLINK with statistics.
constexpr size_t kReceiveBufferBytes = size_t{32} * 1024;
// The kernel answers at once; this only bounds a wait that should not happen.
constexpr time_t kReplyTimeoutSeconds = 5;

uint8_t address_family(const config::IpAddress& a) { return a.is_v4() ? AF_INET : AF_INET6; }

// One request message: the nlmsghdr, the family header T and attributes.
class Message {
 public:
  // The one place a request header is built; every request asks for an ACK.
  template <typename T>
  T* start(uint16_t type, uint16_t flags) {
    nlh_ = mnl_nlmsg_put_header(buf_.data());
    nlh_->nlmsg_type = type;
    nlh_->nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
    return static_cast<T*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(T)));
  }
  // An IPv4 (4 bytes) or IPv6 (16 bytes) address attribute.
  void put_address(uint16_t type, const config::IpAddress& a) {
    mnl_attr_put(nlh_, type, a.is_v4() ? 4 : 16, a.raw().data());
  }
  void put_u32(uint16_t type, uint32_t v) { mnl_attr_put_u32(nlh_, type, v); }
  void put_string(uint16_t type, const std::string& s) { mnl_attr_put_strz(nlh_, type, s.c_str()); }
  nlmsghdr* header() { return nlh_; }

 private:
  alignas(nlmsghdr) std::array<char, 512> buf_{};
  nlmsghdr* nlh_ = nullptr;
};

// State of one request while its answer is parsed: the caller's callback for
// data messages, and what the kernel said in its NLMSG_ERROR.
struct Exchange {
  mnl_cb_t on_data = nullptr;
  void* data = nullptr;
  int error = 0;
  std::string kernel_message;
};

int attr_message(const nlattr* attr, void* data) {
  if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0) {
    *static_cast<std::string*>(data) = mnl_attr_get_str(attr);
  }
  return MNL_CB_OK;
}

// The NLMSGERR_ATTR_MSG text that follows an error when NETLINK_EXT_ACK is on.
std::string extended_ack_message(const nlmsghdr* nlh, const nlmsgerr* err) {
  if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS)) return {};
  size_t offset = sizeof(nlmsgerr);
  if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
  if (mnl_nlmsg_size(offset) > nlh->nlmsg_len) return {};
  std::string text;
  mnl_attr_parse(nlh, static_cast<unsigned>(offset), attr_message, &text);
  return text;
}

// NLMSG_ERROR: error 0 is the ACK that ends the exchange.
int on_error(const nlmsghdr* nlh, void* data) {
  auto* ex = static_cast<Exchange*>(data);
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
    ex->error = EBADMSG;
    return MNL_CB_ERROR;
  }
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  if (err->error == 0) return MNL_CB_STOP;
  ex->error = -err->error;
  ex->kernel_message = extended_ack_message(nlh, err);
  return MNL_CB_ERROR;
}

int on_data(const nlmsghdr* nlh, void* data) {
  auto* ex = static_cast<Exchange*>(data);
  return ex->on_data ? ex->on_data(nlh, ex->data) : MNL_CB_OK;
}

struct LinkInfo {
  int index = 0;
  uint32_t mtu = 0;
};

int link_attr(const nlattr* attr, void* data) {
  if (mnl_attr_get_type(attr) == IFLA_MTU && mnl_attr_validate(attr, MNL_TYPE_U32) == 0) {
    static_cast<LinkInfo*>(data)->mtu = mnl_attr_get_u32(attr);
  }
  return MNL_CB_OK;
}

// RTM_NEWLINK, the answer to RTM_GETLINK: index and MTU.
int on_link(const nlmsghdr* nlh, void* data) {
  if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) return MNL_CB_OK;
  auto* info = static_cast<LinkInfo*>(data);
  info->index = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh))->ifi_index;
  return mnl_attr_parse(nlh, sizeof(ifinfomsg), link_attr, info);
}

void enable_socket_options(int fd) {
  const int on = 1;  // best effort: better error texts, shorter error messages
  (void)::setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &on, sizeof on);
  (void)::setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &on, sizeof on);
  const timeval tv{kReplyTimeoutSeconds, 0};
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

}  // namespace

// Helpers that need the socket (private members).
struct Netlink::Impl {
  static SysResult<void> transact(Netlink& nl, nlmsghdr* nlh, const std::string& what, Exchange& ex);
  static SysResult<void> receive(Netlink& nl, uint32_t seq, const std::string& what, Exchange& ex);
  static SysResult<LinkInfo> get_link(Netlink& nl, int ifindex, const std::string& name);
  static SysResult<void> address(Netlink& nl, uint16_t type, uint16_t flags, int ifindex, const config::IpPrefix& addr);
  static SysResult<void> route(Netlink& nl, uint16_t type, uint16_t flags, int ifindex, const config::IpPrefix& dst);
};

SysResult<Netlink> Netlink::open() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd.valid()) return errno_error("socket NETLINK_ROUTE");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof local) < 0) {
    return errno_error("bind NETLINK_ROUTE");
  }
  socklen_t len = sizeof local;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &len) < 0) {
    return errno_error("getsockname NETLINK_ROUTE");
  }
  enable_socket_options(fd.get());
  return Netlink(std::move(fd), local.nl_pid);
}

SysResult<void> Netlink::request(void* buf, size_t len, const char* what) {
  auto* nlh = static_cast<nlmsghdr*>(buf);
  if (len < sizeof(nlmsghdr) || nlh->nlmsg_len != len) return sys_error(EINVAL, std::string(what) + ": bad message");
  Exchange ex;
  return Impl::transact(*this, nlh, what, ex);
}

SysResult<void> Netlink::Impl::transact(Netlink& nl, nlmsghdr* nlh, const std::string& what, Exchange& ex) {
  const uint32_t seq = nl.seq_++;
  nlh->nlmsg_seq = seq;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent = 0;
  do {
    sent = ::sendto(nl.fd_.get(), nlh, nlh->nlmsg_len, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return errno_error(what);
  return receive(nl, seq, what, ex);
}

// Reads answers to `seq` until its ACK (or error) arrives.
SysResult<void> Netlink::Impl::receive(Netlink& nl, uint32_t seq, const std::string& what, Exchange& ex) {
  std::vector<char> buf(kReceiveBufferBytes);
  std::array<mnl_cb_t, NLMSG_MIN_TYPE> control{};
  control[NLMSG_ERROR] = on_error;
  for (;;) {
    const ssize_t n = ::recv(nl.fd_.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return sys_error(ETIMEDOUT, what + ": no answer");
    if (n < 0) return errno_error(what);
    const int r = mnl_cb_run2(buf.data(), static_cast<size_t>(n), seq, nl.port_id_, on_data, &ex, control.data(),
                              static_cast<unsigned>(control.size()));
    if (r == MNL_CB_STOP) return {};
    if (r == MNL_CB_ERROR) {
      const int err = ex.error != 0 ? ex.error : (errno != 0 ? errno : EPROTO);
      return sys_error(err, ex.kernel_message.empty() ? what : what + " (" + ex.kernel_message + ")");
    }
  }
}

// RTM_GETLINK by index, or by name when ifindex is 0.
SysResult<LinkInfo> Netlink::Impl::get_link(Netlink& nl, int ifindex, const std::string& name) {
  Message m;
  auto* ifi = m.start<ifinfomsg>(RTM_GETLINK, 0);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  if (ifindex == 0) m.put_string(IFLA_IFNAME, name);
  m.put_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
  LinkInfo info;
  Exchange ex{on_link, &info, 0, {}};
  const std::string what = ifindex == 0 ? "get link " + name : "get link #" + std::to_string(ifindex);
  if (auto r = transact(nl, m.header(), what, ex); !r) return Err(r.error());
  if (info.index == 0) return sys_error(ENODEV, what + ": no answer with the link");
  return info;
}

SysResult<int> Netlink::ifindex(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return sys_error(EINVAL, "bad interface name '" + name + "'");
  auto info = Impl::get_link(*this, 0, name);
  if (!info) return Err(info.error());
  return info->index;
}

SysResult<uint32_t> Netlink::mtu(int ifindex) {
  auto info = Impl::get_link(*this, ifindex, {});
  if (!info) return Err(info.error());
  return info->mtu;
}

SysResult<void> Netlink::set_up(int ifindex, bool up) {
  Message m;
  auto* ifi = m.start<ifinfomsg>(RTM_NEWLINK, 0);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_flags = up ? IFF_UP : 0;
  ifi->ifi_change = IFF_UP;
  const std::string what = std::string("set link #") + std::to_string(ifindex) + (up ? " up" : " down");
  return request(m.header(), m.header()->nlmsg_len, what.c_str());
}

SysResult<void> Netlink::set_mtu(int ifindex, uint32_t mtu) {
  Message m;
  auto* ifi = m.start<ifinfomsg>(RTM_NEWLINK, 0);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  m.put_u32(IFLA_MTU, mtu);
  const std::string what = "set link #" + std::to_string(ifindex) + " mtu " + std::to_string(mtu);
  return request(m.header(), m.header()->nlmsg_len, what.c_str());
}

SysResult<void> Netlink::delete_link(const std::string& name) {
  if (name.empty() || name.size() >= IFNAMSIZ) return sys_error(EINVAL, "bad interface name '" + name + "'");
  Message m;
  auto* ifi = m.start<ifinfomsg>(RTM_DELLINK, 0);
  ifi->ifi_family = AF_UNSPEC;
  m.put_string(IFLA_IFNAME, name);
  const std::string what = "delete link " + name;
  return request(m.header(), m.header()->nlmsg_len, what.c_str());
}

// RTM_NEWADDR / RTM_DELADDR. IPv4 names the address twice (local and
// "peer" are the same on a non-point-to-point link); IPv6 skips duplicate
// address detection so the address is usable at once.
SysResult<void> Netlink::Impl::address(Netlink& nl, uint16_t type, uint16_t flags, int ifindex,
                                       const config::IpPrefix& addr) {
  Message m;
  auto* ifa = m.start<ifaddrmsg>(type, flags);
  ifa->ifa_family = address_family(addr.address());
  ifa->ifa_prefixlen = addr.length();
  ifa->ifa_flags = addr.address().is_v4() ? 0 : IFA_F_NODAD;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  if (addr.address().is_v4()) m.put_address(IFA_LOCAL, addr.address());
  m.put_address(IFA_ADDRESS, addr.address());
  const std::string what = std::string(type == RTM_NEWADDR ? "add" : "delete") + " address " + addr.to_string() +
                           " on link #" + std::to_string(ifindex);
  return nl.request(m.header(), m.header()->nlmsg_len, what.c_str());
}

SysResult<void> Netlink::add_address(int ifindex, const config::IpPrefix& addr) {
  return Impl::address(*this, RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, addr);
}

SysResult<void> Netlink::del_address(int ifindex, const config::IpPrefix& addr) {
  return Impl::address(*this, RTM_DELADDR, 0, ifindex, addr);
}

// RTM_NEWROUTE / RTM_DELROUTE: `dst` (canonical) through the link, in the
// main table, marked static; the delete matches exactly what the add made.
SysResult<void> Netlink::Impl::route(Netlink& nl, uint16_t type, uint16_t flags, int ifindex,
                                     const config::IpPrefix& dst) {
  const config::IpPrefix prefix = dst.canonical();
  Message m;
  auto* rtm = m.start<rtmsg>(type, flags);
  rtm->rtm_family = address_family(prefix.address());
  rtm->rtm_dst_len = prefix.length();
  rtm->rtm_table = RT_TABLE_MAIN;
  rtm->rtm_protocol = RTPROT_STATIC;
  rtm->rtm_scope = RT_SCOPE_LINK;
  rtm->rtm_type = RTN_UNICAST;
  if (prefix.length() > 0) m.put_address(RTA_DST, prefix.address());
  m.put_u32(RTA_OIF, static_cast<uint32_t>(ifindex));
  const std::string what = std::string(type == RTM_NEWROUTE ? "add" : "delete") + " route " + prefix.to_string() +
                           " via link #" + std::to_string(ifindex);
  return nl.request(m.header(), m.header()->nlmsg_len, what.c_str());
}

SysResult<void> Netlink::add_route(int ifindex, const config::IpPrefix& dst) {
  return Impl::route(*this, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, ifindex, dst);
}

SysResult<void> Netlink::del_route(int ifindex, const config::IpPrefix& dst) {
  return Impl::route(*this, RTM_DELROUTE, 0, ifindex, dst);
}

}  // namespace sitelink::tunnel
