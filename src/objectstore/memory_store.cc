#include "objectstore/memory_store.h"

namespace cairn::objectstore {

Status InMemoryStore::Put(std::string_view key, std::string_view data) {
  CAIRN_RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard lk(mu_);
  objects_.insert_or_assign(std::string(key), std::string(data));
  return Status::Ok();
}

Result<std::string> InMemoryStore::Get(std::string_view key) {
  CAIRN_RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard lk(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) {
    return Status(Code::kNotFound, "no object " + std::string(key) + " in memory:");
  }
  return it->second;
}

Result<std::vector<ObjectInfo>> InMemoryStore::List(std::string_view prefix) {
  std::vector<ObjectInfo> out;
  std::lock_guard lk(mu_);
  for (auto it = objects_.lower_bound(prefix); it != objects_.end(); ++it) {
    if (!it->first.starts_with(prefix)) break;
    out.push_back(ObjectInfo{it->first, it->second.size()});
  }
  return out;
}

Status InMemoryStore::Delete(std::string_view key) {
  CAIRN_RETURN_IF_ERROR(ValidateKey(key));
  std::lock_guard lk(mu_);
  if (auto it = objects_.find(key); it != objects_.end()) objects_.erase(it);
  return Status::Ok();
}

size_t InMemoryStore::size() const {
  std::lock_guard lk(mu_);
  return objects_.size();
}

}  // namespace cairn::objectstore
