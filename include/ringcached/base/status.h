// base/status.h -- Status and Result<T>: how failures from the outside world travel.
//
// Three kinds of "not OK" exist in ringcached, and only one of them is a Status:
//   * Protocol outcomes (NOT_FOUND, EXISTS, NOT_STORED...) are ordinary values: store::Outcome.
//   * Environmental failures (bad configuration, a socket that will not bind, a file that will not
//     open) are a Status or a Result<T>, returned up to whoever can report them.
//   * Bugs (a broken invariant) are neither: RC_CHECK (base/check.h) aborts the process.
// Nothing on the request path throws.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace rc::base {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char { kOk, kInvalidArgument, kIoError, kNotFound, kInternal };

  Status() = default;  // OK
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status IoError(std::string msg) { return {Code::kIoError, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status Internal(std::string msg) { return {Code::kInternal, std::move(msg)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// A T, or the non-OK Status that explains why there is none. std::expected is C++23.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}   // NOLINT: must not be OK

  bool ok() const { return std::holds_alternative<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace rc::base
