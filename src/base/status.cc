#include "base/status.h"

#include <string>

namespace cairn {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "Ok";
    case Code::kInvalidRequest: return "InvalidRequest";
    case Code::kArgsInvalid: return "ArgsInvalid";
    case Code::kArgsBothPositionalAndNamed: return "ArgsBothPositionalAndNamed";
    case Code::kSqlNoStatement: return "SqlNoStatement";
    case Code::kSqlManyStatements: return "SqlManyStatements";
    case Code::kSqlUnknownId: return "SqlUnknownId";
    case Code::kSqlParse: return "SqlParse";
    case Code::kSqlInput: return "SqlInput";
    case Code::kSqlStoreLimit: return "SqlStoreLimit";
    case Code::kSql: return "Sql";
    case Code::kStreamInvalid: return "StreamInvalid";
    case Code::kStreamExpired: return "StreamExpired";
    case Code::kTransactionTimeout: return "TransactionTimeout";
    case Code::kTransactionBusy: return "TransactionBusy";
    case Code::kTimeout: return "Timeout";
    case Code::kResponseTooLarge: return "ResponseTooLarge";
    case Code::kBodyTooLarge: return "BodyTooLarge";
    case Code::kBlocked: return "Blocked";
    case Code::kTooManyStreams: return "TooManyStreams";
    case Code::kNotFound: return "NotFound";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kInvalidName: return "InvalidName";
    case Code::kUnauthenticated: return "Unauthenticated";
    case Code::kPermissionDenied: return "PermissionDenied";
    case Code::kUnavailable: return "Unavailable";
    case Code::kWouldBlock: return "WouldBlock";
    case Code::kIOError: return "IOError";
    case Code::kCorruption: return "Corruption";
    case Code::kInternal: return "Internal";
  }
  return "Unknown";
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return rep_ ? rep_->message : kEmpty;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(CodeName(rep_->code));
  out += ": ";
  out += rep_->message;
  return out;
}

}  // namespace cairn
