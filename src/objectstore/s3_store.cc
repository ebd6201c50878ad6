#include "objectstore/s3_store.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <mutex>
#include <pugixml.hpp>
#include <random>
#include <thread>

#include "base/hex.h"
#include "base/sha256.h"
#include "net/http_client.h"

namespace cairn::objectstore {

namespace s3_internal {

std::string UriEncode(std::string_view s, bool keep_slash) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += HexDigit(c >> 4, HexCase::kUpper);
      out += HexDigit(c, HexCase::kUpper);
    }
  }
  return out;
}

std::string CanonicalQuery(std::vector<std::pair<std::string, std::string>> params) {
  for (auto& [name, value] : params) {
    name = UriEncode(name, false);
    value = UriEncode(value, false);
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

}  // namespace s3_internal

namespace {

using s3_internal::UriEncode;

constexpr size_t kMaxPooledClients = 8;
constexpr std::chrono::milliseconds kMaxBackoff{10000};

Result<std::string> PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || HexValue(s[i + 1]) < 0 || HexValue(s[i + 2]) < 0) {
      return Status(Code::kInvalidRequest, "bad percent-escape in '" + std::string(s) + "'");
    }
    out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
    i += 2;
  }
  return out;
}

// An endpoint URL taken apart: scheme://host[:port][/base/path].
struct Endpoint {
  std::string scheme;     // http or https
  std::string authority;  // host[:port], as written
  std::string base_path;  // "" or "/..." without a trailing '/'
  bool host_is_ip = false;

  std::string ToString() const { return scheme + "://" + authority + base_path; }
};

Result<Endpoint> ParseEndpoint(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Status(Code::kInvalidRequest,
                  "bad S3 endpoint '" + std::string(url) + "': " + std::string(why));
  };
  Endpoint ep;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("expected http://host[:port] or https://...");
  ep.scheme = std::string(url.substr(0, sep));
  if (ep.scheme != "http" && ep.scheme != "https") return bad("the scheme must be http or https");
  std::string_view rest = url.substr(sep + 3);
  if (rest.find_first_of("?#@ ") != std::string_view::npos) {
    return bad("no user, query or fragment allowed");
  }
  size_t slash = rest.find('/');
  ep.authority = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) ep.base_path = std::string(rest.substr(slash));
  while (!ep.base_path.empty() && ep.base_path.back() == '/') ep.base_path.pop_back();
  if (ep.authority.empty()) return bad("no host");
  std::string host = ep.authority;
  if (host.front() == '[') {
    ep.host_is_ip = true;  // an IPv6 literal
  } else {
    host = host.substr(0, host.find(':'));
    in_addr addr;
    ep.host_is_ip = inet_pton(AF_INET, host.c_str(), &addr) == 1;
  }
  return ep;
}

// What one attempt gave: an answer, or why none came (kUnavailable: worth another attempt).
using Attempted = Result<net::HttpAnswer>;

bool IsRetryable(const Attempted& r) {
  if (!r.ok()) return r.status().code() == Code::kUnavailable;
  return r->status >= 500 || r->status == 429;
}

std::string Explain(const Attempted& r) {
  if (!r.ok()) return r.status().message();
  return "HTTP " + std::to_string(r->status);
}

// S3's <Error><Code>..</Code><Message>..</Message></Error>, when the body is one.
struct S3Error {
  std::string code;
  std::string message;
};

S3Error ParseError(const std::string& body) {
  S3Error e;
  pugi::xml_document doc;
  if (doc.load_buffer(body.data(), body.size())) {
    pugi::xml_node error = doc.child("Error");
    e.code = error.child_value("Code");
    e.message = error.child_value("Message");
  }
  return e;
}

// The Status for a final (not retried) non-2xx answer.
Status ErrorFromResponse(const net::HttpAnswer& r, const std::string& what) {
  S3Error e = ParseError(r.body);
  std::string text = what + " failed: HTTP " + std::to_string(r.status);
  if (!e.code.empty()) text += " " + e.code;
  if (!e.message.empty()) text += ": " + e.message;
  if (r.status >= 300 && r.status < 400) {
    text += " (is the region right? S3 redirects requests sent to another region)";
  }
  Code code = Code::kIOError;
  if (r.status == 404) code = Code::kNotFound;
  if (r.status == 403 || r.status == 401) code = Code::kPermissionDenied;
  return Status(code, text);
}

}  // namespace

