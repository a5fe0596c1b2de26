// net/event_loop.cc -- see event_loop.h.
#include "ringcached/net/event_loop.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <sys/eventfd.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "ringcached/base/check.h"

namespace rc::net {

EventLoop::EventLoop() {
  event_config* config = event_config_new();
  // Each loop belongs to one thread, and cross-thread work arrives through our own eventfd, so
  // libevent's internal locking is not needed.
  event_config_set_flag(config, EVENT_BASE_FLAG_NOLOCK);
  base_ = event_base_new_with_config(config);
  event_config_free(config);
  RC_CHECK(base_ != nullptr);
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  RC_CHECK(wake_fd_ >= 0);
  wake_event_ = event_new(base_, wake_fd_, EV_READ | EV_PERSIST, &EventLoop::OnWake, this);
  RC_CHECK(wake_event_ != nullptr && event_add(wake_event_, nullptr) == 0);
}

EventLoop::~EventLoop() {
  event_free(wake_event_);
  close(wake_fd_);
  event_base_free(base_);
}

namespace {
thread_local EventLoop* current_loop = nullptr;
}  // namespace

EventLoop* EventLoop::Current() { return current_loop; }

void EventLoop::Run() {
  EventLoop* outer = current_loop;
  current_loop = this;
  while (true) {
    int rc = event_base_loop(base_, EVLOOP_ONCE);
    if (after_round_) after_round_();
    if (!round_end_.empty()) RunRoundEnd();
    if (rc != 0 || event_base_got_break(base_) || event_base_got_exit(base_)) break;
  }
  current_loop = outer;
}

void EventLoop::Start(const std::string& name) {
  thread_ = std::thread([this] { Run(); });
  // Named here, before Start returns, rather than by the thread itself: whoever looks once the
  // server is up (top -H, a test counting workers) sees every name.
  pthread_setname_np(thread_.native_handle(), name.substr(0, 15).c_str());
}

void EventLoop::Join() {
  if (thread_.joinable()) thread_.join();
}

void EventLoop::Stop() {
  RunInLoop([this] { event_base_loopbreak(base_); });
}

void EventLoop::RunInLoop(std::function<void()> fn) {
  {
    base::MutexLock lock(mu_);
    pending_.push_back(std::move(fn));
  }
  std::uint64_t one = 1;
  // A full eventfd counter (never in practice) still leaves the loop woken, so the result can be
  // ignored.
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
}

void EventLoop::RunAtRoundEnd(RoundEnd* task) {
  if (task->queued_) return;
  task->queued_ = true;
  round_end_.push_back(task);
}

void EventLoop::Forget(RoundEnd* task) {
  if (!task->queued_) return;
  task->queued_ = false;
  std::erase(round_end_, task);
  std::replace(running_.begin(), running_.end(), task, static_cast<RoundEnd*>(nullptr));
}

void EventLoop::RunRoundEnd() {
  while (!round_end_.empty()) {
    running_.swap(round_end_);
    for (std::size_t i = 0; i < running_.size(); ++i) {
      // A task may make another of this batch forget (a link dropped): that one is null now.
      RoundEnd* task = running_[i];
      if (task == nullptr) continue;
      task->queued_ = false;
      task->AtRoundEnd();
    }
    running_.clear();
  }
}

void EventLoop::OnWake(int fd, short, void* arg) noexcept {
  auto* self = static_cast<EventLoop*>(arg);
  std::uint64_t count;
  [[maybe_unused]] ssize_t n = read(fd, &count, sizeof count);
  std::vector<std::function<void()>> work;
  {
    base::MutexLock lock(self->mu_);
    work.swap(self->pending_);
  }
  for (auto& fn : work) fn();
}

}  // namespace rc::net
