#include "objectstore/local_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <random>
#include <system_error>

#include "base/hex.h"

namespace cairn::objectstore {
namespace {

std::string ErrnoText(int err) { return std::system_category().message(err); }

Status IoError(std::string_view what, const std::string& path, int err) {
  return Status(Code::kIOError, std::string(what) + " " + path + ": " + ErrnoText(err));
}

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  // Gives up ownership.
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes now and reports close()'s error (which can carry a deferred write error).
  int Close() {
    int rc = ::close(fd_);
    fd_ = -1;
    return rc == 0 ? 0 : errno;
  }

 private:
  int fd_;
};

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Fsyncs `dir`, or, if a concurrent Delete has removed it meanwhile, its nearest existing ancestor
// not above `root` (where that removal is recorded).
Status FsyncDirOrAncestor(std::string dir, const std::string& root) {
  for (;;) {
    Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) {
      if (errno == ENOENT && dir.size() > root.size()) {
        dir = ParentOf(dir);
        continue;
      }
      return IoError("cannot open directory", dir, errno);
    }
    if (::fsync(fd.get()) != 0) return IoError("cannot fsync directory", dir, errno);
    return Status::Ok();
  }
}

std::string Join(const std::string& dir, std::string_view name) {
  std::string out = dir;
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

std::string TempName() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string name(kReservedSegmentPrefix);
  const uint64_t r = rng();
  AppendHex(std::string_view(reinterpret_cast<const char*>(&r), sizeof r), &name);
  return name;
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

// Appends every object under `dir` (whose key prefix is `key_dir`, "" or ending in '/') that
// starts with `prefix`. Directories that vanish meanwhile (a concurrent Delete) are skipped.
Status Walk(const std::string& dir, const std::string& key_dir, std::string_view prefix,
            std::vector<ObjectInfo>* out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT || errno == ENOTDIR) return Status::Ok();
    return IoError("cannot list", dir, errno);
  }
  std::vector<std::pair<std::string, bool>> entries;  // name, is a directory
  errno = 0;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == ".." || name.starts_with(kReservedSegmentPrefix)) continue;
    struct stat st;
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished
    if (S_ISDIR(st.st_mode)) {
      entries.emplace_back(std::string(name), true);
    } else if (S_ISREG(st.st_mode)) {
      std::string key = key_dir + std::string(name);
      if (key.starts_with(prefix) && ValidateKey(key).ok()) {
        out->push_back(ObjectInfo{std::move(key), static_cast<uint64_t>(st.st_size)});
      }
    }
    errno = 0;
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return IoError("cannot list", dir, err);
  for (const auto& [name, is_dir] : entries) {
    std::string sub_key_dir = key_dir + name + "/";
    // Descend only where a key starting with `prefix` can be.
    size_t n = std::min(sub_key_dir.size(), prefix.size());
    if (sub_key_dir.compare(0, n, prefix, 0, n) != 0) continue;
    CAIRN_RETURN_IF_ERROR(Walk(Join(dir, name), sub_key_dir, prefix, out));
  }
  return Status::Ok();
}

}  // namespace

LocalStore::LocalStore(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string LocalStore::PathOf(std::string_view key) const { return Join(root_, key); }

std::string LocalStore::Describe() const { return "file://" + root_; }

Status LocalStore::MakeDirs(const std::string& dir) const {
  // A concurrent Delete may remove a parent we just made (it is empty) before we use it: retry.
  for (int attempt = 0;; ++attempt) {
    struct stat st;
    if (::stat(dir.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) return Status::Ok();
      return Status(Code::kIOError, "cannot create directory " + dir +
                                        ": an object of that name exists (a key cannot also be a "
                                        "prefix of other keys in a directory store)");
    }
    if (errno != ENOENT) return IoError("cannot stat", dir, errno);
    if (dir != "/") CAIRN_RETURN_IF_ERROR(MakeDirs(ParentOf(dir)));
    if (::mkdir(dir.c_str(), 0755) == 0) return FsyncDirOrAncestor(ParentOf(dir), root_);
    // EEXIST: made meanwhile by someone else, check its type; ENOENT: the parent vanished.
    if (errno == EEXIST || (errno == ENOENT && attempt < 3)) continue;
    return IoError("cannot create directory", dir, errno);
  }
}

Status LocalStore::Put(std::string_view key, std::string_view data) {
  CAIRN_RETURN_IF_ERROR(ValidateKey(key));
  const std::string path = PathOf(key);
  const std::string dir = ParentOf(path);
  // A concurrent Delete may remove the (then empty) directory between MakeDirs and open().
  for (int attempt = 0;; ++attempt) {
    CAIRN_RETURN_IF_ERROR(MakeDirs(dir));
    const std::string tmp = Join(dir, TempName());
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
      if (errno == ENOENT && attempt < 3) continue;
      return IoError("cannot create", tmp, errno);
    }
    Status st = WriteAll(fd.get(), data, tmp);
    if (st.ok() && ::fsync(fd.get()) != 0) st = IoError("cannot fsync", tmp, errno);
    if (st.ok()) {
      if (int err = fd.Close(); err != 0) st = IoError("cannot close", tmp, err);
    }
    if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
      int err = errno;
      st = err == EISDIR || err == ENOTEMPTY || err == EEXIST
               ? Status(Code::kIOError, "cannot write " + path +
                                            ": it is a directory (a key cannot also be a prefix "
                                            "of other keys in a directory store)")
               : IoError("cannot rename into", path, err);
    }
    if (!st.ok()) {
      ::unlink(tmp.c_str());
      return st;
    }
    return FsyncDirOrAncestor(dir, root_);
  }
}