Result<S3Location> ParseS3Url(std::string_view url, StoreOptions* options) {
  auto bad = [&](std::string_view why) {
    return Status(Code::kInvalidRequest, "bad S3 URL '" + std::string(url) +
                                             "': " + std::string(why) +
                                             " (expected s3://bucket/prefix?endpoint=...)");
  };
  if (!url.starts_with("s3://")) return bad("it does not start with s3://");
  std::string_view rest = url.substr(5);
  std::string_view query;
  if (size_t q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.find('#') != std::string_view::npos) return bad("it has a fragment");
  size_t slash = rest.find('/');
  S3Location loc;
  loc.bucket = std::string(rest.substr(0, slash));
  if (loc.bucket.empty()) return bad("no bucket");
  for (char c : loc.bucket) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return bad("the bucket name may hold only letters, digits, '-', '.' and '_'");
  }
  if (loc.bucket.size() > 255) return bad("the bucket name is too long");
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash + 1);
    while (prefix.ends_with('/')) prefix.remove_suffix(1);
    if (!prefix.empty()) {
      CAIRN_ASSIGN_OR_RETURN(std::string decoded, PercentDecode(prefix));
      if (Status st = ValidateKey(decoded); !st.ok()) {
        return bad("the prefix breaks the key rules: " + st.message());
      }
      loc.prefix = decoded + "/";
    }
  }
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (param.empty()) continue;
    size_t eq = param.find('=');
    std::string_view name = param.substr(0, eq);
    CAIRN_ASSIGN_OR_RETURN(
        std::string value,
        PercentDecode(eq == std::string_view::npos ? std::string_view() : param.substr(eq + 1)));
    if (name == "endpoint") {
      options->endpoint = value;
    } else if (name == "region") {
      options->region = value;
    } else if (name == "path_style") {
      if (value == "true" || value == "1") {
        options->path_style = true;
      } else if (value == "false" || value == "0") {
        options->path_style = false;
      } else {
        return bad("path_style must be true or false");
      }
    } else {
      return bad("unknown parameter '" + std::string(name) +
                 "' (known: endpoint, region, path_style)");
    }
  }
  return loc;
}

void FillS3OptionsFromEnvironment(StoreOptions* options,
                                  const std::function<const char*(const char*)>& getenv) {
  auto first = [&](std::initializer_list<const char*> names) -> std::string {
    for (const char* name : names) {
      const char* v = getenv(name);
      if (v != nullptr && *v != '\0') return v;
    }
    return "";
  };
  if (options->endpoint.empty())
    options->endpoint = first({"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"});
  if (options->region.empty()) options->region = first({"AWS_REGION", "AWS_DEFAULT_REGION"});
  if (options->region.empty()) options->region = "us-east-1";
  // Credentials come as a set: never mix a key given in options with a secret from elsewhere.
  if (options->access_key_id.empty() && options->secret_access_key.empty()) {
    options->access_key_id = first({"AWS_ACCESS_KEY_ID"});
    options->secret_access_key = first({"AWS_SECRET_ACCESS_KEY"});
    if (options->session_token.empty()) options->session_token = first({"AWS_SESSION_TOKEN"});
  }
  if (options->ca_file.empty()) options->ca_file = first({"AWS_CA_BUNDLE"});
}

struct S3Store::Impl {
  S3Location location;
  StoreOptions options;
  Endpoint endpoint;
  bool path_style = false;
  net::HttpClientOptions http_options;  // user agent, timeouts, CA bundle, SigV4

  std::mutex pool_mu;
  std::vector<std::unique_ptr<net::HttpClient>> pool;  // idle clients, guarded by pool_mu

  std::string Describe() const {
    std::string prefix = location.prefix;
    if (!prefix.empty()) prefix.pop_back();
    return "s3://" + location.bucket + (prefix.empty() ? "" : "/" + prefix) + " (" +
           endpoint.ToString() + ")";
  }

  // The URL of `object_path` (the full object name in the bucket, "" for the bucket itself).
  std::string Url(std::string_view object_path, std::string_view query) const {
    std::string url = endpoint.scheme + "://";
    if (path_style) {
      url += endpoint.authority + endpoint.base_path + "/" + UriEncode(location.bucket, false);
      if (!object_path.empty()) url += "/" + UriEncode(object_path, true);
    } else {
      url += location.bucket + "." + endpoint.authority + endpoint.base_path + "/" +
             UriEncode(object_path, true);
    }
    if (!query.empty()) url += "?" + std::string(query);
    return url;
  }

