// SPDX-License-Identifier: Apache-2.0
// Whether the reader of an output pipe has gone (`bindsnoop | head -1`).
#pragma once

#include <napi.h>

// peerClosed(fd: number): boolean. JS thread. poll(2) with no wait: true when
// the fd reports POLLERR or POLLHUP (a pipe whose read end is closed, a socket
// shut down), so the agent can stop without waiting for its next write to fail.
// TypeError/RangeError for anything but a whole number in 0..2^31-1.
Napi::Value PeerClosed(const Napi::CallbackInfo& info);

// setNonBlocking(fd: number): undefined. JS thread. Sets O_NONBLOCK on a pipe
// or socket the agent writes its lines to, so that a reader that stops reading
// makes write(2) say EAGAIN instead of blocking the JavaScript thread (and its
// signal handling). Throws the fcntl errno (EBADF for a closed fd).
Napi::Value SetNonBlocking(const Napi::CallbackInfo& info);
