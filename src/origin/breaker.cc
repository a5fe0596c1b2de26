// origin/breaker.cc -- see breaker.h.
#include "origin/breaker.h"

namespace rc::origin {

Breaker::Admission Breaker::Admit(Clock::time_point now) {
  base::MutexLock lock(mu_);
  switch (state_) {
    case State::kClosed:
      return Admission::kAllow;
    case State::kOpen:
      if (now - opened_at_ < open_for_) return Admission::kReject;
      state_ = State::kHalfOpen;
      return Admission::kProbe;
    case State::kHalfOpen:
      break;  // the probe is out: everyone else waits for its verdict
  }
  return Admission::kReject;
}

Breaker::Change Breaker::Record(bool success, bool probe, Clock::time_point now) {
  base::MutexLock lock(mu_);
  if (probe) {
    if (success) {
      state_ = State::kClosed;
      failures_ = 0;
      return Change::kClosed;
    }
    state_ = State::kOpen;
    opened_at_ = now;
    ++opened_;
    return Change::kOpened;
  }
  if (state_ != State::kClosed) return Change::kNone;
  if (success) {
    failures_ = 0;
    return Change::kNone;
  }
  if (threshold_ <= 0 || ++failures_ < threshold_) return Change::kNone;
  state_ = State::kOpen;
  opened_at_ = now;
  failures_ = 0;
  ++opened_;
  return Change::kOpened;
}

Breaker::State Breaker::state() const {
  base::MutexLock lock(mu_);
  return state_;
}

std::uint64_t Breaker::opened() const {
  base::MutexLock lock(mu_);
  return opened_;
}

}  // namespace rc::origin
