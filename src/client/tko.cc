// client/tko.cc -- see tko.h.
#include "client/tko.h"

namespace rc::client {

void TkoState::MarkTko(Clock::time_point now) {
  if (state_ == State::kUp) ++marks_;
  state_ = State::kTko;
  timeouts_ = 0;
  next_probe_ = now + probe_interval_;
}

bool TkoState::OnTimeout(Clock::time_point now) {
  if (state_ != State::kUp) return false;
  if (++timeouts_ < limit_) return false;
  MarkTko(now);
  return true;
}

bool TkoState::TakeProbe(Clock::time_point now) {
  if (state_ != State::kTko || now < next_probe_) return false;
  state_ = State::kProbing;
  return true;
}

void TkoState::OnProbeResult(bool answered, Clock::time_point now) {
  if (state_ != State::kProbing) return;
  if (answered) {
    state_ = State::kUp;
    timeouts_ = 0;
    return;
  }
  state_ = State::kTko;
  next_probe_ = now + probe_interval_;
}

}  // namespace rc::client