  std::unique_ptr<net::HttpClient> Acquire() {
    {
      std::lock_guard lk(pool_mu);
      if (!pool.empty()) {
        std::unique_ptr<net::HttpClient> client = std::move(pool.back());
        pool.pop_back();
        return client;
      }
    }
    return std::make_unique<net::HttpClient>("", "", http_options);
  }

  void Release(std::unique_ptr<net::HttpClient> client) {
    std::lock_guard lk(pool_mu);
    if (pool.size() < kMaxPooledClients) pool.push_back(std::move(client));
  }

  Attempted Attempt(std::string_view method, const std::string& url, std::string_view body) {
    const bool is_put = method == "PUT";
    std::vector<std::string> fields;
    // libcurl 7.88 takes the payload hash for the signature from this header when present, and
    // does not send it by itself; S3 requires it on every signed request.
    fields.push_back("x-amz-content-sha256: " +
                     (is_put ? Sha256Hex(body) : std::string(s3_internal::kEmptyPayloadSha256)));
    if (!options.session_token.empty())
      fields.push_back("x-amz-security-token: " + options.session_token);
    if (is_put) fields.push_back("Content-Type: application/octet-stream");
    std::unique_ptr<net::HttpClient> client = Acquire();
    Attempted r = client->Send({.method = method,
                                .target = url,
                                .body = body,
                                .headers = fields,
                                .timeout = options.request_timeout});
    Release(std::move(client));
    return r;
  }

  // Runs the request with retries. Returns the first answer that is not to be retried (whatever
  // its HTTP status), kUnavailable when every attempt failed on something retryable, kIOError for
  // a transport error that retrying cannot fix.
  Result<net::HttpAnswer> Perform(std::string_view method, const std::string& url,
                                  std::string_view body, const std::string& what) {
    thread_local std::mt19937_64 rng(std::random_device{}());
    const int attempts = std::max(1, options.max_attempts);
    std::chrono::milliseconds backoff = options.initial_backoff;
    for (int attempt = 1;; ++attempt) {
      Attempted r = Attempt(method, url, body);
      if (!IsRetryable(r)) {
        if (!r.ok()) return Status(Code::kIOError, what + " failed: " + Explain(r));
        return r;
      }
      if (attempt >= attempts) {
        std::string text = what + " failed after " + std::to_string(attempt) +
                           (attempt == 1 ? " attempt: " : " attempts: ") + Explain(r);
        if (r.ok()) {
          S3Error e = ParseError(r->body);
          if (!e.code.empty()) text += " " + e.code;
          if (!e.message.empty()) text += ": " + e.message;
        }
        return Status(Code::kUnavailable, text);
      }
      // Equal jitter: half the backoff for sure, the other half at random.
      auto half = std::max<int64_t>(backoff.count() / 2, 0);
      std::uniform_int_distribution<int64_t> jitter(0, half);
      std::chrono::milliseconds delay(half + jitter(rng));
      spdlog::warn("{} failed (attempt {}/{}): {}; retrying in {} ms", what, attempt, attempts,
                   Explain(r), delay.count());
      std::this_thread::sleep_for(delay);
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  std::string What(std::string_view op, std::string_view key) const {
    return "S3 " + std::string(op) + " '" + std::string(key) + "' in " + Describe();
  }
};

S3Store::S3Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
S3Store::~S3Store() = default;

Result<std::unique_ptr<S3Store>> S3Store::Create(S3Location location, StoreOptions options) {
  auto impl = std::make_unique<Impl>();
  if (options.region.empty()) options.region = "us-east-1";
  for (char c : options.region) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok) return Status(Code::kInvalidRequest, "bad S3 region '" + options.region + "'");
  }
  std::string endpoint = options.endpoint.empty()
                             ? "https://s3." + options.region + ".amazonaws.com"
                             : options.endpoint;
  CAIRN_ASSIGN_OR_RETURN(impl->endpoint, ParseEndpoint(endpoint));
  if (options.list_page_size < 1 || options.list_page_size > 1000) {
    return Status(Code::kInvalidRequest, "list_page_size must be between 1 and 1000");
  }
  if (!options.access_key_id.empty() && options.secret_access_key.empty()) {
    return Status(Code::kInvalidRequest, "S3 access key id given without a secret access key");
  }
  impl->path_style = options.path_style || impl->endpoint.host_is_ip;
  impl->http_options = {
      .user_agent = "cairn-objectstore",
      .connect_timeout = options.connect_timeout,
      .expect_continue = true,  // a refused PUT of a large object is not sent for nothing
      .ca_file = options.ca_file,
      .path_as_is = true,  // the path is already canonical; sign it as is
      .aws_sigv4 = {.provider = "aws:amz:" + options.region + ":s3",
                    .key_id = options.access_key_id,
                    .secret = options.secret_access_key},
  };
  impl->location = std::move(location);
  impl->options = std::move(options);
  return std::unique_ptr<S3Store>(new S3Store(std::move(impl)));
}

