// gortd_units_test.cpp — unit tests of gortd's pure parts against Go's
// behaviour: Go durations (time.ParseDuration / Duration.String), %q
// quoting, url.Values parsing, strconv-style parameters and their 400
// texts, GOMEMLIMIT byte counts, GODEBUG settings, request targets, basic
// auth (and its failed-login limiter) and routing.
// Expected values were produced by Go 1.19.
#define BOOST_TEST_MODULE gortd_units_test
#include <boost/test/unit_test.hpp>

#include <boost/asio/error.hpp>
#include <boost/beast/http/error.hpp>

#include <cstdint>
#include <string>

#include "gc/knobs.h"
#include "runtime/gort.h"
#include "service/auth.h"
#include "service/auth_limiter.h"
#include "service/connection.h"
#include "service/duration.h"
#include "service/params.h"
#include "service/request_pipeline.h"
#include "service/request_target.h"
#include "service/router.h"

using namespace gortd;

BOOST_AUTO_TEST_CASE(format_go_duration_matches_go) {
  const std::pair<int64_t, const char*> cases[] = {
      {0, "0s"}, {1, "1ns"}, {999, "999ns"}, {1000, "1µs"}, {1500, "1.5µs"}, {999999, "999.999µs"},
      {1000000, "1ms"}, {1234567, "1.234567ms"}, {142371289, "142.371289ms"}, {999999999, "999.999999ms"},
      {1000000000, "1s"}, {1500000000, "1.5s"}, {61000000000, "1m1s"}, {3600000000000, "1h0m0s"},
      {3723004005006, "1h2m3.004005006s"}, {-1500, "-1.5µs"}, {-2000000000, "-2s"},
  };
  for (auto [ns, want] : cases) BOOST_TEST(format_go_duration(ns) == want, ns);
}

BOOST_AUTO_TEST_CASE(parse_go_duration_matches_go) {
  const std::tuple<const char*, int64_t, bool> cases[] = {
      {"10s", 10000000000, true}, {"1m30s", 90000000000, true}, {"250ms", 250000000, true},
      {"1.5h", 5400000000000, true}, {"0", 0, true}, {"1us", 1000, true}, {"1µs", 1000, true},
      {"2h45m", 9900000000000, true}, {".5s", 500000000, true}, {"1.s", 1000000000, true},
      {"-3s", -3000000000, true}, {"+4ms", 4000000, true}, {"1e3s", -1, false}, {"", -1, false},
      {"s", -1, false}, {"10", -1, false}, {"1d", -1, false}, {"3m2.5s7ns", 182500000007, true},
  };
  for (auto [s, ns, ok] : cases) {
    auto v = parse_go_duration(s);
    BOOST_TEST(v.has_value() == ok, s);
    if (ok && v) BOOST_TEST(*v == ns, s);
  }
}

BOOST_AUTO_TEST_CASE(go_quote_matches_strconv_quote) {
  const std::pair<const char*, const char*> cases[] = {
      {"abc", R"("abc")"}, {"a\"b", R"("a\"b")"}, {"a\\b", R"("a\\b")"}, {"tab\there", R"("tab\there")"},
      {"nl\n", R"("nl\n")"}, {"\x01\x7f", R"("\x01\x7f")"}, {"héllo", R"("héllo")"}, {"\xff\xfe", R"("\xff\xfe")"},
      {"日本", R"("日本")"}, {"\u00a0", R"("\u00a0")"},
  };
  for (auto [in, want] : cases) BOOST_TEST(go_quote(in) == want, in);
}

BOOST_AUTO_TEST_CASE(query_parses_like_url_values) {
  Query q = Query::parse("n=1&n=2&a=%41&b=x+y&bad=%zz&k;x=1&m=2&=v&e&p=%&s=a%20b");
  BOOST_TEST(q.get("n") == "1");  // first value wins, as Values.Get
  BOOST_TEST(q.get("a") == "A");
  BOOST_TEST(q.get("b") == "x y");
  BOOST_TEST(!q.has("bad"));      // malformed escape: pair dropped
  BOOST_TEST(!q.has("k;x"));      // ';' separators are rejected
  BOOST_TEST(q.get("m") == "2");
  BOOST_TEST(q.get("") == "v");
  BOOST_TEST(q.has("e"));
  BOOST_TEST(q.get("e") == "");
  BOOST_TEST(!q.has("p"));
  BOOST_TEST(q.get("s") == "a b");
  BOOST_TEST(q.get("absent") == "");
}

