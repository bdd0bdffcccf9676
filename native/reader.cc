// SPDX-License-Identifier: Apache-2.0
#include "reader.h"

#include <stddef.h>

#include "bindsnoop.h"

static_assert(offsetof(struct bind_event, ts_boot_ns) == 0, "the reader reads a record's time at its start");

#include <bpf/libbpf.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <string.h>
#include <unistd.h>

std::unique_ptr<RingReader> RingReader::Create(int ringFd, size_t recordSize, int* err) {
  std::unique_ptr<RingReader> r(new RingReader(recordSize));
  r->ring_ = ring_buffer__new(ringFd, &RingReader::OnRecord, r.get(), nullptr);
  if (!r->ring_) {
    *err = errno;
    return nullptr;
  }
  // Our own epoll set: libbpf's (which wakes on ring data) plus an eventfd, so
  // that Wake() ends a poll at once instead of after the drain interval.
  r->epollFd_ = epoll_create1(EPOLL_CLOEXEC);
  r->wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (r->epollFd_ < 0 || r->wakeFd_ < 0) {
    *err = errno;
    return nullptr;
  }
  struct epoll_event ev = {};
  ev.events = EPOLLIN;
  ev.data.fd = ring_buffer__epoll_fd(r->ring_);
  if (epoll_ctl(r->epollFd_, EPOLL_CTL_ADD, ev.data.fd, &ev) != 0) {
    *err = errno;
    return nullptr;
  }
  ev.data.fd = r->wakeFd_;
  if (epoll_ctl(r->epollFd_, EPOLL_CTL_ADD, r->wakeFd_, &ev) != 0) {
    *err = errno;
    return nullptr;
  }
  return r;
}

RingReader::~RingReader() { Close(); }

void RingReader::Close() {
  std::lock_guard<std::mutex> lock(fdMutex_);
  if (ring_) ring_buffer__free(ring_);
  ring_ = nullptr;
  if (epollFd_ >= 0) close(epollFd_);
  epollFd_ = -1;
  if (wakeFd_ >= 0) close(wakeFd_);
  wakeFd_ = -1;
}

int RingReader::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<RingReader*>(ctx);
  if (size != self->recordSize_) {
    self->recordsMalformed_++;  // not a record of this build's layout: counted, never decoded
    return 0;
  }
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (self->gapEndNs_) {
    uint64_t ts;  // ts_boot_ns leads struct bind_event
    memcpy(&ts, p, sizeof(ts));
    if (ts < self->gapEndNs_) self->recordsBefore_++;
  }
  self->batch_.insert(self->batch_.end(), p, p + size);
  self->recordsRead_++;
  // a full batch: stop this consume (libbpf has already consumed this record, which is kept)
  return ++self->batchRecords_ >= kMaxBatchRecords ? -1 : 0;
}

void RingReader::Drain(const Sink& sink, const Room& room) {
  drainPasses_++;
  for (;;) {
    if (room && !room()) return;  // the rest waits in the ring
    int n = ring_buffer__consume(ring_);
    bool full = batchRecords_ >= kMaxBatchRecords;
    if (!batch_.empty()) {
      size_t records = batchRecords_;
      std::vector<uint8_t> out;
      out.swap(batch_);
      if (spare_.capacity() >= records * recordSize_) {
        batch_.swap(spare_);
        batch_.clear();
      } else {
        batch_.reserve(records * recordSize_);
      }
      batchRecords_ = 0;
      sink(std::move(out), records);
    }
    if (!full || n >= 0) return;  // the ring is empty (a full batch stops the consume with -1)
  }
}

int RingReader::Loop(int drainIntervalMillis, const Sink& sink, const Room& room, const std::function<void()>& onPass) {
  struct epoll_event events[2];
  while (!woken_.load()) {
    if (onPass) onPass();
    if (!room()) {
      // the consumer is behind: leave the records in the ring (epoll would report them at once, again and
      // again) and look again shortly; Wake() still ends this at once
      struct pollfd p = {wakeFd_, POLLIN, 0};
      poll(&p, 1, 1);
      continue;
    }
    int n = epoll_wait(epollFd_, events, 2, drainIntervalMillis);
    if (n < 0 && errno != EINTR) return errno;
    // records submitted with BPF_RB_NO_WAKEUP do not wake epoll: take them on every pass
    Drain(sink, room);
  }
  return 0;
}

void RingReader::WaitForWake() {
  while (!woken_.load()) {
    struct pollfd p = {wakeFd_, POLLIN, 0};
    poll(&p, 1, 1000);
  }
}

void RingReader::Wake() {
  woken_ = true;
  std::lock_guard<std::mutex> lock(fdMutex_);
  if (wakeFd_ < 0) return;
  uint64_t one = 1;
  ssize_t ignored = write(wakeFd_, &one, sizeof(one));
  (void)ignored;
}

void RingReader::Recycle(std::vector<uint8_t>&& batch) {
  if (batch.capacity() > spare_.capacity()) spare_ = std::move(batch);
}
