// Result<T, E>: a value or an error, for code that must not throw across
// module boundaries (GCC 12 has no std::expected). Deliberately small: the
// error path is an ordinary return value, never an exception.
#pragma once

#include <cstdlib>
#include <type_traits>
#include <utility>
#include <variant>

namespace sitelink {

template <typename E>
struct Err {
  constexpr explicit Err(E e) : error(std::move(e)) {}
  E error;
};

template <typename E>
Err(E) -> Err<E>;

template <typename T, typename E>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  template <typename F>
  Result(Err<F> e) : v_(std::in_place_index<1>, E(std::move(e.error))) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return checked_value(); }
  const T& value() const& { return const_cast<Result*>(this)->checked_value(); }
  T&& value() && { return std::move(checked_value()); }
  T* operator->() { return &checked_value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return checked_value(); }
  const T& operator*() const& { return value(); }

  const E& error() const {
    if (ok()) std::abort();
    return std::get<1>(v_);
  }

 private:
  T& checked_value() {
    if (!ok()) std::abort();
    return std::get<0>(v_);
  }
  std::variant<T, E> v_;
};

// Result<void, E>: success or an error.
template <typename E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  template <typename F>
  Result(Err<F> e) : err_(E(std::move(e.error))), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const E& error() const {
    if (ok_) std::abort();
    return err_;
  }

 private:
  E err_{};
  bool ok_ = true;
};

}  // namespace sitelink
