// SPDX-License-Identifier: Apache-2.0
#include "encoder.h"

#include <stddef.h>
#include <string.h>

#include "bindsnoop.h"

const char* const kAttributeRoles[static_cast<size_t>(Attr::Count)] = {
    "pid",          "tid",          "threadName",     "uid",          "parentPid",      "parentComm",
    "exePath",      "exeName",      "exeDeleted",     "exeAnonymous", "exeUnreachable", "exeTruncated",
    "chrooted",     "root",         "commandArgs",    "commandArgsUnreadable",          "commandArgsTruncated",
    "invalidUtf8",  "transport",    "networkType",    "localAddress", "localPort",      "interfaceName",
    "errorType",    "returnCode",   "requestedAddress", "requestedPort", "opts",        "optFreebind",
    "optTransparent", "optBindAddressNoPort", "optReuseaddr", "optReuseport", "boundDevIf", "kernelSocket",
    "kernelThread", "rawSocket",    "cgroupId",       "mntnsId",      "netnsId",        "creationTime",
    "cgroupPath",
};

namespace {

constexpr uint8_t kAfInet = 2;
constexpr uint8_t kAfInet6 = 10;
constexpr uint8_t kKnownOpts = 0x1f;
constexpr uint8_t kArgsTruncated = 1u << 0;
constexpr uint8_t kArgsUnreadable = 1u << 1;
constexpr uint8_t kArgsTitle = 1u << 2;
constexpr int kSeverityInfo = 9;
constexpr int kSeverityWarn = 13;
const char kReplacement[] = "\xEF\xBF\xBD";

// Appends the UTF-8 of the string JavaScript decodes from these bytes
// (Buffer#toString('utf8'), WHATWG's decoder: each maximal ill-formed subpart
// becomes U+FFFD). Returns whether the bytes were UTF-8 (isUtf8).
bool AppendDecoded(const uint8_t* p, size_t n, std::string* out) {
  bool valid = true;
  size_t i = 0;
  while (i < n) {
    const uint8_t b = p[i];
    if (b < 0x80) {
      size_t end = i + 1;
      while (end < n && p[end] < 0x80) end++;
      out->append(reinterpret_cast<const char*>(p + i), end - i);
      i = end;
      continue;
    }
    size_t need;
    uint8_t lower = 0x80, upper = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lower = 0xA0;
      if (b == 0xED) upper = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lower = 0x90;
      if (b == 0xF4) upper = 0x8F;
    } else {
      out->append(kReplacement, 3);
      valid = false;
      i++;
      continue;
    }
    size_t j = 1;
    for (; j <= need; j++) {
      if (i + j >= n) break;
      const uint8_t c = p[i + j];
      if (c < lower || c > upper) break;
      lower = 0x80;
      upper = 0xBF;
    }
    if (j > need) {
      out->append(reinterpret_cast<const char*>(p + i), need + 1);
      i += need + 1;
    } else {
      // the lead and the continuation bytes that were right: one U+FFFD; the byte that broke it is read again
      out->append(kReplacement, 3);
      valid = false;
      i += j;
    }
  }
  return valid;
}

bool IsUtf8(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n && p[i] < 0x80) i++;
  if (i == n) return true;
  thread_local std::string scratch;
  scratch.clear();
  return AppendDecoded(p + i, n - i, &scratch);
}

// Bytes to the first NUL, within max.
size_t CStringLength(const uint8_t* p, size_t max) {
  const void* nul = memchr(p, 0, max);
  return nul ? static_cast<size_t>(static_cast<const uint8_t*>(nul) - p) : max;
}

