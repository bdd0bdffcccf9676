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
#include <cstdlib>
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
  // out of memory for the encoded record: JavaScript's path takes it (and its bounds)
  NoMemory,
  // not a record this build's program writes (src/kernel/decode.ts's plausible()): JavaScript counts it rejected
  Implausible,
};

// A growable byte buffer of malloc'd memory, not zeroed as it grows (a record is written once, in place):
// the reader thread's batch of encoded records, handed to JavaScript whole (Release, then free()).
class ByteBuffer {
 public:
  ByteBuffer() = default;
  ~ByteBuffer() { free(data_); }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  // Room for n more bytes after size(); false when memory runs out (nothing changed).
  bool Reserve(size_t n);
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  void Resize(size_t n) { size_ = n; }  // n <= capacity
  void Clear() { size_ = 0; }
  // The bytes, now the caller's to free(); the buffer is empty again.
  uint8_t* Release();
  size_t capacity() const { return capacity_; }
  // Takes memory of `capacity` bytes from malloc (a released buffer's), empty, to write again; frees its own.
  void Adopt(uint8_t* data, size_t capacity) {
    free(data_);
    data_ = data;
    size_ = 0;
    capacity_ = capacity;
  }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

class Encoder {
 public:
  explicit Encoder(EncoderConfig config) : config_(std::move(config)) {
    for (const std::string& k : config_.keys) keyBytes_ += k.size();
  }

  // Appends one LogRecord message (without its tag) for the record at `rec`
  // (struct bind_event, or with `withArgs` struct bind_event_args; `size`
  // bytes, checked) to `out`; the times are the record's boot time plus
  // `wallOffsetNs` and `observedNs`. Returns Unencoded::None, or why nothing
  // was appended (Unencoded::NoMemory when out cannot grow).
  Unencoded Encode(const uint8_t* rec, size_t size, bool withArgs, int64_t wallOffsetNs, uint64_t observedNs,
                   ByteBuffer* out) const;

  // As Encode, the record written as a ScopeLogs.log_records field (its tag and length first).
  Unencoded EncodeField(const uint8_t* rec, size_t size, bool withArgs, int64_t wallOffsetNs, uint64_t observedNs,
                        ByteBuffer* out) const;

  // Bytes a record of this build is (struct bind_event or struct bind_event_args).
  static size_t RecordSize(bool withArgs);

 private:
  EncoderConfig config_;
  // bytes of every key: a bound on the attributes' share of a record
  size_t keyBytes_ = 0;
};
