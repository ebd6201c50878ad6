#include "txlog/local_log.h"

#include <sys/stat.h>

#include <algorithm>

#include "base/file.h"
#include "txlog/txlog.h"

namespace cairn::txlog {

Result<std::vector<LocalFile>> ListGenerationFiles(const std::string& dir, const std::string& gen,
                                                   uint64_t sized_after) {
  const std::string gdir = dir + "/" + gen;
  auto names = ListDir(gdir);
  if (!names.ok()) {
    if (names.status().code() == Code::kNotFound) return std::vector<LocalFile>{};
    return names.TakeStatus();
  }
  std::vector<LocalFile> files;
  for (std::string& n : *names) {
    LocalFile f;
    if (!ParseFileName(n, &f.p)) continue;
    struct stat sb {};
    if (f.p.max_txid > sized_after && ::stat((gdir + "/" + n).c_str(), &sb) == 0)
      f.size = static_cast<uint64_t>(sb.st_size);
    f.generation = gen;
    f.name = std::move(n);
    files.push_back(std::move(f));
  }
  std::sort(files.begin(), files.end(), [](const LocalFile& a, const LocalFile& b) {
    if (a.p.max_txid != b.p.max_txid) return a.p.max_txid < b.p.max_txid;
    return a.p.snapshot > b.p.snapshot;
  });
  return files;
}

Result<std::vector<LocalFile>> ListLocalFiles(const std::string& dir) {
  CAIRN_ASSIGN_OR_RETURN(std::vector<std::string> gens, TxLog::Generations(dir));
  std::vector<LocalFile> all;
  for (const std::string& g : gens) {
    CAIRN_ASSIGN_OR_RETURN(std::vector<LocalFile> files, ListGenerationFiles(dir, g));
    for (LocalFile& f : files) all.push_back(std::move(f));
  }
  return all;
}

void RemoveTemporaryFiles(const std::string& dir) {
  auto gens = TxLog::Generations(dir);
  if (!gens.ok()) return;
  for (const std::string& g : *gens) {
    auto names = ListDir(dir + "/" + g);
    if (!names.ok()) continue;
    for (const std::string& n : *names)
      if (n.find(".tmp") != std::string::npos) (void)RemoveFile(dir + "/" + g + "/" + n);
  }
}

std::vector<size_t> FilesToRemove(const std::vector<LocalFile>& files, const LocalRetention& keep,
                                  int64_t now_us,
                                  const std::function<uint64_t(const std::string&)>& released) {
  std::vector<size_t> out;
  if (files.empty()) return out;
  const int64_t max_age_us =
      std::chrono::duration_cast<std::chrono::microseconds>(keep.max_age).count();
  uint64_t kept_bytes = 0, kept_files = 0;
  bool window_closed = false;
  std::string gen;
  uint64_t released_txid = 0;
  // Newest first: the window is the newest released history.
  for (size_t i = files.size(); i-- > 0;) {
    const LocalFile& f = files[i];
    if (i == files.size() - 1 || f.generation != gen) {
      gen = f.generation;
      released_txid = released ? released(gen) : UINT64_MAX;
    }
    bool kept = true;
    if (i != files.size() - 1 && f.p.max_txid <= released_txid) {
      window_closed = window_closed || now_us - f.p.max_time_us > max_age_us ||
                      kept_bytes + f.size > keep.max_bytes || kept_files + 1 > keep.max_files;
      kept = !window_closed;
    }
    if (kept) {
      kept_bytes += f.size;
      kept_files++;
    } else {
      out.push_back(i);
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

}  // namespace cairn::txlog