// Decimal, zero-padded to `width` digits.
void AppendPadded(std::string* out, uint64_t v, int width) {
  char buf[24];
  int n = 0;
  do {
    buf[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  while (n < width) buf[n++] = '0';
  while (n) out->push_back(buf[--n]);
}

void AppendUnsigned(std::string* out, uint64_t v) { AppendPadded(out, v, 1); }

void AppendSigned(std::string* out, int64_t v) {
  if (v < 0) {
    out->push_back('-');
    AppendUnsigned(out, static_cast<uint64_t>(0) - static_cast<uint64_t>(v));
  } else {
    AppendUnsigned(out, static_cast<uint64_t>(v));
  }
}

void AppendHex(std::string* out, unsigned v) {
  static const char digits[] = "0123456789abcdef";
  char buf[8];
  int n = 0;
  do {
    buf[n++] = digits[v & 0xf];
    v >>= 4;
  } while (v);
  while (n) out->push_back(buf[--n]);
}

void AppendIPv4(std::string* out, const uint8_t* a) {
  for (int i = 0; i < 4; i++) {
    if (i) out->push_back('.');
    AppendUnsigned(out, a[i]);
  }
}

// As glibc's inet_ntop writes it (src/naming/net/address.ts).
void AppendIPv6(std::string* out, const uint8_t* a) {
  unsigned words[8];
  for (int i = 0; i < 8; i++) words[i] = (static_cast<unsigned>(a[2 * i]) << 8) | a[2 * i + 1];
  int bestBase = -1, bestLen = 0, curBase = -1, curLen = 0;
  for (int i = 0; i < 8; i++) {
    if (words[i] == 0) {
      if (curBase == -1) {
        curBase = i;
        curLen = 1;
      } else {
        curLen++;
      }
    } else if (curBase != -1) {
      if (bestBase == -1 || curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase != -1 && (bestBase == -1 || curLen > bestLen)) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestBase != -1 && bestLen < 2) bestBase = -1;
  for (int i = 0; i < 8; i++) {
    if (bestBase != -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i == bestBase) out->push_back(':');
      continue;
    }
    if (i != 0) out->push_back(':');
    if (i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 5 && words[5] == 0xffff))) {
      AppendIPv4(out, a + 12);
      break;
    }
    AppendHex(out, words[i]);
  }
  if (bestBase != -1 && bestBase + bestLen == 8) out->push_back(':');
}

void AppendAddress(std::string* out, uint8_t family, const uint8_t* a) {
  if (family == kAfInet6)
    AppendIPv6(out, a);
  else
    AppendIPv4(out, a);
}

// Days since 1970-01-01 to a civil date (Howard Hinnant's days_from_civil, inverted).
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

// RFC 3339 with nanoseconds, as src/naming/time.ts writes it: Date#toISOString's first 19
// characters (its six-digit years past 9999 included), then the nanoseconds.
void AppendRfc3339(std::string* out, unsigned __int128 ns) {
  const uint64_t ms = static_cast<uint64_t>(ns / 1000000);
  const uint64_t nanos = static_cast<uint64_t>(ns % 1000000000);
  const int64_t days = static_cast<int64_t>(ms / 86400000);
  const uint64_t msOfDay = ms % 86400000;
  int64_t y;
  unsigned mo, d;
  CivilFromDays(days, &y, &mo, &d);
  std::string iso;
  if (y >= 0 && y <= 9999) {
    AppendPadded(&iso, static_cast<uint64_t>(y), 4);
  } else {
    iso.push_back(y < 0 ? '-' : '+');
    AppendPadded(&iso, static_cast<uint64_t>(y < 0 ? -y : y), 6);
  }
  iso.push_back('-');
  AppendPadded(&iso, mo, 2);
  iso.push_back('-');
  AppendPadded(&iso, d, 2);
  iso.push_back('T');
  AppendPadded(&iso, msOfDay / 3600000, 2);
  iso.push_back(':');
  AppendPadded(&iso, msOfDay / 60000 % 60, 2);
  iso.push_back(':');
  AppendPadded(&iso, msOfDay / 1000 % 60, 2);
  out->append(iso, 0, 19);
  out->push_back('.');
  AppendPadded(out, nanos, 9);
  out->push_back('Z');
}

// Cuts a (well-formed) UTF-8 string to `limit` UTF-16 code units, as String#slice does; a
// surrogate pair cut in two leaves its high half, which UTF-8 writes as U+FFFD.
void CutUtf16(std::string* s, uint32_t limit) {
  size_t units = 0, i = 0;
  const size_t n = s->size();
  while (i < n) {
    const uint8_t b = static_cast<uint8_t>((*s)[i]);
    const size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    const size_t u = len == 4 ? 2 : 1;
    if (units + u > limit) {
      const bool half = units < limit;
      s->resize(i);
      if (half) s->append(kReplacement, 3);
      return;
    }
    units += u;
    i += len;
  }
}

size_t Utf16Length(const std::string& s) {
  size_t units = 0;
  for (size_t i = 0; i < s.size();) {
    const uint8_t b = static_cast<uint8_t>(s[i]);
    const size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    units += len == 4 ? 2 : 1;
    i += len;
  }
  return units;
}

