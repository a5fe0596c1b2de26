// origin/breaker.h -- the circuit breaker in front of the origin.
//
//      failures in a row >= threshold            open_for has passed: one probe
//   closed --------------------------------> open ---------------------------> half-open
//     ^                                        ^                                  |
//     |            probe succeeded             |          probe failed            |
//     +----------------------------------------+----------------------------------+
//
// While open (and while the probe is out) every new fetch is refused, so readers get a miss at
// once instead of queueing behind an origin that is down or drowning. Success means the origin
// answered (a value or "no such key"); failure means an error or a timeout. Answers of fetches
// started before the breaker opened do not move it: only the probe decides.
//
// Time is passed in, so t/unit/origin drives it with a fake clock. Thread-safety: any thread;
// one mutex.
#pragma once

#include <chrono>
#include <cstdint>

#include "ringcached/base/mutex.h"

namespace rc::origin {

class Breaker {
 public:
  using Clock = std::chrono::steady_clock;
  enum class State : std::uint8_t { kClosed, kOpen, kHalfOpen };
  enum class Admission : std::uint8_t { kAllow, kProbe, kReject };
  enum class Change : std::uint8_t { kNone, kOpened, kClosed };

  // `threshold` 0: the breaker never opens.
  Breaker(int threshold, Clock::duration open_for) : threshold_(threshold), open_for_(open_for) {}

  // May a new fetch start? kProbe: yes, and it is the half-open probe (report it to Record()).
  Admission Admit(Clock::time_point now);
  // The outcome of a fetch; returns the transition it caused, for the log.
  Change Record(bool success, bool probe, Clock::time_point now);

  State state() const;
  std::uint64_t opened() const;

 private:
  const int threshold_;
  const Clock::duration open_for_;
  mutable base::Mutex mu_;
  State state_ RC_GUARDED_BY(mu_) = State::kClosed;
  int failures_ RC_GUARDED_BY(mu_) = 0;  // in a row, while closed
  Clock::time_point opened_at_ RC_GUARDED_BY(mu_){};
  std::uint64_t opened_ RC_GUARDED_BY(mu_) = 0;
};

}  // namespace rc::origin
