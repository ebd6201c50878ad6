#include "libsql_sync/protocol.h"

#include <charconv>
#include <cstring>

namespace cairn::libsql_sync {

namespace {

void PutU32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

// A decimal number that fits in 32 bits, digits only.
bool ParseU32(std::string_view s, uint32_t* out) {
  if (s.empty() || s.size() > 10) return false;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

SyncRequest Invalid(std::string why) {
  SyncRequest r;
  r.error = std::move(why);
  return r;
}

// A sync URL given with a trailing slash makes the client ask for "//info".
std::string_view Trim(std::string_view path) {
  while (path.starts_with("//")) path.remove_prefix(1);
  return path;
}

}  // namespace

bool IsSyncPath(std::string_view path) {
  path = Trim(path);
  return path == "/info" || path.starts_with("/export/") || path.starts_with("/sync/");
}

SyncRequest ParseSyncRequest(std::string_view method, std::string_view path) {
  path = Trim(path);
  SyncRequest r;
  if (path == "/info") {
    if (method != "GET") return Invalid("/info accepts only GET");
    r.kind = SyncRequest::Kind::kInfo;
    return r;
  }
  if (path.starts_with("/export/")) {
    if (method != "GET") return Invalid("/export accepts only GET");
    if (!ParseU32(path.substr(8), &r.generation) || r.generation == 0)
      return Invalid("expected /export/{generation} with a generation of at least 1");
    r.kind = SyncRequest::Kind::kExport;
    return r;
  }
  // /sync/{generation}/{start}/{end}[/{baton}]
  std::string_view rest = path.substr(6);
  std::string_view parts[4];
  size_t n = 0;
  while (n < 4) {
    const size_t slash = rest.find('/');
    parts[n++] = rest.substr(0, slash);
    if (slash == std::string_view::npos) {
      rest = {};
      break;
    }
    rest = rest.substr(slash + 1);
  }
  if (!rest.empty() || n < 3)
    return Invalid("expected /sync/{generation}/{start}/{end}, got " + std::string(path));
  if (!ParseU32(parts[0], &r.generation) || !ParseU32(parts[1], &r.start) ||
      !ParseU32(parts[2], &r.end))
    return Invalid("expected /sync/{generation}/{start}/{end} with decimal numbers, got " +
                   std::string(path));
  if (r.generation == 0) return Invalid("generations start at 1");
  if (r.start == 0) return Invalid("frames are numbered from 1");
  if (r.end <= r.start)
    return Invalid("the range [" + std::to_string(r.start) + ", " + std::to_string(r.end) +
                   ") is empty: the end is exclusive");
  if (uint64_t{r.end} - r.start > kMaxRange)
    return Invalid("a range may name at most " + std::to_string(kMaxRange) + " frames");
  if (method == "GET") {
    if (n == 4) return Invalid("a baton goes only with POST /sync");
    r.kind = SyncRequest::Kind::kPull;
  } else if (method == "POST") {
    r.kind = SyncRequest::Kind::kPush;
  } else {
    return Invalid("/sync accepts GET (pull) and POST (push)");
  }
  return r;
}

void PutFrameHeader(char* out, uint32_t pgno, uint32_t size_after) {
  std::memset(out, 0, kFrameHeaderSize);
  PutU32(out, pgno);
  PutU32(out + 4, size_after);
}

uint32_t FramePgno(const char* frame) { return GetU32(frame); }
uint32_t FrameSizeAfter(const char* frame) { return GetU32(frame + 4); }

std::string EmptyDatabaseFile() {
  std::string db(kPageSize, '\0');
  char* h = db.data();
  std::memcpy(h, "SQLite format 3", 16);      // with its terminating NUL
  h[16] = static_cast<char>(kPageSize >> 8);  // page size, big-endian (4096 = 0x1000)
  h[17] = static_cast<char>(kPageSize & 0xff);
  h[18] = 2;                // write version: WAL
  h[19] = 2;                // read version: WAL
  h[20] = 0;                // reserved bytes per page
  h[21] = 64;               // maximum embedded payload fraction
  h[22] = 32;               // minimum embedded payload fraction
  h[23] = 32;               // leaf payload fraction
  PutU32(h + 24, 1);        // file change counter
  PutU32(h + 28, 1);        // database size in pages
  PutU32(h + 44, 4);        // schema format
  PutU32(h + 56, 1);        // text encoding: UTF-8
  PutU32(h + 92, 1);        // version-valid-for (= the change counter: the size above is valid)
  PutU32(h + 96, 3045000);  // SQLite version that wrote it (informational)
  // Page 1's b-tree: an empty table leaf (the schema table).
  h[100] = 0x0d;
  // No freeblock, no cells, the cell content area starts at the end of the page.
  h[105] = static_cast<char>(kPageSize >> 8);
  h[106] = static_cast<char>(kPageSize & 0xff);
  return db;
}

}  // namespace cairn::libsql_sync