BOOST_AUTO_TEST_CASE(query_keeps_go_leniency) {
  // Bytes RFC 3986 does not allow unescaped, which Go's ParseQuery (and so
  // gortd) takes as they are: Boost.URL's strict query_rule would refuse them.
  Query q = Query::parse("x={|}^`[]\\&u=\xe6\x97\xa5&h=a#b&v=1=2&%2B=%2b+&=&+=p");
  BOOST_TEST(q.get("x") == "{|}^`[]\\");
  BOOST_TEST(q.get("u") == "\xe6\x97\xa5");
  BOOST_TEST(q.get("h") == "a#b");   // '#' is no fragment in a request target
  BOOST_TEST(q.get("v") == "1=2");   // cut at the first '='
  BOOST_TEST(q.get("+") == "+ ");    // %2B is a plus, '+' a space
  BOOST_TEST(q.get(" ") == "p");
  BOOST_TEST(q.has(""));
  BOOST_TEST(q.pairs().size() == 7u);
  BOOST_TEST(Query::parse("").empty());
  BOOST_TEST(Query::parse("&&;&a;=1").empty());
  BOOST_TEST(Query::parse("a=%4&a=%%41&a=%g0&a=ok").get("a") == "ok");  // bad escapes drop only their pair
}

BOOST_AUTO_TEST_CASE(percent_decode_matches_go_unescape) {
  BOOST_TEST(*percent_decode("a%20b+c", false) == "a b+c");
  BOOST_TEST(*percent_decode("a%20b+c", true) == "a b c");
  BOOST_TEST(*percent_decode("%41%4a%4A", true) == "AJJ");
  BOOST_TEST(*percent_decode("%00", false) == std::string(1, '\0'));
  BOOST_TEST(*percent_decode("", true) == "");
  for (const char* bad : {"%", "%4", "a%", "%%41", "%g0", "%0g", "ab%4"}) BOOST_TEST(!percent_decode(bad, true), bad);
}

namespace {
// int_error returns the 400 text for v read as an integer in [min, max] ("" if accepted).
std::string int_error(const std::string& v, int64_t min = 0, int64_t max = 10000000000) {
  Query q;
  q.add("n", v);
  ParamReader p(q);
  p.integer("n", 7, min, max);
  return p.ok() ? "" : p.error();
}
std::string float_error(const std::string& v) {
  Query q;
  q.add("p", v);
  ParamReader p(q);
  p.number("p", 1, 0, 1);
  return p.ok() ? "" : p.error();
}
}  // namespace

BOOST_AUTO_TEST_CASE(integer_parameters_follow_parseint) {
  BOOST_TEST(int_error("1") == "");
  BOOST_TEST(int_error("+1") == "");
  BOOST_TEST(int_error("-0") == "");
  for (const char* bad : {" 1", "1 ", "0x10", "1_000", "1.0", "abc", "9223372036854775808", "+", "-"})
    BOOST_TEST(int_error(bad) == "bad parameter n=" + go_quote(bad) + ": not an integer", bad);
  BOOST_TEST(int_error("9223372036854775807") == "bad parameter n=9223372036854775807: out of range [0, 10000000000]");
  BOOST_TEST(int_error("-9223372036854775808", INT64_MIN, 0) == "");
  BOOST_TEST(int_error("-1") == "bad parameter n=-1: out of range [0, 10000000000]");
  Query q;
  q.add("n", "");
  ParamReader p(q);
  BOOST_TEST(p.integer("n", 42, 0, 100) == 42);  // empty means the default
  BOOST_TEST(p.integer("absent", 43, 0, 100) == 43);
  BOOST_TEST(p.ok());
}

BOOST_AUTO_TEST_CASE(float_parameters_follow_parsefloat) {
  for (const char* ok : {"0.5", "1e-3", ".5", "1.", "0x1p-2", "1_0e-1", "+1", "0"}) BOOST_TEST(float_error(ok) == "", ok);
  for (const char* bad : {"NaN", "0x1", "1e400", " 1", "x", "1__0", "_1"})
    BOOST_TEST(float_error(bad) == "bad parameter p=" + go_quote(bad) + ": not a number", bad);
  BOOST_TEST(float_error("inf") == "bad parameter p=inf: out of range [0, 1]");
  BOOST_TEST(float_error("2") == "bad parameter p=2: out of range [0, 1]");
  BOOST_TEST(float_error("-0.5") == "bad parameter p=-0.5: out of range [0, 1]");
}