// One attribute's value, as src/otlp/encode.ts's writeAnyValue takes it.
struct Value {
  enum Kind : uint8_t { String, Bool, Int, Double, Strings } kind;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  // String: arena[begin, end); Strings: items[begin, end) of offsets into the arena
  size_t begin = 0, end = 0;
};

struct Attribute {
  Attr attr;
  Value value;
};

struct Scratch {
  std::string arena;
  std::vector<std::pair<size_t, size_t>> items;
  Attribute attributes[static_cast<size_t>(Attr::Count)];
  size_t count = 0;
  std::string body;
};

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}

// The writer: a pointer into room reserved for the whole record (its bound computed first).
void PutVarint(uint8_t*& p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
}

void PutFixed64(uint8_t*& p, uint64_t v) {
  for (int i = 0; i < 8; i++) *p++ = static_cast<uint8_t>(v >> (8 * i));
}

void PutBytes(uint8_t*& p, const char* bytes, size_t n) {
  memcpy(p, bytes, n);
  p += n;
}

size_t LengthDelimited(size_t n) { return 1 + VarintSize(n) + n; }

class Builder {
 public:
  Builder(Scratch* s, uint32_t valueLengthLimit) : s_(s), limit_(valueLengthLimit) {
    s_->arena.clear();
    s_->items.clear();
    s_->count = 0;
  }

  // A string attribute whose text the caller appends to arena() between Begin and End.
  size_t Begin() { return s_->arena.size(); }
  void EndString(Attr a, size_t begin) {
    Value v{Value::String};
    v.begin = begin;
    v.end = Cut(begin);
    Push(a, v);
  }
  void Text(Attr a, const char* text) {
    const size_t begin = Begin();
    s_->arena.append(text);
    EndString(a, begin);
  }
  void Bool(Attr a, bool b) {
    Value v{Value::Bool};
    v.b = b;
    Push(a, v);
  }
  void Int(Attr a, int64_t i) {
    Value v{Value::Int};
    v.i = i;
    Push(a, v);
  }
  // A u64 as JavaScript's Number(bigint) holds it: an int64 when it is one (after rounding to a double), else a double.
  void Id(Attr a, uint64_t id) {
    const double d = static_cast<double>(id);
    if (d < 9223372036854775808.0) {
      Int(a, static_cast<int64_t>(d));
    } else {
      Value v{Value::Double};
      v.d = d;
      Push(a, v);
    }
  }
  // A string array: each item appended to arena() then Item(begin).
  size_t BeginItems() { return s_->items.size(); }
  void Item(size_t begin) { s_->items.emplace_back(begin, Cut(begin)); }
  void EndItems(Attr a, size_t first) {
    Value v{Value::Strings};
    v.begin = first;
    v.end = s_->items.size();
    Push(a, v);
  }
  std::string& arena() { return s_->arena; }

 private:
  // the value length limit, on the text appended since begin; returns its end
  size_t Cut(size_t begin) {
    if (limit_ && s_->arena.size() - begin > limit_) {
      std::string text = s_->arena.substr(begin);
      if (Utf16Length(text) > limit_) {
        CutUtf16(&text, limit_);
        s_->arena.resize(begin);
        s_->arena += text;
      }
    }
    return s_->arena.size();
  }
  void Push(Attr a, const Value& v) { s_->attributes[s_->count++] = Attribute{a, v}; }

  Scratch* s_;
  uint32_t limit_;
};

size_t StringValueSize(size_t n) { return LengthDelimited(n); }

size_t AnyValueSize(const Scratch& s, const Value& v) {
  switch (v.kind) {
    case Value::String:
      return StringValueSize(v.end - v.begin);
    case Value::Bool:
      return 2;
    case Value::Int:
      return 1 + VarintSize(static_cast<uint64_t>(v.i));
    case Value::Double:
      return 9;
    case Value::Strings: {
      size_t array = 0;
      for (size_t k = v.begin; k < v.end; k++) array += LengthDelimited(StringValueSize(s.items[k].second - s.items[k].first));
      return LengthDelimited(array);
    }
  }
  return 0;
}

