#include "hrana/streams.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>
#include <vector>

#include "base/base64.h"

namespace cairn::hrana {
namespace {

constexpr size_t kMacBytes = 16;
constexpr size_t kBatonBytes = 8 + 8 + kMacBytes;
constexpr size_t kMaxRememberedExpired = 100'000;

void PutU64(unsigned char* p, uint64_t v) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<unsigned char>(v & 0xff);
    v >>= 8;
  }
}
uint64_t GetU64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

Status Invalid() { return Status(Code::kStreamInvalid, "Received an invalid baton"); }
Status Reused() {
  return Status(Code::kStreamInvalid, "Received a baton that has already been used");
}

}  // namespace

StreamTable::StreamTable(Clock* clock, std::chrono::milliseconds idle_timeout, size_t max_streams)
    : clock_(clock),
      idle_micros_(std::chrono::duration_cast<std::chrono::microseconds>(idle_timeout).count()),
      max_streams_(max_streams) {
  if (RAND_bytes(key_, sizeof key_) != 1) std::abort();  // no randomness: cannot run safely
}

StreamTable::~StreamTable() { CloseAll(); }

void StreamTable::Mac(uint64_t id, uint64_t seq, std::string_view db, unsigned char out[32]) const {
  std::vector<unsigned char> msg(16 + db.size());
  PutU64(msg.data(), id);
  PutU64(msg.data() + 8, seq);
  std::memcpy(msg.data() + 16, db.data(), db.size());
  unsigned int len = 32;
  HMAC(EVP_sha256(), key_, sizeof key_, msg.data(), msg.size(), out, &len);
}

std::string StreamTable::MakeBaton(uint64_t id, uint64_t seq, std::string_view db) const {
  unsigned char raw[kBatonBytes];
  PutU64(raw, id);
  PutU64(raw + 8, seq);
  unsigned char mac[32];
  Mac(id, seq, db, mac);
  std::memcpy(raw + 16, mac, kMacBytes);
  std::string out;
  Base64UrlEncode(std::string_view(reinterpret_cast<char*>(raw), sizeof raw), &out);
  return out;
}

uint64_t StreamTable::NewId() {
  std::lock_guard lk(mu_);
  return next_id_++;
}

Result<std::unique_ptr<Stream>> StreamTable::Checkout(std::string_view baton, std::string_view db) {
  auto raw = Base64Decode(baton);
  if (!raw || raw->size() != kBatonBytes) return Invalid();
  const auto* p = reinterpret_cast<const unsigned char*>(raw->data());
  uint64_t id = GetU64(p), seq = GetU64(p + 8);
  unsigned char mac[32];
  Mac(id, seq, db, mac);
  if (CRYPTO_memcmp(mac, p + 16, kMacBytes) != 0) return Invalid();
  std::lock_guard lk(mu_);
  auto it = streams_.find(id);
  if (it == streams_.end()) {
    if (expired_.count(id))
      return Status(Code::kStreamExpired, "The stream has expired due to inactivity");
    // A valid MAC for a stream not in the table: in use by another request, or closed.
    return id < next_id_ ? Reused() : Invalid();
  }
  if (it->second->seq != seq) return Reused();
  std::unique_ptr<Stream> s = std::move(it->second);
  streams_.erase(it);
  return s;
}

Result<std::string> StreamTable::Return(std::unique_ptr<Stream> stream) {
  stream->last_used = clock_->MonotonicMicros();
  stream->seq++;
  std::string baton = MakeBaton(stream->id, stream->seq, stream->db);
  {
    std::lock_guard lk(mu_);
    if (streams_.size() < max_streams_) {
      streams_.emplace(stream->id, std::move(stream));
      return baton;
    }
  }
  stream->session.reset();  // closes: rolls back
  return Status(Code::kUnavailable, "too many open streams on this server; try again later");
}

void StreamTable::Sweep() {
  const int64_t now = clock_->MonotonicMicros();
  std::vector<std::unique_ptr<Stream>> dead;
  {
    std::lock_guard lk(mu_);
    for (auto it = streams_.begin(); it != streams_.end();) {
      if (now - it->second->last_used > idle_micros_) {
        expired_[it->first] = now;
        expired_order_.push_back(it->first);
        dead.push_back(std::move(it->second));
        it = streams_.erase(it);
      } else {
        ++it;
      }
    }
    // Remember expired ids for a while (bounded), then forget them.
    while (!expired_order_.empty() &&
           (expired_order_.size() > kMaxRememberedExpired ||
            now - expired_[expired_order_.front()] > int64_t{300'000'000})) {
      expired_.erase(expired_order_.front());
      expired_order_.pop_front();
    }
  }
  dead.clear();  // sessions close outside the lock
}

void StreamTable::CloseAll() {
  std::unordered_map<uint64_t, std::unique_ptr<Stream>> all;
  {
    std::lock_guard lk(mu_);
    all.swap(streams_);
  }
}

size_t StreamTable::size() const {
  std::lock_guard lk(mu_);
  return streams_.size();
}

}  // namespace cairn::hrana
