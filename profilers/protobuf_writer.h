// protobuf_writer.h — the few protocol-buffer encodings profile.proto needs,
// written by hand as Go's runtime/pprof/protobuf.go does: varints (wire
// type 0), length-delimited fields (wire type 2: strings, embedded
// messages, packed repeated integers). No reflection, no schema: the
// caller names each field by its number.
//
// Embedded messages are built in a separate ProtoWriter and appended with
// message(), which prefixes the length; Go instead reserves and shifts
// bytes in one buffer — the copy here is the simpler choice at profile
// sizes.
//
// Like Go's int64Opt/uint64Opt, the *_opt writers skip zero values (a
// proto3 reader treats an absent scalar as 0).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace profilers::detail {

class ProtoWriter final {
 public:
  // varint appends x in base-128, low group first.
  void varint(uint64_t x) {
    while (x >= 0x80) {
      data_ += static_cast<char>((x & 0x7f) | 0x80);
      x >>= 7;
    }
    data_ += static_cast<char>(x);
  }

  // uint64 appends field `tag` as a varint, even if x is 0.
  void uint64(int tag, uint64_t x) {
    key(tag, 0);
    varint(x);
  }
  void uint64_opt(int tag, uint64_t x) {
    if (x != 0) uint64(tag, x);
  }
  // int64_opt appends a non-zero int64 (negative values take ten bytes,
  // two's complement, as protobuf's int64 does).
  void int64_opt(int tag, int64_t x) {
    if (x != 0) uint64(tag, static_cast<uint64_t>(x));
  }
  void bool_opt(int tag, bool b) {
    if (b) uint64(tag, 1);
  }

  // packed appends a repeated integer field in packed form (one
  // length-delimited run of varints); nothing for an empty list.
  template <class Int>
  void packed(int tag, const std::vector<Int>& xs) {
    if (xs.empty()) return;
    ProtoWriter run;
    for (Int x : xs) run.varint(static_cast<uint64_t>(x));
    bytes(tag, run.data_);
  }

  // bytes appends a length-delimited field (a string, or raw bytes).
  void bytes(int tag, std::string_view s) {
    key(tag, 2);
    varint(s.size());
    data_.append(s);
  }

  // message appends the embedded message m as field `tag`.
  void message(int tag, const ProtoWriter& m) { bytes(tag, m.data_); }

  const std::string& data() const { return data_; }
  void clear() { data_.clear(); }

 private:
  void key(int tag, int wire_type) {
    varint(static_cast<uint64_t>(tag) << 3 | static_cast<uint64_t>(wire_type));
  }

  std::string data_;
};

}  // namespace profilers::detail