void PutAnyValue(uint8_t*& out, const Scratch& s, const Value& v) {
  switch (v.kind) {
    case Value::String:
      *out++ = (0x0a);
      PutVarint(out, v.end - v.begin);
      PutBytes(out, s.arena.data() + v.begin, v.end - v.begin);
      return;
    case Value::Bool:
      *out++ = (0x10);
      *out++ = (v.b ? 1 : 0);
      return;
    case Value::Int:
      *out++ = (0x18);
      PutVarint(out, static_cast<uint64_t>(v.i));
      return;
    case Value::Double: {
      *out++ = (0x21);
      uint64_t bits;
      memcpy(&bits, &v.d, sizeof bits);
      PutFixed64(out, bits);
      return;
    }
    case Value::Strings: {
      *out++ = (0x2a);
      size_t array = 0;
      for (size_t k = v.begin; k < v.end; k++) array += LengthDelimited(StringValueSize(s.items[k].second - s.items[k].first));
      PutVarint(out, array);
      for (size_t k = v.begin; k < v.end; k++) {
        const size_t n = s.items[k].second - s.items[k].first;
        *out++ = (0x0a);
        PutVarint(out, StringValueSize(n));
        *out++ = (0x0a);
        PutVarint(out, n);
        PutBytes(out, s.arena.data() + s.items[k].first, n);
      }
      return;
    }
  }
}

void PutString(uint8_t*& out, uint8_t tag, const std::string& text) {
  *out++ = (tag);
  PutVarint(out, text.size());
  PutBytes(out, text.data(), text.size());
}

struct Executable {
  bool present = false;
  bool invalidUtf8 = false;
};

// The executable's attributes from the kernel's leaf-first names (src/naming/executable.ts).
Executable AddExecutable(Builder* b, const struct bind_event* e) {
  Executable out;
  const size_t len = e->exe_len < sizeof(e->exe_names) ? e->exe_len : sizeof(e->exe_names);
  if (len == 0) return out;
  const uint8_t* raw = reinterpret_cast<const uint8_t*>(e->exe_names);
  // the names, each ending in a NUL (a cut-off last one has none and is left out, as the split's last element is)
  struct Span {
    size_t first, second;
  };
  Span names[BINDSNOOP_EXE_LEN];  // each name ends in a NUL: one byte at least
  size_t count = 0;
  for (size_t start = 0; start < len;) {
    const void* nul = memchr(raw + start, 0, len - start);
    if (!nul) break;
    const size_t end = static_cast<size_t>(static_cast<const uint8_t*>(nul) - raw);
    names[count++] = {start, end};
    start = end + 1;
  }
  size_t mark = count;
  for (size_t k = 0; k < count; k++) {
    if (names[k].first == names[k].second) {
      mark = k;
      break;
    }
  }
  if (mark == 0) return out;
  out.present = true;
  out.invalidUtf8 = !IsUtf8(raw, len);
  std::string& arena = b->arena();
  size_t begin = b->Begin();
  if (!(e->flags & BINDSNOOP_FLAG_EXE_TRUNCATED)) arena.push_back('/');
  for (size_t k = mark; k-- > 0;) {
    AppendDecoded(raw + names[k].first, names[k].second - names[k].first, &arena);
    if (k) arena.push_back('/');
  }
  if (e->flags & BINDSNOOP_FLAG_EXE_DELETED) arena.append(" (deleted)");
  b->EndString(Attr::ExePath, begin);
  begin = b->Begin();
  AppendDecoded(raw + names[0].first, names[0].second - names[0].first, &arena);
  b->EndString(Attr::ExeName, begin);
  if (e->flags & BINDSNOOP_FLAG_EXE_DELETED) b->Bool(Attr::ExeDeleted, true);
  if (e->flags & BINDSNOOP_FLAG_EXE_ANONYMOUS) b->Bool(Attr::ExeAnonymous, true);
  if (e->flags & BINDSNOOP_FLAG_EXE_UNREACHABLE) b->Bool(Attr::ExeUnreachable, true);
  if (e->flags & BINDSNOOP_FLAG_EXE_TRUNCATED) b->Bool(Attr::ExeTruncated, true);
  if (mark < count) {
    b->Bool(Attr::Chrooted, true);
    if (mark + 1 < count) {
      begin = b->Begin();
      for (size_t k = count; k-- > mark + 1;) {
        arena.push_back('/');
        AppendDecoded(raw + names[k].first, names[k].second - names[k].first, &arena);
      }
      b->EndString(Attr::Root, begin);
    }
  }
  return out;
}

