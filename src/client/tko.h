// client/tko.h -- whether a node is "technically knocked out" (TKO), the failure detector of the
// client library, after mcrouter's: a connect error marks a node TKO at once, as do N consecutive
// timeouts (any success resets the count); while TKO nobody sends it requests -- reads go to the
// key's next holder, writes follow the ring rebuilt without it -- and one probe about every
// second (a fresh connection and `version`) brings it back when it answers.
//
//        connect error, or the Nth timeout in a row
//   UP ---------------------------------------------> TKO --+ probe due: one caller
//    ^                                                 ^    | (TakeProbe) probes
//    |                     probe answered              |    v
//    +-------------------------------------------- PROBING -+ probe failed: TKO again
//
// Pure state, no clock of its own (the caller passes `now`) and no lock: client/node.h holds one
// per node under the node's mutex. t/unit/client/tko_test.cc walks every transition.
#pragma once

#include <chrono>
#include <cstdint>

namespace rc::client {

class TkoState {
 public:
  using Clock = std::chrono::steady_clock;

  // `timeouts_to_tko`: consecutive timeouts that make the node TKO (at least 1);
  // `probe_interval`: how long after the mark (or a failed probe) the next probe is due.
  TkoState(std::uint32_t timeouts_to_tko, Clock::duration probe_interval)
      : limit_(timeouts_to_tko < 1 ? 1 : timeouts_to_tko), probe_interval_(probe_interval) {}

  bool tko() const { return state_ != State::kUp; }
  std::uint32_t consecutive_timeouts() const { return timeouts_; }
  // How many times the node has gone TKO (for stats and tests).
  std::uint64_t tko_count() const { return marks_; }

  // A request answered: the node is fine, the timeout count starts over.
  void OnSuccess() { timeouts_ = 0; }
  // A connect failed (refused, unreachable) or an established connection broke: TKO now.
  void OnConnectError(Clock::time_point now) { MarkTko(now); }
  // A request timed out. Returns true when this one made the node TKO.
  bool OnTimeout(Clock::time_point now);

  // True, once per due probe, for the caller that must send it; the state is then PROBING until
  // OnProbeResult. False while up, before the probe is due, or while another probe runs.
  bool TakeProbe(Clock::time_point now);
  void OnProbeResult(bool answered, Clock::time_point now);

 private:
  enum class State : std::uint8_t { kUp, kTko, kProbing };
  void MarkTko(Clock::time_point now);

  std::uint32_t limit_;
  Clock::duration probe_interval_;
  State state_ = State::kUp;
  std::uint32_t timeouts_ = 0;
  std::uint64_t marks_ = 0;
  Clock::time_point next_probe_{};
};

}  // namespace rc::client
