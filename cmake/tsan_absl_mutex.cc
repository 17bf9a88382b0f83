// SPDX-License-Identifier: MIT
// ThreadSanitizer builds only (VMM_SANITIZE=thread): makes absl::Mutex
// visible to TSan.
//
// Debian's Abseil is a shared library built without TSan, so TSan never sees
// an absl::Mutex being taken or released, and every access the mutex guards
// looks like a race. This file is linked into each executable of a TSan
// build and defines the Mutex and CondVar entry points again: a definition in
// the executable takes precedence over the shared library's, so these run
// instead. Each tells TSan what the call does, through the same annotation
// interface Abseil uses when it is itself built with TSan, and calls the
// library's own function, found with dlsym(RTLD_NEXT). absl::Mutex's inline
// constructor already announces the mutex to TSan in such a build.
//
// Between the pre- and post-lock annotations TSan ignores memory accesses;
// that covers the conditions Abseil evaluates on a waiter's behalf (in
// whichever thread happens to release the mutex), which read guarded state
// with the mutex held but not, as TSan sees it, by that thread.
//
// Await and CondVar::Wait are modelled as release then acquire in writer
// mode: this project only ever holds an absl::Mutex as a writer.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

static_assert(ABSL_OPTION_USE_INLINE_NAMESPACE, "the mangled names below assume Abseil's inline namespace");

namespace {

#define VMM_TSAN_STRINGIFY_INNER(x) #x
#define VMM_TSAN_STRINGIFY(x) VMM_TSAN_STRINGIFY_INNER(x)

// The library's definition of absl::<inline namespace>::<rest>, where `rest`
// is the mangled name after the namespace (in it, S0_ is the inline
// namespace). Missing means this Abseil differs from the one this file was
// written against: stop at once rather than run unannotated.
template <typename Function>
Function Real(const char* rest) {
  const char* ns = VMM_TSAN_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  std::string name = "_ZN4absl" + std::to_string(std::strlen(ns)) + ns + rest;
  void* symbol = dlsym(RTLD_NEXT, name.c_str());
  if (symbol == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found in the Abseil library\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<Function>(symbol);
}

using absl::Condition;
using absl::Duration;
using absl::Mutex;
using absl::Time;

// Await-style calls release the mutex while they wait and hold it again when
// they return, whatever they return.
void AnnotateReleaseForWait(Mutex* mu) {
  __tsan_mutex_pre_unlock(mu, 0);
  __tsan_mutex_post_unlock(mu, 0);
  __tsan_mutex_pre_lock(mu, 0);
}

void AnnotateReacquiredAfterWait(Mutex* mu) { __tsan_mutex_post_lock(mu, 0, 0); }

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

Mutex::~Mutex() {
  static auto real = Real<void (*)(Mutex*)>("5MutexD2Ev");
  __tsan_mutex_destroy(this, __tsan_mutex_not_static);
  real(this);
}

void Mutex::Lock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex4LockEv");
  __tsan_mutex_pre_lock(this, 0);
  real(this);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::Unlock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex6UnlockEv");
  __tsan_mutex_pre_unlock(this, 0);
  real(this);
  __tsan_mutex_post_unlock(this, 0);
}

bool Mutex::TryLock() {
  static auto real = Real<bool (*)(Mutex*)>("5Mutex7TryLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
  bool locked = real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_try_lock | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

void Mutex::ReaderLock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex10ReaderLockEv");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

void Mutex::ReaderUnlock() {
  static auto real = Real<void (*)(Mutex*)>("5Mutex12ReaderUnlockEv");
  __tsan_mutex_pre_unlock(this, __tsan_mutex_read_lock);
  real(this);
  __tsan_mutex_post_unlock(this, __tsan_mutex_read_lock);
}

bool Mutex::ReaderTryLock() {
  static auto real = Real<bool (*)(Mutex*)>("5Mutex13ReaderTryLockEv");
  const unsigned flags = __tsan_mutex_read_lock | __tsan_mutex_try_lock;
  __tsan_mutex_pre_lock(this, flags);
  bool locked = real(this);
  __tsan_mutex_post_lock(this, flags | (locked ? 0 : __tsan_mutex_try_lock_failed), 0);
  return locked;
}

void Mutex::LockWhen(const Condition& cond) {
  static auto real = Real<void (*)(Mutex*, const Condition&)>("5Mutex8LockWhenERKNS0_9ConditionE");
  __tsan_mutex_pre_lock(this, 0);
  real(this, cond);
  __tsan_mutex_post_lock(this, 0, 0);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static auto real = Real<void (*)(Mutex*, const Condition&)>("5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  __tsan_mutex_pre_lock(this, __tsan_mutex_read_lock);
  real(this, cond);
  __tsan_mutex_post_lock(this, __tsan_mutex_read_lock, 0);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static auto real =
      Real<bool (*)(Mutex*, const Condition&, Duration)>("5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  __tsan_mutex_pre_lock(this, 0);
  bool met = real(this, cond, timeout);
  __tsan_mutex_post_lock(this, 0, 0);
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  static auto real =
      Real<bool (*)(Mutex*, const Condition&, Time)>("5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  __tsan_mutex_pre_lock(this, 0);
  bool met = real(this, cond, deadline);
  __tsan_mutex_post_lock(this, 0, 0);
  return met;
}

void Mutex::Await(const Condition& cond) {
  static auto real = Real<void (*)(Mutex*, const Condition&)>("5Mutex5AwaitERKNS0_9ConditionE");
  AnnotateReleaseForWait(this);
  real(this, cond);
  AnnotateReacquiredAfterWait(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  static auto real =
      Real<bool (*)(Mutex*, const Condition&, Duration)>("5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  AnnotateReleaseForWait(this);
  bool met = real(this, cond, timeout);
  AnnotateReacquiredAfterWait(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  static auto real =
      Real<bool (*)(Mutex*, const Condition&, Time)>("5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  AnnotateReleaseForWait(this);
  bool met = real(this, cond, deadline);
  AnnotateReacquiredAfterWait(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  static auto real = Real<void (*)(CondVar*, Mutex*)>("7CondVar4WaitEPNS0_5MutexE");
  AnnotateReleaseForWait(mu);
  real(this, mu);
  AnnotateReacquiredAfterWait(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, Duration)>("7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  AnnotateReleaseForWait(mu);
  bool timed_out = real(this, mu, timeout);
  AnnotateReacquiredAfterWait(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, Time)>("7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  AnnotateReleaseForWait(mu);
  bool timed_out = real(this, mu, deadline);
  AnnotateReacquiredAfterWait(mu);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl
