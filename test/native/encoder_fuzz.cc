// SPDX-License-Identifier: Apache-2.0
// native/encoder.cc under AddressSanitizer and UBSan, fed hostile records: every length from none to a whole
// record with its command line, random bytes, NUL-free names, lengths past what the record holds, records at odd
// addresses. Each record sits at the very end of its own allocation, so a read past it is reported.
// Built and run by test/unit/native-encoder.test.ts: ./encoder_fuzz SEED ITERATIONS
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "bindsnoop.h"
#include "encoder.h"

int main(int argc, char** argv) {
  const unsigned seed = argc > 1 ? static_cast<unsigned>(strtoul(argv[1], nullptr, 10)) : 1;
  const long iterations = argc > 2 ? strtol(argv[2], nullptr, 10) : 10000;
  std::mt19937_64 rng(seed);
  EncoderConfig config;
  for (size_t i = 0; i < static_cast<size_t>(Attr::Count); i++) config.keys.push_back(std::string("key.") + kAttributeRoles[i]);
  config.errnoNames.resize(134);
  config.errnoNames[98] = "EADDRINUSE";
  config.protocolNames.resize(263);
  config.protocolNames[6] = "TCP";
  config.eventName = "bindsnoop.bind";
  const Encoder plain(config);
  config.countLimit = 5;
  config.valueLengthLimit = 3;
  const Encoder limited(config);
  ByteBuffer out;
  long encoded = 0;
  for (long i = 0; i < iterations; i++) {
    const bool withArgs = rng() & 1;
    const size_t whole = Encoder::RecordSize(withArgs);
    // mostly whole records, sometimes short ones (a caller's mistake must not read past what it gave)
    const size_t size = rng() % 8 ? whole : rng() % (whole + 1);
    const size_t misalign = rng() % 8 ? 0 : 1 + rng() % 7;
    uint8_t* block = static_cast<uint8_t*>(malloc(size + misalign + 1));
    uint8_t* rec = block + misalign;
    for (size_t k = 0; k < size; k++) rec[k] = static_cast<uint8_t>(rng());
    if (size >= sizeof(struct bind_event)) {
      auto* e = reinterpret_cast<struct bind_event*>(rec);
      // plausible often enough to be encoded: a family the program writes, known option bits
      if (rng() % 4) {
        uint8_t family = rng() & 1 ? 2 : 10;
        memcpy(rec + offsetof(struct bind_event, family), &family, 1);
        uint8_t opts = rng() & 0x1f;
        memcpy(rec + offsetof(struct bind_event, opts), &opts, 1);
        int32_t dev = rng() % 3 ? 0 : static_cast<int32_t>(rng());
        memcpy(rec + offsetof(struct bind_event, bound_dev_if), &dev, 4);
      }
      // names of every shape: many short ones, all NULs, NUL-free runs, a length past what the record holds
      const int shape = static_cast<int>(rng() % 4);
      for (size_t k = 0; k < sizeof(e->exe_names); k++) {
        const uint8_t b = shape == 0 ? 0 : shape == 1 ? (k % 2 ? 0 : 'a') : shape == 2 ? (rng() % 2 ? 0 : 0xc3) : static_cast<uint8_t>(rng());
        rec[offsetof(struct bind_event, exe_names) + k] = b;
      }
      const uint16_t exeLen = rng() % 2 ? static_cast<uint16_t>(rng() % (sizeof(e->exe_names) + 1)) : static_cast<uint16_t>(rng());
      memcpy(rec + offsetof(struct bind_event, exe_len), &exeLen, 2);
      if (withArgs && size >= sizeof(struct bind_event_args)) {
        auto* a = reinterpret_cast<struct bind_event_args*>(rec);
        for (size_t k = 0; k < sizeof(a->args); k++) rec[offsetof(struct bind_event_args, args) + k] = shape == 1 ? (k % 2 ? 0 : 'x') : shape == 0 ? 0 : static_cast<uint8_t>(rng());
        const uint16_t argsLen = rng() % 2 ? static_cast<uint16_t>(rng() % (sizeof(a->args) + 1)) : static_cast<uint16_t>(rng());
        memcpy(rec + offsetof(struct bind_event_args, args_len), &argsLen, 2);
      }
    }
    // shift so that the record ends exactly at the end of the allocation
    memmove(block + 1 + misalign, rec, size);
    rec = block + 1 + misalign;
    out.Clear();
    const Encoder& encoder = rng() % 3 ? plain : limited;
    if (encoder.EncodeField(rec, size, withArgs, static_cast<int64_t>(rng() >> 2), rng(), &out) == Unencoded::None) encoded++;
    free(block);
  }
  printf("encoded %ld of %ld\n", encoded, iterations);
  return 0;
}
