// libSQL's HTTP sync protocol, the part that is pure data: the requests an embedded replica sends
// (`GET /info`, `GET /export/{generation}`, `GET|POST /sync/{generation}/{start}/{end}[/{baton}]`),
// the frames it applies (SQLite WAL frame headers, big-endian) and the small database file an
// export answers with. docs/embedded-replicas.md describes the protocol as Cairn serves it.
//
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::libsql_sync {

// The client applies 4 KiB pages only (libsql's sync code has the size built in).
inline constexpr uint32_t kPageSize = 4096;
inline constexpr uint32_t kFrameHeaderSize = 24;
inline constexpr uint32_t kFrameSize = kFrameHeaderSize + kPageSize;
// The widest range a request may name (frames); answers carry at most kMaxFramesPerAnswer.
inline constexpr uint64_t kMaxRange = 1u << 20;
inline constexpr uint32_t kMaxFramesPerAnswer = 2048;

struct SyncRequest {
  enum class Kind { kInfo, kExport, kPull, kPush, kInvalid } kind = Kind::kInvalid;
  uint32_t generation = 0;
  uint32_t start = 0;  // first frame wanted (1-based)
  uint32_t end = 0;    // one past the last frame wanted
  std::string error;   // kInvalid: why
};

// True when `path` is one of the protocol's endpoints (whatever the method and the rest). Both
// functions take "//info" for "/info": the client appends paths to the sync URL as given.
bool IsSyncPath(std::string_view path);

// Parses a request for one of the endpoints (IsSyncPath). Malformed numbers, a range that is
// empty, reversed, starts at 0 or is wider than kMaxRange, and wrong methods give kInvalid.
SyncRequest ParseSyncRequest(std::string_view method, std::string_view path);

// Writes a frame header: page number, and the database size in pages after a commit frame (0 for
// the other frames of a transaction). The salts and checksums, which the client recomputes, are 0.
void PutFrameHeader(char* out, uint32_t pgno, uint32_t size_after);
uint32_t FramePgno(const char* frame);
uint32_t FrameSizeAfter(const char* frame);

// A valid one-page database — empty schema, 4 KiB pages, WAL mode — that an export answers
// with: the client receives the database itself as the generation's first frames.
std::string EmptyDatabaseFile();

}  // namespace cairn::libsql_sync