// The command line's attributes (src/naming/executable.ts's commandArgsOf); whether its bytes were not UTF-8.
bool AddCommandArgs(Builder* b, const struct bind_event_args* r) {
  const uint8_t flags = r->args_flags;
  bool truncated = (flags & kArgsTruncated) != 0;
  if (flags & kArgsUnreadable) {
    b->Bool(Attr::CommandArgsUnreadable, true);
    b->Bool(Attr::CommandArgsTruncated, truncated);
    return false;
  }
  const uint8_t* bytes = reinterpret_cast<const uint8_t*>(r->args);
  size_t len = r->args_len < sizeof(r->args) ? r->args_len : sizeof(r->args);
  std::string& arena = b->arena();
  const size_t first = b->BeginItems();
  if (flags & kArgsTitle) {
    const void* nul = memchr(bytes, 0, len);
    if (nul) {
      len = static_cast<size_t>(static_cast<const uint8_t*>(nul) - bytes);
      truncated = false;
    }
    const size_t begin = b->Begin();
    AppendDecoded(bytes, len, &arena);
    b->Item(begin);
  } else {
    size_t start = 0;
    for (;;) {
      const void* nul = memchr(bytes + start, 0, len - start);
      const size_t end = nul ? static_cast<size_t>(static_cast<const uint8_t*>(nul) - bytes) : len;
      // a whole command line ends in a NUL: no empty argument after it (a cut-off one keeps its part)
      if (!nul && end == start && !truncated) break;
      const size_t begin = b->Begin();
      AppendDecoded(bytes + start, end - start, &arena);
      b->Item(begin);
      if (!nul) break;
      start = end + 1;
    }
  }
  b->EndItems(Attr::CommandArgs, first);
  b->Bool(Attr::CommandArgsTruncated, truncated);
  return !IsUtf8(bytes, len);
}

thread_local Scratch scratch;

}  // namespace

size_t Encoder::RecordSize(bool withArgs) { return withArgs ? sizeof(struct bind_event_args) : sizeof(struct bind_event); }