BOOST_AUTO_TEST_CASE(first_parameter_error_wins) {
  Query q = Query::parse("a=x&b=-1");
  ParamReader p(q);
  p.integer("a", 0, 0, 10);
  p.integer("b", 0, 0, 10);
  BOOST_TEST(p.error() == R"(bad parameter a="x": not an integer)");
}

BOOST_AUTO_TEST_CASE(byte_counts_follow_gomemlimit) {
  BOOST_TEST(*gc::parse_memory_limit("104857600") == 104857600);
  BOOST_TEST(*gc::parse_memory_limit("100MiB") == 104857600);
  BOOST_TEST(*gc::parse_memory_limit("1KiB") == 1024);
  BOOST_TEST(*gc::parse_memory_limit("2GiB") == int64_t{2} << 30);
  BOOST_TEST(*gc::parse_memory_limit("1TiB") == int64_t{1} << 40);
  BOOST_TEST(*gc::parse_memory_limit("7B") == 7);
  BOOST_TEST(*gc::parse_memory_limit("off") == INT64_MAX);
  for (const char* bad : {"", "B", "-1", "1MB", "1 MiB", "x", "9999999999TiB"}) BOOST_TEST(!gc::parse_memory_limit(bad), bad);
  // The environment follows the runtime's parseByteCount: no '+' (the
  // peer's strconv.ParseInt takes one), "" is off, "-0" is 0.
  BOOST_TEST(*gc::parse_memory_limit("+1KiB") == 1024);
  BOOST_TEST(!gc::parse_gomemlimit("+1KiB"));
  BOOST_TEST(*gc::parse_gomemlimit("") == INT64_MAX);
  BOOST_TEST(*gc::parse_gomemlimit("off") == INT64_MAX);
  BOOST_TEST(*gc::parse_gomemlimit("-0") == 0);
  BOOST_TEST(*gc::parse_gomemlimit("8388607TiB") == int64_t{8388607} << 40);
  BOOST_TEST(!gc::parse_gomemlimit("8388608TiB"));
  BOOST_TEST(*gc::parse_gomemlimit("9223372036854775807B") == INT64_MAX);
  // runtime.atoi64 reads "-" as 0: Go takes GOMEMLIMIT=-KiB as 0 and
  // GOGC=- as 0, and so does gort (found by the memory_limit fuzzer).
  BOOST_TEST(*gc::parse_gomemlimit("-KiB") == 0);
  BOOST_TEST(!gc::parse_gomemlimit("-"));
  BOOST_TEST(!gc::parse_gomemlimit("-B"));
  BOOST_TEST(!gc::parse_memory_limit("-KiB"));
  BOOST_TEST(gc::parse_gogc("-") == 0);
  BOOST_TEST(gc::parse_gogc("") == 100);
  BOOST_TEST(gc::parse_gogc("+50") == 100);
  BOOST_TEST(gc::parse_gogc("-1") == gc::kGcOff);
  BOOST_TEST(gc::parse_gogc("2147483647") == INT32_MAX);
  BOOST_TEST(gc::parse_gogc("2147483648") == 100);
}

BOOST_AUTO_TEST_CASE(godebug_follows_parsedebugvars) {
  BOOST_TEST(*gort::godebug_lookup("gctrace=1", "gctrace") == 1);
  BOOST_TEST(*gort::godebug_lookup("gctrace=1,schedtrace=1000", "schedtrace") == 1000);
  BOOST_TEST(*gort::godebug_lookup("gctrace=1,gctrace=0", "gctrace") == 0);  // the last one wins
  BOOST_TEST(*gort::godebug_lookup("gctrace=1,gctrace=x", "gctrace") == 1);  // a malformed one is ignored
  BOOST_TEST(*gort::godebug_lookup("gctrace=1,gctrace=2147483648", "gctrace") == 1);  // beyond int32
  BOOST_TEST(*gort::godebug_lookup("schedtrace=-2147483648", "schedtrace") == INT32_MIN);
  BOOST_TEST(*gort::godebug_lookup("gctrace=1,gctrace=-", "gctrace") == 0);  // atoi32("-") is 0 in Go
  for (const char* none : {"", "gctrace", "gctrace=", "gctrace=+1", "gctrace=1x", "gctrace= 1", "gctrace==1",
                           "GCTRACE=1", " gctrace=1", "xgctrace=1", "gctrace.x=1"})
    BOOST_TEST(!gort::godebug_lookup(none, "gctrace"), none);
}

