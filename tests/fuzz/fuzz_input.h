// fuzz_input.h — reads a fuzzer's bytes as a stream of small decisions, for
// the targets that build a structured value (a profile, an event stream)
// from them rather than parse the bytes directly (pprof_writer_fuzz.cpp,
// trace_writer_fuzz.cpp). Past the end every read returns zeros, so any
// input, however short, decodes to something; libFuzzer's mutations of a
// byte then change one decision. (clang's FuzzedDataProvider does the same
// but is not there for the gcc build that replays the corpora.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace fuzzin {

class Input final {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}

  bool empty() const { return p_ == end_; }

  uint8_t u8() { return p_ == end_ ? 0 : *p_++; }
  bool flag() { return (u8() & 1) != 0; }

  // below returns a number in [0, n) (n >= 1) from one byte.
  uint32_t below(uint32_t n) { return u8() % n; }

  // bytes_le reads n (<= 8) bytes as a little-endian number.
  uint64_t bytes_le(int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v |= static_cast<uint64_t>(u8()) << (8 * i);
    return v;
  }

  // wide returns a number of 0–8 bytes (the first byte says how many), so
  // small and huge values are equally easy to reach.
  uint64_t wide() { return bytes_le(u8() % 9); }

  // text returns a string: empty, short raw bytes (any byte, invalid UTF-8
  // included), or a short pattern repeated up to `max_long` bytes.
  std::string text(size_t max_long) {
    switch (u8() % 4) {
      case 0:
        return {};
      case 1:
      case 2: {
        size_t n = u8() % 24;
        std::string s;
        for (size_t i = 0; i < n; i++) s += static_cast<char>(u8());
        return s;
      }
      default: {
        std::string unit;
        for (size_t i = 0, n = 1 + u8() % 4; i < n; i++) unit += static_cast<char>(u8());
        size_t len = static_cast<size_t>(bytes_le(3)) % (max_long + 1);
        std::string s;
        s.reserve(len);
        while (s.size() < len) s += unit;
        s.resize(len);
        return s;
      }
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace fuzzin
