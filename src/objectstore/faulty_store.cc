#include "objectstore/faulty_store.h"

#include <thread>

namespace cairn::objectstore {
namespace {

std::string_view OpName(FaultyStore::Op op) {
  switch (op) {
    case FaultyStore::Op::kPut:
      return "Put";
    case FaultyStore::Op::kGet:
      return "Get";
    case FaultyStore::Op::kList:
      return "List";
    case FaultyStore::Op::kDelete:
      return "Delete";
  }
  return "?";
}

}  // namespace

void FaultyStore::FailNext(Op op, int n, Code code) {
  std::lock_guard lk(mu_);
  Pending& p = fail_next_[static_cast<size_t>(op)];
  p.count += n;
  p.code = code;
}

void FaultyStore::ClearFailures() {
  std::lock_guard lk(mu_);
  fail_next_ = {};
  lost_put_acks_ = 0;
}

void FaultyStore::LoseNextPutAcks(int n) {
  std::lock_guard lk(mu_);
  lost_put_acks_ += n;
}

Status FaultyStore::Before(Op op) {
  calls_[static_cast<size_t>(op)].fetch_add(1);
  if (int64_t ms = delay_ms_.load(); ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
  if (down_.load()) {
    injected_.fetch_add(1);
    return Status(Code::kUnavailable, "injected fault: " + Describe() + " is down");
  }
  std::lock_guard lk(mu_);
  Pending& p = fail_next_[static_cast<size_t>(op)];
  if (p.count > 0) {
    --p.count;
    injected_.fetch_add(1);
    return Status(p.code, "injected fault: " + std::string(OpName(op)) + " on " + Describe());
  }
  return Status::Ok();
}

Status FaultyStore::Put(std::string_view key, std::string_view data) {
  CAIRN_RETURN_IF_ERROR(Before(Op::kPut));
  CAIRN_RETURN_IF_ERROR(inner_->Put(key, data));
  std::lock_guard lk(mu_);
  if (lost_put_acks_ > 0) {
    --lost_put_acks_;
    injected_.fetch_add(1);
    return Status(Code::kUnavailable,
                  "injected fault: the answer to Put " + std::string(key) + " was lost");
  }
  return Status::Ok();
}

Result<std::string> FaultyStore::Get(std::string_view key) {
  CAIRN_RETURN_IF_ERROR(Before(Op::kGet));
  return inner_->Get(key);
}

Result<std::vector<ObjectInfo>> FaultyStore::List(std::string_view prefix) {
  CAIRN_RETURN_IF_ERROR(Before(Op::kList));
  return inner_->List(prefix);
}

Status FaultyStore::Delete(std::string_view key) {
  CAIRN_RETURN_IF_ERROR(Before(Op::kDelete));
  return inner_->Delete(key);
}

}  // namespace cairn::objectstore