std::string S3Store::Describe() const { return impl_->Describe(); }

std::string S3Store::ObjectUrl(std::string_view key) const {
  return impl_->Url(impl_->location.prefix + std::string(key), "");
}

Status S3Store::Put(std::string_view key, std::string_view data) {
  CAIRN_RETURN_IF_ERROR(ValidateKey(key));
  std::string what = impl_->What("PUT", key);
  CAIRN_ASSIGN_OR_RETURN(net::HttpAnswer r, impl_->Perform("PUT", ObjectUrl(key), data, what));
  if (r.status / 100 != 2) return ErrorFromResponse(r, what);
  return Status::Ok();
}

Result<std::string> S3Store::Get(std::string_view key) {
  CAIRN_RETURN_IF_ERROR(ValidateKey(key));
  std::string what = impl_->What("GET", key);
  CAIRN_ASSIGN_OR_RETURN(net::HttpAnswer r, impl_->Perform("GET", ObjectUrl(key), {}, what));
  if (r.status / 100 != 2) return ErrorFromResponse(r, what);
  return std::move(r.body);
}

Status S3Store::Delete(std::string_view key) {
  CAIRN_RETURN_IF_ERROR(ValidateKey(key));
  std::string what = impl_->What("DELETE", key);
  CAIRN_ASSIGN_OR_RETURN(net::HttpAnswer r, impl_->Perform("DELETE", ObjectUrl(key), {}, what));
  if (r.status / 100 == 2) return Status::Ok();
  // S3 answers 204 for a missing key; some servers say 404 NoSuchKey. A missing bucket is an error.
  if (r.status == 404 && ParseError(r.body).code != "NoSuchBucket") return Status::Ok();
  return ErrorFromResponse(r, what);
}

Result<std::vector<ObjectInfo>> S3Store::List(std::string_view prefix) {
  const std::string& root = impl_->location.prefix;
  const std::string full_prefix = root + std::string(prefix);
  std::string what = impl_->What("LIST", prefix);
  std::vector<ObjectInfo> out;
  std::string token;
  for (;;) {
    std::vector<std::pair<std::string, std::string>> params = {
        {"list-type", "2"}, {"max-keys", std::to_string(impl_->options.list_page_size)}};
    if (!full_prefix.empty()) params.emplace_back("prefix", full_prefix);
    if (!token.empty()) params.emplace_back("continuation-token", token);
    std::string url = impl_->Url("", s3_internal::CanonicalQuery(std::move(params)));
    CAIRN_ASSIGN_OR_RETURN(net::HttpAnswer r, impl_->Perform("GET", url, {}, what));
    if (r.status / 100 != 2) return ErrorFromResponse(r, what);

    pugi::xml_document doc;
    pugi::xml_parse_result parsed = doc.load_buffer(r.body.data(), r.body.size());
    pugi::xml_node result = doc.child("ListBucketResult");
    if (!parsed || !result) {
      return Status(Code::kIOError, what + ": the answer is not a ListBucketResult");
    }
    for (pugi::xml_node c = result.child("Contents"); c; c = c.next_sibling("Contents")) {
      std::string_view key = c.child_value("Key");
      if (!key.starts_with(full_prefix)) continue;
      key.remove_prefix(root.size());
      // Objects other tools made with names we would refuse (folder markers "a/", ...) are not
      // ours: leave them out rather than hand out keys that Get would reject.
      if (!ValidateKey(key).ok()) continue;
      out.push_back(
          ObjectInfo{std::string(key), std::strtoull(c.child_value("Size"), nullptr, 10)});
    }
    if (std::string_view(result.child_value("IsTruncated")) != "true") break;
    std::string next = result.child_value("NextContinuationToken");
    if (next.empty() || next == token) {
      return Status(Code::kIOError, what + ": a truncated listing without a continuation token");
    }
    token = std::move(next);
  }
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

}  // namespace cairn::objectstore