Status LocalStore::OpenForRead(std::string_view key, std::string* path, int* fd_out,
                               size_t* size) const {
  CAIRN_RETURN_IF_ERROR(ValidateKey(key));
  *path = PathOf(key);
  Fd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return Status(Code::kNotFound, "no object " + std::string(key) + " in " + Describe());
    }
    return IoError("cannot open", *path, errno);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return IoError("cannot stat", *path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Status(Code::kNotFound, "no object " + std::string(key) + " in " + Describe());
  }
  *size = static_cast<size_t>(st.st_size);
  *fd_out = fd.Release();
  return Status::Ok();
}

Result<std::string> LocalStore::Get(std::string_view key) {
  std::string path;
  int raw = -1;
  size_t size = 0;
  CAIRN_RETURN_IF_ERROR(OpenForRead(key, &path, &raw, &size));
  Fd fd(raw);
  // Objects are replaced by rename, never written in place: the size is known. Read it without
  // reallocating, then make sure nothing follows.
  std::string out;
  out.resize(size);
  size_t got = 0;
  for (;;) {
    char extra[4096];
    const bool full = got == out.size();
    ssize_t n = full ? ::read(fd.get(), extra, sizeof extra)
                     : ::read(fd.get(), out.data() + got, out.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return IoError("cannot read", path, errno);
    }
    if (n == 0) break;
    if (full) out.append(extra, static_cast<size_t>(n));
    got += static_cast<size_t>(n);
  }
  out.resize(got);
  return out;
}

namespace {
class MappedBlob final : public Blob {
 public:
  MappedBlob(void* p, size_t n) : p_(p), n_(n) {}
  ~MappedBlob() override {
    if (p_ != nullptr) ::munmap(p_, n_);
  }
  std::string_view data() const override { return {static_cast<const char*>(p_), n_}; }

 private:
  void* p_;
  size_t n_;
};
}  // namespace

Result<std::shared_ptr<const Blob>> LocalStore::GetBlob(std::string_view key) {
  std::string path;
  int raw = -1;
  size_t size = 0;
  CAIRN_RETURN_IF_ERROR(OpenForRead(key, &path, &raw, &size));
  Fd fd(raw);
  const size_t n = size;
  if (n == 0) return Blob::FromString({});
  void* p = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd.get(), 0);
  if (p == MAP_FAILED) return IoError("cannot map", path, errno);
  ::madvise(p, n, MADV_SEQUENTIAL);
  return std::shared_ptr<const Blob>(std::make_shared<const MappedBlob>(p, n));
}

Result<std::vector<ObjectInfo>> LocalStore::List(std::string_view prefix) {
  std::vector<ObjectInfo> out;
  // Start at the deepest directory the prefix names. If that part is not a valid key path, no
  // valid key can start with the prefix (and walking it could leave the root).
  std::string start = root_;
  std::string key_dir;
  if (size_t slash = prefix.rfind('/'); slash != std::string_view::npos) {
    std::string_view dir_part = prefix.substr(0, slash);
    if (!ValidateKey(dir_part).ok()) return out;
    start = PathOf(dir_part);
    key_dir = std::string(dir_part) + "/";
  }
  CAIRN_RETURN_IF_ERROR(Walk(start, key_dir, prefix, &out));
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

Status LocalStore::Delete(std::string_view key) {
  CAIRN_RETURN_IF_ERROR(ValidateKey(key));
  const std::string path = PathOf(key);
  if (::unlink(path.c_str()) != 0) {
    // Missing, or a directory (which is no object): nothing to delete.
    if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) return Status::Ok();
    return IoError("cannot delete", path, errno);
  }
  // Remove the directories this left empty, stopping at the first that is not (or at the root).
  std::string dir = ParentOf(path);
  while (dir.size() > root_.size() && ::rmdir(dir.c_str()) == 0) dir = ParentOf(dir);
  return FsyncDirOrAncestor(dir, root_);
}

Result<std::string> LocalRootFromUrl(std::string_view url) {
  std::string path;
  if (url.starts_with("file://")) {
    std::string_view rest = url.substr(7);
    if (rest.starts_with("localhost/")) rest.remove_prefix(9);
    if (!rest.starts_with('/')) {
      return Status(Code::kInvalidRequest, "file URL " + std::string(url) +
                                               " must name an absolute path: file:///abs/dir");
    }
    for (size_t i = 0; i < rest.size(); ++i) {
      if (rest[i] == '%' && i + 2 < rest.size() && HexValue(rest[i + 1]) >= 0 &&
          HexValue(rest[i + 2]) >= 0) {
        path += static_cast<char>(HexValue(rest[i + 1]) * 16 + HexValue(rest[i + 2]));
        i += 2;
      } else if (rest[i] == '?' || rest[i] == '#') {
        return Status(Code::kInvalidRequest,
                      "file URL " + std::string(url) + " must not have a query or fragment");
      } else {
        path += rest[i];
      }
    }
  } else {
    path = std::string(url);
  }
  if (path.empty()) return Status(Code::kInvalidRequest, "empty object store path");
  if (path.find('\0') != std::string::npos) {
    return Status(Code::kInvalidRequest, "object store path contains a NUL byte");
  }
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  if (ec)
    return Status(Code::kInvalidRequest, "bad object store path " + path + ": " + ec.message());
  return abs.lexically_normal().string();
}

}  // namespace cairn::objectstore
