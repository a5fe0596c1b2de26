// net/event_loop.h -- one libevent event_base driven by one thread, and the way in from others.
//
// Every worker and the main (listener/control) thread own an EventLoop. Code running on the loop's
// thread uses base() directly; other threads hand it work with RunInLoop(), which queues the
// function and wakes the loop through an eventfd (memcached's notify pipe, folly's
// runInEventBaseThread).
//
// Thread-safety: RunInLoop(), Stop() and Current() from any thread; everything else on the
// loop's thread.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ringcached/base/mutex.h"

struct event_base;
struct event;

namespace rc::net {

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  event_base* base() const { return base_; }

  // Runs the loop on the calling thread until Stop().
  void Run();
  // Runs the loop on a new thread, named `name` for top -H and /proc (at most 15 bytes kept).
  void Start(const std::string& name);
  // Waits for the thread started by Start().
  void Join();
  // Makes Run() return after the current callbacks. Thread-safe.
  void Stop();
  // Sets what runs after each round of callbacks (everything one wait for events found),
  // before the loop waits again: a worker finishes there the requests its read callbacks
  // gathered. Call before Run().
  void SetAfterRound(std::function<void()> fn) { after_round_ = std::move(fn); }
  // Queues `fn` to run on the loop's thread. Thread-safe.
  void RunInLoop(std::function<void()> fn);

  // What runs once at the end of a round it was asked for in, after the after-round function:
  // an output that gathers what the round's callbacks queued and sends it in one system call (a
  // peer link), without arming a write event and coming back through another wait for it.
  class RoundEnd {
   public:
    virtual ~RoundEnd() = default;
    virtual void AtRoundEnd() = 0;

   private:
    friend class EventLoop;
    bool queued_ = false;
  };
  // Asks for `task` to run at the end of this round, once however often asked. A task destroyed
  // while asked for calls Forget() first. On the loop's thread.
  void RunAtRoundEnd(RoundEnd* task);
  void Forget(RoundEnd* task);
  // The loop whose Run() is executing on the calling thread, or null: how code called from a
  // loop's callbacks finds the loop to send its answers back to (origin fills, server/).
  static EventLoop* Current();

 private:
  static void OnWake(int fd, short what, void* arg) noexcept;

  event_base* base_;
  int wake_fd_;
  event* wake_event_;
  base::Mutex mu_;
  std::vector<std::function<void()>> pending_ RC_GUARDED_BY(mu_);
  std::thread thread_;
  std::function<void()> after_round_;
  std::vector<RoundEnd*> round_end_;
  std::vector<RoundEnd*> running_;  // the batch RunRoundEnd is running
  // Runs the round-end tasks, and those they ask for in turn.
  void RunRoundEnd();
};

}  // namespace rc::net
