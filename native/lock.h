// SPDX-License-Identifier: Apache-2.0
// An exclusive lock on a directory (the pin directory), held by an open fd.
#pragma once

#include <napi.h>

// lockDirectory(path: string): number. JS thread. Opens the directory (no
// symlink followed) and takes flock(LOCK_EX|LOCK_NB) on it; returns the fd,
// which holds the lock until unlockDirectory or the process ends (even by
// SIGKILL: the kernel drops the lock with the last fd). Throws code EAGAIN
// when another process holds it, or the open's errno.
Napi::Value LockDirectory(const Napi::CallbackInfo& info);

// unlockDirectory(fd: number): undefined. JS thread. Closes an fd from
// lockDirectory (releasing the lock); anything else is a TypeError/RangeError.
Napi::Value UnlockDirectory(const Napi::CallbackInfo& info);
