#include "objectstore/object_store.h"

#include <string>

#include "objectstore/local_store.h"
#include "objectstore/s3_store.h"

namespace cairn::objectstore {
namespace {

// Length of the well-formed UTF-8 sequence at the start of `s`, or 0 if it is not one (overlong
// forms, surrogates and code points above U+10FFFF are not well-formed).
size_t Utf8SequenceLength(std::string_view s) {
  auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  size_t len;
  unsigned char lo = 0x80, hi = 0xbf;  // range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    if (b0 == 0xe0) lo = 0xa0;
    if (b0 == 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    if (b0 == 0xf0) lo = 0x90;
    if (b0 == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (s.size() < len || byte(1) < lo || byte(1) > hi) return 0;
  for (size_t i = 2; i < len; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return len;
}

// "s3" for "s3://b/p"; "" when `url` does not start with scheme "://" (then it is a path).
std::string_view SchemeOf(std::string_view url) {
  size_t end = url.find("://");
  if (end == std::string_view::npos || end == 0) return {};
  std::string_view scheme = url.substr(0, end);
  for (size_t i = 0; i < scheme.size(); ++i) {
    char c = scheme[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool other = (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
    if (!alpha && (i == 0 || !other)) return {};
  }
  return scheme;
}

}  // namespace

Status ValidateKey(std::string_view key) {
  auto bad = [&](std::string_view why) {
    return Status(Code::kInvalidRequest,
                  "invalid object key '" + std::string(key) + "': " + std::string(why));
  };
  if (key.empty()) return bad("it is empty");
  if (key.size() > 1024) return bad("it is longer than 1024 bytes");
  if (key.front() == '/') return bad("it starts with '/'");
  if (key.back() == '/') return bad("it ends with '/'");
  for (size_t i = 0; i < key.size();) {
    unsigned char c = static_cast<unsigned char>(key[i]);
    if (c < 0x20 || c == 0x7f) return bad("it contains a control character");
    size_t n = Utf8SequenceLength(key.substr(i));
    if (n == 0) return bad("it is not valid UTF-8");
    i += n;
  }
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    std::string_view segment = key.substr(start, end - start);
    if (segment.empty()) return bad("it has an empty segment ('//')");
    if (segment == "." || segment == "..") return bad("it has a '.' or '..' segment");
    if (segment.size() > 255) return bad("a segment is longer than 255 bytes");
    if (segment.starts_with(kReservedSegmentPrefix)) {
      return bad("segments starting with '" + std::string(kReservedSegmentPrefix) +
                 "' are reserved");
    }
    start = end + 1;
  }
  return Status::Ok();
}

Result<std::unique_ptr<ObjectStore>> Open(std::string_view url, StoreOptions options) {
  if (url.empty()) return Status(Code::kInvalidRequest, "empty object store URL");
  if (url.starts_with("s3://")) {
    CAIRN_ASSIGN_OR_RETURN(S3Location location, ParseS3Url(url, &options));
    FillS3OptionsFromEnvironment(&options);
    CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<S3Store> store,
                           S3Store::Create(std::move(location), std::move(options)));
    return std::unique_ptr<ObjectStore>(std::move(store));
  }
  if (std::string_view scheme = SchemeOf(url); !scheme.empty() && scheme != "file") {
    return Status(Code::kInvalidRequest, "unknown object store scheme '" + std::string(scheme) +
                                             "' in " + std::string(url) +
                                             ": use s3://bucket/prefix, file:///dir or a path");
  }
  CAIRN_ASSIGN_OR_RETURN(std::string root, LocalRootFromUrl(url));
  return std::unique_ptr<ObjectStore>(std::make_unique<LocalStore>(std::move(root)));
}

namespace {
class StringBlob final : public Blob {
 public:
  explicit StringBlob(std::string s) : s_(std::move(s)) {}
  std::string_view data() const override { return s_; }

 private:
  std::string s_;
};
}  // namespace

std::shared_ptr<const Blob> Blob::FromString(std::string s) {
  return std::make_shared<const StringBlob>(std::move(s));
}

Result<std::shared_ptr<const Blob>> ObjectStore::GetBlob(std::string_view key) {
  CAIRN_ASSIGN_OR_RETURN(std::string s, Get(key));
  return Blob::FromString(std::move(s));
}

}  // namespace cairn::objectstore
