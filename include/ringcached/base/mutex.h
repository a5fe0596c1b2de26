// base/mutex.h -- Mutex and MutexLock: std::mutex with Clang's thread-safety annotations, so
// that what a lock guards is said in code and checked (STYLE.md section 10; LevelDB's
// port::Mutex, Abseil's Mutex).
//
// A member that a mutex guards is declared RC_GUARDED_BY(mu_); a function that must be called
// with a lock held is declared RC_REQUIRES(mu_) (the `...Locked` names say the same to a reader).
// `clang++ -fsyntax-only -Wthread-safety` (scripts/check-thread-safety.sh, a stage of .ci/run)
// then reports an access without the lock. GCC ignores the annotations; the code is the same.
//
// Thread-safety: a Mutex is a mutex; a MutexLock belongs to the thread that made it.
#pragma once

#include <mutex>

#if defined(__clang__)
#define RC_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define RC_THREAD_ANNOTATION(x)
#endif

#define RC_CAPABILITY(name) RC_THREAD_ANNOTATION(capability(name))
#define RC_SCOPED_CAPABILITY RC_THREAD_ANNOTATION(scoped_lockable)
#define RC_GUARDED_BY(mu) RC_THREAD_ANNOTATION(guarded_by(mu))
#define RC_REQUIRES(...) RC_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define RC_ACQUIRE(...) RC_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RC_RELEASE(...) RC_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RC_TRY_ACQUIRE(...) RC_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
// For the rare function the analysis cannot follow (say why at the use).
#define RC_NO_THREAD_SAFETY_ANALYSIS RC_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace rc::base {

class RC_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // Lower-case, so that a Mutex is BasicLockable (std::condition_variable_any waits on it).
  void lock() RC_ACQUIRE() { mu_.lock(); }
  void unlock() RC_RELEASE() { mu_.unlock(); }
  bool try_lock() RC_TRY_ACQUIRE(true) { return mu_.try_lock(); }

 private:
  std::mutex mu_;
};

// Holds a Mutex for its scope; Unlock() and Lock() let a function drop it around slow work
// (the analysis knows which state each line is in).
class RC_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) RC_ACQUIRE(mu) : mu_(mu) { mu_.lock(); }
  ~MutexLock() RC_RELEASE() {
    if (held_) mu_.unlock();
  }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  void Unlock() RC_RELEASE() {
    mu_.unlock();
    held_ = false;
  }
  void Lock() RC_ACQUIRE() {
    mu_.lock();
    held_ = true;
  }

 private:
  Mutex& mu_;
  bool held_ = true;
};

// A lock that can be returned or moved: for a lock one function takes and its caller releases,
// such as the read-through write fence (engine/hooks.h). The analysis does not follow a lock
// across a return, so the function that takes it is marked RC_NO_THREAD_SAFETY_ANALYSIS.
using MovableLock = std::unique_lock<Mutex>;

}  // namespace rc::base