BOOST_AUTO_TEST_CASE(split_target_forms) {
  std::string path;
  std::string_view query;
  BOOST_TEST(split_target("/work?n=1", path, query));
  BOOST_TEST(path == "/work");
  BOOST_TEST(query == "n=1");
  BOOST_TEST(split_target("/a%2Fb%20c", path, query));
  BOOST_TEST(path == "/a/b c");
  BOOST_TEST(query == "");
  BOOST_TEST(split_target("http://host:8080/sleep?ms=1", path, query));
  BOOST_TEST(path == "/sleep");
  BOOST_TEST(query == "ms=1");
  BOOST_TEST(split_target("http://host", path, query));
  BOOST_TEST(path == "/");
  BOOST_TEST(!split_target("work", path, query));
  BOOST_TEST(!split_target("*", path, query));
  BOOST_TEST(!split_target("/%zz", path, query));
  BOOST_TEST(!split_target("", path, query));
}

BOOST_AUTO_TEST_CASE(split_target_edge_cases) {
  std::string path;
  std::string_view query, raw_path;
  BOOST_TEST(split_target("/a+b%2B?q=1+1", path, query, &raw_path));
  BOOST_TEST(path == "/a+b+");  // plus-as-space is for queries only
  BOOST_TEST(query == "q=1+1");
  BOOST_TEST(raw_path == "/a+b%2B");
  BOOST_TEST(split_target("/work?x={}&y=%zz", path, query));  // the query is left raw here
  BOOST_TEST(path == "/work");
  BOOST_TEST(query == "x={}&y=%zz");
  BOOST_TEST(split_target("/w#x|\xe6", path, query));  // Go's ParseRequestURI keeps these
  BOOST_TEST(path == "/w#x|\xe6");
  BOOST_TEST(split_target("/?", path, query));
  BOOST_TEST(path == "/");
  BOOST_TEST(query == "");
  BOOST_TEST(split_target("/a?b?c", path, query));
  BOOST_TEST(query == "b?c");
  BOOST_TEST(split_target("http://u:p@[::1]:80/x?y", path, query, &raw_path));
  BOOST_TEST(path == "/x");
  BOOST_TEST(query == "y");
  BOOST_TEST(raw_path == "/x");
  BOOST_TEST(split_target("https://host/", path, query));
  BOOST_TEST(path == "/");
  BOOST_TEST(!split_target("http://host?x", path, query));  // a query needs a path in absolute form
  BOOST_TEST(!split_target("http://ho{st/x", path, query)); // not a host (Go refuses it too)
  BOOST_TEST(!split_target("http://host:8o/x", path, query));
  BOOST_TEST(!split_target("HTTP://host/x", path, query));
  BOOST_TEST(!split_target("ftp://host/x", path, query));
  BOOST_TEST(!split_target("/a%2", path, query));
  BOOST_TEST(!split_target("/a%2?q", path, query));
}

BOOST_AUTO_TEST_CASE(reply_header_formatting) {
  std::string h;
  Response res;
  res.text("ok\n");
  BOOST_TEST(format_reply_header(res, 11, true, h));
  BOOST_TEST(h == "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 3\r\n\r\n");
  BOOST_TEST(!format_reply_header(res, 11, false, h));
  BOOST_TEST(h.find("\r\nConnection: close\r\n") != std::string::npos);
  BOOST_TEST(format_reply_header(res, 10, true, h));
  BOOST_TEST(h.rfind("HTTP/1.0 200 OK\r\n", 0) == 0);
  BOOST_TEST(h.find("\r\nConnection: keep-alive\r\n") != std::string::npos);
  res.close = true;
  BOOST_TEST(!format_reply_header(res, 11, true, h));
  Response stream;
  stream.stream = [](const Response::StreamWriter&) {};
  BOOST_TEST(format_reply_header(stream, 11, true, h));
  BOOST_TEST(h.find("\r\nTransfer-Encoding: chunked\r\n") != std::string::npos);
  BOOST_TEST(h.find("Content-Length") == std::string::npos);
  BOOST_TEST(!format_reply_header(stream, 10, true, h));  // HTTP/1.0: the close ends the body
  Response odd;
  odd.error(418, "teapot");
  format_reply_header(odd, 11, true, h);
  BOOST_TEST(h.rfind("HTTP/1.1 418 status code 418\r\n", 0) == 0);
}

