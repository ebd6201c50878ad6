#include "txlog/wal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cairn::txlog {
namespace {

uint32_t Be32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | u[3];
}

// SQLite's WAL checksum: pairs of 32-bit words, big- or little-endian per the magic number.
void Checksum(bool big_endian, const char* data, size_t n, uint32_t* s1, uint32_t* s2) {
  uint32_t a = *s1, b = *s2;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint32_t x, y;
    if (big_endian) {
      x = Be32(data + i);
      y = Be32(data + i + 4);
    } else {
      std::memcpy(&x, data + i, 4);
      std::memcpy(&y, data + i + 4, 4);
    }
    a += x + b;
    b += y + a;
  }
  *s1 = a;
  *s2 = b;
}

Status IoError(const std::string& what, const std::string& path) {
  return Status(Code::kIOError, what + " " + path + ": " + std::strerror(errno));
}

Status PreadAll(int fd, char* buf, size_t n, off_t off, size_t* got) {
  *got = 0;
  while (*got < n) {
    ssize_t r = ::pread(fd, buf + *got, n - *got, off + static_cast<off_t>(*got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status(Code::kIOError, std::string("read of WAL failed: ") + std::strerror(errno));
    }
    if (r == 0) break;
    *got += static_cast<size_t>(r);
  }
  return Status::Ok();
}

}  // namespace

WalFile::~WalFile() { Close(); }

void WalFile::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Status WalFile::EnsureOpen() {
  if (fd_ >= 0) return Status::Ok();
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    if (errno == ENOENT) return Status(Code::kNotFound, "no WAL file " + path_);
    return IoError("cannot open", path_);
  }
  return Status::Ok();
}

Result<bool> WalFile::ReadHeader(WalHeader* h) {
  Status st = EnsureOpen();
  if (st.code() == Code::kNotFound) return false;
  CAIRN_RETURN_IF_ERROR(st);
  char buf[kWalHeaderSize];
  size_t got;
  CAIRN_RETURN_IF_ERROR(PreadAll(fd_, buf, sizeof buf, 0, &got));
  if (got < sizeof buf) return false;
  h->magic = Be32(buf);
  if ((h->magic & 0xFFFFFFFEu) != 0x377f0682u) return false;
  h->page_size = Be32(buf + 8);
  h->checkpoint_seq = Be32(buf + 12);
  h->salt1 = Be32(buf + 16);
  h->salt2 = Be32(buf + 20);
  h->cksum1 = Be32(buf + 24);
  h->cksum2 = Be32(buf + 28);
  return true;
}

Status WalFile::ReadFrames(uint32_t first, uint32_t last, uint32_t page_size, std::string* buf,
                           std::vector<WalFrame>* frames) {
  CAIRN_RETURN_IF_ERROR(EnsureOpen());
  frames->clear();
  if (last < first) return Status::Ok();
  const size_t frame_size = kWalFrameHeaderSize + page_size;
  const size_t n = size_t{last - first + 1};
  buf->resize(n * frame_size);
  size_t got;
  const off_t off = static_cast<off_t>(kWalHeaderSize + size_t{first - 1} * frame_size);
  CAIRN_RETURN_IF_ERROR(PreadAll(fd_, buf->data(), buf->size(), off, &got));
  if (got < buf->size())
    return Status(Code::kIOError, "WAL " + path_ + " is shorter than its committed frames");
  frames->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const char* p = buf->data() + i * frame_size;
    frames->push_back({Be32(p), Be32(p + 4), Be32(p + 8), Be32(p + 12), p + kWalFrameHeaderSize});
  }
  return Status::Ok();
}

Result<uint32_t> WalFile::ValidFrames(const WalHeader& h) {
  CAIRN_RETURN_IF_ERROR(EnsureOpen());
  const bool big = (h.magic & 1) != 0;
  // The header checksum seeds the chain (and must itself be right).
  char hdr[kWalHeaderSize];
  size_t got;
  CAIRN_RETURN_IF_ERROR(PreadAll(fd_, hdr, sizeof hdr, 0, &got));
  if (got < sizeof hdr) return 0u;
  uint32_t s1 = 0, s2 = 0;
  Checksum(big, hdr, 24, &s1, &s2);
  if (s1 != h.cksum1 || s2 != h.cksum2) return 0u;
  const size_t frame_size = kWalFrameHeaderSize + h.page_size;
  std::string chunk;
  const size_t frames_per_chunk = std::max<size_t>(1, (4u << 20) / frame_size);
  uint32_t valid = 0, frame_no = 0;
  for (;;) {
    chunk.resize(frames_per_chunk * frame_size);
    const off_t off = static_cast<off_t>(kWalHeaderSize + size_t{frame_no} * frame_size);
    CAIRN_RETURN_IF_ERROR(PreadAll(fd_, chunk.data(), chunk.size(), off, &got));
    const size_t whole = got / frame_size;
    for (size_t i = 0; i < whole; ++i) {
      const char* p = chunk.data() + i * frame_size;
      if (Be32(p + 8) != h.salt1 || Be32(p + 12) != h.salt2 || Be32(p) == 0) return valid;
      Checksum(big, p, 8, &s1, &s2);
      Checksum(big, p + kWalFrameHeaderSize, h.page_size, &s1, &s2);
      if (s1 != Be32(p + 16) || s2 != Be32(p + 20)) return valid;
      ++frame_no;
      if (Be32(p + 4) != 0) valid = frame_no;
    }
    if (whole < frames_per_chunk) return valid;
  }
}

}  // namespace cairn::txlog
