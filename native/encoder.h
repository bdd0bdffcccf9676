// SPDX-License-Identifier: Apache-2.0
// A bind's OTLP LogRecord, encoded from the kernel's record where the reader
// thread reads it: the bytes src/otlp/encode.ts writes for the same bind
// through src/naming/bind-attributes.ts (test/unit/native-encoder.test.ts
// holds them equal, and to the SDK's serializer). What only JavaScript knows
// is handed over once, at construction: the attributes' keys (declared in
// src/naming/bind-attribute-keys.ts), the errno and protocol names, the
// record limits. Pure: no N-API, no allocation beyond the caller's buffers
// once they have grown. Any thread; an Encoder is read-only after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

// The attributes a bind's record can carry, in the order they are written (the
// roles JavaScript names keys for: kAttributeRoles below, the same order).
enum class Attr : uint8_t {
  Pid,
  Tid,
  ThreadName,
  Uid,
  ParentPid,
  ParentComm,
  ExePath,
  ExeName,
  ExeDeleted,
  ExeAnonymous,
  ExeUnreachable,
  ExeTruncated,
  Chrooted,
  Root,
  CommandArgs,
  CommandArgsUnreadable,
  CommandArgsTruncated,
  InvalidUtf8,
  Transport,
  NetworkType,
  LocalAddress,
  LocalPort,
  InterfaceName,
  ErrorType,
  ReturnCode,
  RequestedAddress,
  RequestedPort,
  Opts,
  OptFreebind,
  OptTransparent,
  OptBindAddressNoPort,
  OptReuseaddr,
  OptReuseport,
  BoundDevIf,
  KernelSocket,
  KernelThread,
  RawSocket,
  CgroupId,
  MntnsId,
  NetnsId,
  CreationTime,
  CgroupPath,
  Count,
};

// The roles' names, by Attr: JavaScript gives each role its key by these names.
extern const char* const kAttributeRoles[static_cast<size_t>(Attr::Count)];

struct EncoderConfig {
  // keys by Attr
  std::vector<std::string> keys;
  // errno names by number (positive); "" where Linux has none
  std::vector<std::string> errnoNames;
  // IPPROTO names as bcc prints them, by number; "" where unnamed
  std::vector<std::string> protocolNames;
  std::string eventName;
  // the SDK's log record limits; 0 = none
  uint32_t countLimit = 0;
  uint32_t valueLengthLimit = 0;
};

// Why a record was not encoded (it takes JavaScript's path).
enum class Unencoded : uint8_t {
  None,
  // bound to a device (SO_BINDTODEVICE): its name is JavaScript's to resolve
  InterfaceName,
  // not a record this build's program writes (src/kernel/decode.ts's plausible()): JavaScript counts it rejected
  Implausible,
};

class Encoder {
 public:
  explicit Encoder(EncoderConfig config) : config_(std::move(config)) {}

  // Appends one LogRecord message (without its tag) for the record at `rec`
  // (struct bind_event, or with `withArgs` struct bind_event_args; `size`
  // bytes, checked) to `out`; the times are the record's boot time plus
  // `wallOffsetNs` and `observedNs`. Returns Unencoded::None, or why nothing
  // was appended.
  Unencoded Encode(const uint8_t* rec, size_t size, bool withArgs, int64_t wallOffsetNs, uint64_t observedNs,
                   std::vector<uint8_t>* out) const;

  // Bytes a record of this build is (struct bind_event or struct bind_event_args).
  static size_t RecordSize(bool withArgs);

 private:
  EncoderConfig config_;
};