Unencoded Encoder::Encode(const uint8_t* rec, size_t size, bool withArgs, int64_t wallOffsetNs, uint64_t observedNs,
                          ByteBuffer* buffer) const {
  // the record in place when it is whole and aligned (the reader's batches); else a copy, zero past what was given
  const size_t need = RecordSize(withArgs);
  struct bind_event_args copy;
  const struct bind_event_args* r = reinterpret_cast<const struct bind_event_args*>(rec);
  if (size < need || reinterpret_cast<uintptr_t>(rec) % alignof(struct bind_event_args) != 0) {
    memset(&copy, 0, sizeof copy);
    memcpy(&copy, rec, size < need ? size : need);
    r = &copy;
  }
  const struct bind_event* e = &r->event;
  if ((e->family != kAfInet && e->family != kAfInet6) || (e->opts & ~kKnownOpts) != 0) return Unencoded::Implausible;
  if (e->bound_dev_if > 0) return Unencoded::InterfaceName;

  Scratch& s = scratch;
  Builder b(&s, config_.valueLengthLimit);
  std::string& arena = b.arena();
  const uint8_t* comm = reinterpret_cast<const uint8_t*>(e->comm);
  const size_t commLen = CStringLength(comm, sizeof(e->comm));
  const uint8_t* parentComm = reinterpret_cast<const uint8_t*>(e->parent_comm);
  const size_t parentCommLen = CStringLength(parentComm, sizeof(e->parent_comm));

  b.Int(Attr::Pid, e->pid);
  b.Int(Attr::Tid, e->tid);
  size_t begin = b.Begin();
  const bool commValid = AppendDecoded(comm, commLen, &arena);
  b.EndString(Attr::ThreadName, begin);
  b.Int(Attr::Uid, e->uid);
  b.Int(Attr::ParentPid, e->ppid);
  begin = b.Begin();
  const bool parentValid = AppendDecoded(parentComm, parentCommLen, &arena);
  b.EndString(Attr::ParentComm, begin);
  const Executable exe = AddExecutable(&b, e);
  const bool argsInvalid = withArgs && AddCommandArgs(&b, r);
  if (!commValid || !parentValid || exe.invalidUtf8 || argsInvalid) {
    const size_t first = b.BeginItems();
    const char* names[4];
    size_t n = 0;
    if (!commValid) names[n++] = config_.keys[static_cast<size_t>(Attr::ThreadName)].c_str();
    if (!parentValid) names[n++] = config_.keys[static_cast<size_t>(Attr::ParentComm)].c_str();
    if (exe.invalidUtf8) names[n++] = config_.keys[static_cast<size_t>(Attr::ExePath)].c_str();
    if (argsInvalid) names[n++] = config_.keys[static_cast<size_t>(Attr::CommandArgs)].c_str();
    for (size_t k = 0; k < n; k++) {
      begin = b.Begin();
      arena.append(names[k]);
      b.Item(begin);
    }
    b.EndItems(Attr::InvalidUtf8, first);
  }
  const std::string& protocol = e->protocol < config_.protocolNames.size() ? config_.protocolNames[e->protocol] : std::string();
  begin = b.Begin();
  if (protocol.empty()) {
    AppendUnsigned(&arena, e->protocol);
  } else {
    for (char c : protocol) arena.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  }
  b.EndString(Attr::Transport, begin);
  b.Text(Attr::NetworkType, e->family == kAfInet6 ? "ipv6" : "ipv4");
  if (e->ret == 0) {
    begin = b.Begin();
    AppendAddress(&arena, e->family, e->bound_addr);
    b.EndString(Attr::LocalAddress, begin);
    if (!(e->flags & BINDSNOOP_FLAG_RAW_SOCKET)) b.Int(Attr::LocalPort, e->bound_port);
  }
  // a failed bind's errno, named (the attribute and the body): none for most binds
  std::string errnoName;
  if (e->ret != 0) {
    const uint64_t errnoNumber = e->ret < 0 ? static_cast<uint64_t>(-static_cast<int64_t>(e->ret)) : static_cast<uint64_t>(e->ret);
    if (errnoNumber < config_.errnoNames.size() && !config_.errnoNames[errnoNumber].empty()) {
      errnoName = config_.errnoNames[errnoNumber];
    } else {
      errnoName = "ERRNO_";
      AppendUnsigned(&errnoName, errnoNumber);
    }
    b.Text(Attr::ErrorType, errnoName.c_str());
  }
  b.Int(Attr::ReturnCode, e->ret);
  const uint8_t reqFamily = e->req_family == kAfInet6 || e->req_family == kAfInet ? e->req_family : e->family;
  begin = b.Begin();
  AppendAddress(&arena, reqFamily, e->req_addr);
  b.EndString(Attr::RequestedAddress, begin);
  b.Int(Attr::RequestedPort, e->req_port);
  char opts[6] = ".....";
  for (int k = 0; k < 5; k++)
    if (e->opts & kKnownOpts & (1u << k)) opts[k] = "FTNRr"[k];
  b.Text(Attr::Opts, opts);
  b.Bool(Attr::OptFreebind, e->opts & BINDSNOOP_OPT_FREEBIND);
  b.Bool(Attr::OptTransparent, e->opts & BINDSNOOP_OPT_TRANSPARENT);
  b.Bool(Attr::OptBindAddressNoPort, e->opts & BINDSNOOP_OPT_BIND_ADDRESS_NO_PORT);
  b.Bool(Attr::OptReuseaddr, e->opts & BINDSNOOP_OPT_REUSEADDR);
  b.Bool(Attr::OptReuseport, e->opts & BINDSNOOP_OPT_REUSEPORT);
  b.Int(Attr::BoundDevIf, e->bound_dev_if);
  b.Bool(Attr::KernelSocket, e->flags & BINDSNOOP_FLAG_KERNEL_SOCKET);
  b.Bool(Attr::KernelThread, e->flags & BINDSNOOP_FLAG_KERNEL_THREAD);
  b.Bool(Attr::RawSocket, e->flags & BINDSNOOP_FLAG_RAW_SOCKET);
  b.Id(Attr::CgroupId, e->cgroup_id);
  b.Id(Attr::MntnsId, e->mntns_id);
  b.Int(Attr::NetnsId, e->netns_id);
  if (e->start_boot_ns > 0) {
    begin = b.Begin();
    AppendRfc3339(&arena, static_cast<unsigned __int128>(static_cast<__int128>(e->start_boot_ns) + wallOffsetNs));
    b.EndString(Attr::CreationTime, begin);
  }

  // the body: "comm[pid] bound TCP 0.0.0.0:80 opts=.... if=0", or "... bind TCP 0.0.0.0:80 failed: EADDRINUSE"
  std::string& body = s.body;
  body.clear();
  AppendDecoded(comm, commLen, &body);
  body.push_back('[');
  AppendUnsigned(&body, e->pid);
  body.append(e->ret != 0 ? "] bind " : "] bound ");
  body.append(protocol.empty() ? "UNKNOWN" : protocol);
  body.push_back(' ');
  const uint8_t shownFamily = e->ret == 0 ? e->family : reqFamily;
  if (shownFamily == kAfInet6) body.push_back('[');
  AppendAddress(&body, shownFamily, e->ret == 0 ? e->bound_addr : e->req_addr);
  if (shownFamily == kAfInet6) body.push_back(']');
  body.push_back(':');
  AppendUnsigned(&body, e->ret == 0 ? e->bound_port : e->req_port);
  if (e->ret != 0) {
    body.append(" failed: ");
    body.append(errnoName);
  } else {
    body.append(" opts=");
    body.append(opts);
    body.append(" if=");
    AppendSigned(&body, e->bound_dev_if);
  }

  // the LogRecord, field by field as src/otlp/encode.ts writes it, in room for its most
  const size_t bound = 256 + body.size() + config_.eventName.size() + keyBytes_ + s.arena.size() + 16 * s.items.size() + 48 * s.count;
  if (!buffer->Reserve(bound)) return Unencoded::NoMemory;
  uint8_t* const start = buffer->data() + buffer->size();
  uint8_t* out = start;
  const bool failed = e->ret != 0;
  const uint64_t wallNs = static_cast<uint64_t>(static_cast<__int128>(e->ts_boot_ns) + wallOffsetNs);
  *out++ = 0x09;
  PutFixed64(out, wallNs);
  *out++ = 0x10;
  PutVarint(out, failed ? kSeverityWarn : kSeverityInfo);
  static const std::string kWarn = "WARN", kInfo = "INFO";
  PutString(out, 0x1a, failed ? kWarn : kInfo);
  *out++ = 0x2a;
  PutVarint(out, StringValueSize(body.size()));
  PutString(out, 0x0a, body);
  size_t kept = s.count;
  if (config_.countLimit && kept > config_.countLimit) kept = config_.countLimit;
  for (size_t k = 0; k < kept; k++) {
    const Attribute& a = s.attributes[k];
    const std::string& key = config_.keys[static_cast<size_t>(a.attr)];
    const size_t any = AnyValueSize(s, a.value);
    *out++ = 0x32;
    PutVarint(out, LengthDelimited(key.size()) + LengthDelimited(any));
    PutString(out, 0x0a, key);
    *out++ = 0x12;
    PutVarint(out, any);
    PutAnyValue(out, s, a.value);
  }
  *out++ = 0x38;
  PutVarint(out, s.count - kept);
  *out++ = 0x59;
  PutFixed64(out, observedNs);
  PutString(out, 0x62, config_.eventName);
  buffer->Resize(buffer->size() + static_cast<size_t>(out - start));
  return Unencoded::None;
}

