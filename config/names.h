// Interface names as Linux accepts them (shared by the config loader and the
// command lines that take an IFACE argument).
#pragma once

#include <string>
#include <string_view>

namespace sitelink::config {

// Linux's dev_valid_name() (1..15 characters, not "." or "..", no '/', ':'
// or whitespace), plus no '%' (TUNSETIFF would expand "%d") and no control
// characters. Empty when valid, else the reason ("it is longer than 15
// characters").
std::string interface_name_problem(std::string_view name);

}  // namespace sitelink::config