BOOST_AUTO_TEST_CASE(parse_errors_become_refusals) {
  BOOST_TEST(refusal_for_parse_error(http::error::header_limit)->status == 431u);
  BOOST_TEST(refusal_for_parse_error(http::error::body_limit)->line == "request body too large (limit 1048576 bytes)");
  BOOST_TEST(refusal_for_parse_error(http::error::bad_target)->line == "malformed request: bad target");
  BOOST_TEST(!refusal_for_parse_error(http::error::end_of_stream));
  BOOST_TEST(!refusal_for_parse_error(http::error::partial_message));
  BOOST_TEST(!refusal_for_parse_error(boost::asio::error::connection_reset));
}

BOOST_AUTO_TEST_CASE(basic_auth_checks_credentials) {
  BasicAuth auth("admin:s3cret");
  BOOST_TEST(auth.check("Basic YWRtaW46czNjcmV0"));
  BOOST_TEST(auth.check("basic YWRtaW46czNjcmV0"));
  BOOST_TEST(auth.check("BASIC YWRtaW46czNjcmV0"));
  BOOST_TEST(auth.check("Basic YWRt\r\naW46czNjcmV0"));  // base64.StdEncoding skips CR and LF
  // As Go's parseBasicAuth: exactly one space, padding required.
  BOOST_TEST(!auth.check("basic  YWRtaW46czNjcmV0"));
  BOOST_TEST(!auth.check("Basic\tYWRtaW46czNjcmV0"));
  BOOST_TEST(!auth.check("BasicYWRtaW46czNjcmV0"));
  BOOST_TEST(!auth.check("Basic YWRtaW46czNjcmV0WA=="));  // admin:s3cretX
  BOOST_TEST(!auth.check("Basic YWRtaW46czNjcmU="));      // admin:s3cre
  BOOST_TEST(!auth.check("Bearer YWRtaW46czNjcmV0"));
  BOOST_TEST(!auth.check("Basic !!!"));
  BOOST_TEST(!auth.check(""));
  BOOST_TEST(constant_time_equal("abc", "abc"));
  BOOST_TEST(!constant_time_equal("abc", "abd"));
  BOOST_TEST(!constant_time_equal("ab", "abc"));
  BOOST_TEST(!constant_time_equal("abcd", "abc"));
  BOOST_TEST(constant_time_equal("", ""));
  BOOST_TEST(!constant_time_equal("", "abc"));
  BOOST_TEST(!constant_time_equal("abc", ""));
  BOOST_TEST(!constant_time_equal(std::string("ab\0", 3), "ab"));
  std::string out;
  BOOST_TEST(base64_decode("aGVsbG8=", out));
  BOOST_TEST(out == "hello");
  BOOST_TEST(!base64_decode("a", out));
  // Go's StdEncoding: padding required and only at the end, unused bits ignored.
  BOOST_TEST(base64_decode("YQ==", out));
  BOOST_TEST(out == "a");
  BOOST_TEST(base64_decode("YR==", out));
  BOOST_TEST(out == "a");
  BOOST_TEST(base64_decode("YWI=", out));
  BOOST_TEST(out == "ab");
  BOOST_TEST(base64_decode("", out));
  BOOST_TEST(out.empty());
  for (const char* bad : {"YQ", "YWI", "YQ=", "YQ===", "YQ==YQ==", "Y===", "====", "YW I=", "YWJj\x80"})
    BOOST_TEST(!base64_decode(bad, out), bad);
  BOOST_TEST(base64_encode("") == "");
  BOOST_TEST(base64_encode("a") == "YQ==");
  BOOST_TEST(base64_encode("ab") == "YWI=");
  BOOST_TEST(base64_encode("admin:s3cret") == "YWRtaW46czNjcmV0");
}