Unencoded Encoder::EncodeField(const uint8_t* rec, size_t size, bool withArgs, int64_t wallOffsetNs, uint64_t observedNs,
                               ByteBuffer* out) const {
  // the length is known once the record is written: room for its longest varint, closed up after
  constexpr size_t kHead = 1 + 4;
  const size_t at = out->size();
  if (!out->Reserve(kHead)) return Unencoded::NoMemory;
  out->Resize(at + kHead);
  const Unencoded why = Encode(rec, size, withArgs, wallOffsetNs, observedNs, out);
  if (why != Unencoded::None) {
    out->Resize(at);
    return why;
  }
  const size_t length = out->size() - at - kHead;
  uint8_t head[kHead];
  uint8_t* p = head;
  *p++ = 0x12;
  PutVarint(p, length);
  const size_t headLength = static_cast<size_t>(p - head);
  memmove(out->data() + at + headLength, out->data() + at + kHead, length);
  memcpy(out->data() + at, head, headLength);
  out->Resize(at + headLength + length);
  return Unencoded::None;
}

bool ByteBuffer::Reserve(size_t n) {
  if (capacity_ - size_ >= n) return true;
  size_t capacity = capacity_ ? capacity_ : 4096;
  while (capacity - size_ < n) capacity *= 2;
  void* grown = realloc(data_, capacity);
  if (!grown) return false;
  data_ = static_cast<uint8_t*>(grown);
  capacity_ = capacity;
  return true;
}

uint8_t* ByteBuffer::Release() {
  uint8_t* data = data_;
  data_ = nullptr;
  size_ = capacity_ = 0;
  return data;
}
