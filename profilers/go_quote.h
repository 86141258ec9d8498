// go_quote.h — Go's strconv.Quote, shared by the profiles' text forms and
// gortd's error replies.
#pragma once

#include <string>
#include <string_view>

namespace profilers {

// go_quote returns s quoted as Go's strconv.Quote (fmt's %q) does: '"',
// '\\' and control characters escaped (\n, \t, \x01 …), valid printable
// UTF-8 kept, non-printable code points as \u/\U escapes, invalid bytes as
// \xNN.
std::string go_quote(std::string_view s);

}  // namespace profilers