BOOST_AUTO_TEST_CASE(failed_auth_limiter_windows_and_bounded_table) {
  const int64_t kSec = 1'000'000'000;
  FailedAuthLimiter l({.max_failures = 3, .window_ns = 60 * kSec, .max_clients = 4});
  ClientKey a = client_key(boost::asio::ip::make_address("192.0.2.1"));
  ClientKey b = client_key(boost::asio::ip::make_address("192.0.2.2"));
  BOOST_TEST(l.refused_for(a, 0) == 0);
  for (int i = 0; i < 3; i++) {
    BOOST_TEST(l.refused_for(a, i * kSec) == 0);
    l.record_failure(a, i * kSec);
  }
  // Refused until the window opened by the first failure ends.
  BOOST_TEST(l.refused_for(a, 10 * kSec) == 50 * kSec);
  BOOST_TEST(l.refused_for(a, 60 * kSec - 1) == 1);
  BOOST_TEST(l.refused_for(b, 10 * kSec) == 0);
  BOOST_TEST(l.refused_for(a, 60 * kSec) == 0);
  BOOST_TEST(l.tracked() == 0u);  // the expired entry is gone
  // Two failures, then the window passes: counting starts afresh.
  l.record_failure(a, 100 * kSec);
  l.record_failure(a, 101 * kSec);
  l.record_failure(a, 170 * kSec);
  BOOST_TEST(l.refused_for(a, 171 * kSec) == 0);
  // The table never holds more than max_clients; the oldest window goes.
  for (int i = 0; i < 100; i++) {
    auto ip = boost::asio::ip::make_address_v4(static_cast<uint32_t>(0x0a000000 + i));
    for (int k = 0; k < 3; k++) l.record_failure(client_key(ip), (200 + i) * kSec);
    BOOST_TEST(l.tracked() <= 4u);
  }
  BOOST_TEST(l.refused_for(client_key(boost::asio::ip::make_address("10.0.0.99")), 300 * kSec) > 0);
  BOOST_TEST(l.refused_for(client_key(boost::asio::ip::make_address("10.0.0.0")), 300 * kSec) == 0);
  // One IPv6 /64 is one client; IPv4-mapped IPv6 is the IPv4 client.
  BOOST_TEST((client_key(boost::asio::ip::make_address("2001:db8::1")) ==
              client_key(boost::asio::ip::make_address("2001:db8::ffff:2"))));
  BOOST_TEST((client_key(boost::asio::ip::make_address("2001:db8::1")) !=
              client_key(boost::asio::ip::make_address("2001:db8:0:1::1"))));
  BOOST_TEST((client_key(boost::asio::ip::make_address("::ffff:192.0.2.1")) == a));
  // No limit at all with max_failures 0.
  FailedAuthLimiter off({.max_failures = 0});
  for (int i = 0; i < 100; i++) off.record_failure(a, 0);
  BOOST_TEST(off.refused_for(a, 0) == 0);
  BOOST_TEST(off.tracked() == 0u);
}

BOOST_AUTO_TEST_CASE(router_matches_exact_prefix_and_methods) {
  Router r;
  auto h = [](const Request&, Response&) {};
  r.add("/work", {http::verb::get}, h);
  r.add("/debug/pprof/", {http::verb::get}, h);
  r.add("/debug/pprof/symbol", {http::verb::get, http::verb::post}, h);
  r.add("/debug/pprof/{profile}", {http::verb::get}, h);
  BOOST_TEST(r.routes()[0].allow == "GET, HEAD");
  BOOST_TEST(r.routes()[2].allow == "GET, POST, HEAD");
  BOOST_TEST(r.match("/work", http::verb::get).kind == RouteMatch::Found);
  BOOST_TEST(r.match("/work", http::verb::head).kind == RouteMatch::Found);
  BOOST_TEST(r.match("/work", http::verb::post).kind == RouteMatch::MethodNotAllowed);
  BOOST_TEST(r.match("/work", http::verb::unknown).kind == RouteMatch::MethodNotAllowed);
  BOOST_TEST(r.match("/work/", http::verb::get).kind == RouteMatch::NotFound);
  BOOST_TEST(r.match("/debug/pprof/", http::verb::get).route->pattern == "/debug/pprof/");
  BOOST_TEST(r.match("/debug/pprof/heap", http::verb::get).route->pattern == "/debug/pprof/{profile}");
  BOOST_TEST(r.match("/debug/pprof/symbol", http::verb::post).route->pattern == "/debug/pprof/symbol");
  BOOST_TEST(r.match("/debug/pprof", http::verb::get).kind == RouteMatch::NotFound);
}
