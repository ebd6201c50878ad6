#include "server/internal/reply.h"

#include "base/json_writer.h"
#include "hrana/errors.h"

namespace cairn::server {

int HttpStatusOf(const Status& st, Refusal why) {
  switch (why) {
    case Refusal::kWrongMethod:
      return 405;
    case Refusal::kWrongRole:
      return 409;
    case Refusal::kByStatus:
      break;
  }
  return hrana::HttpStatus(st);
}

Reply ErrorReply(const Status& st, Refusal why) {
  return MakeReply(HttpStatusOf(st, why), "application/json", hrana::ErrorBody(st));
}

Reply Unauthenticated(const Status& st) {
  Reply res = ErrorReply(st);
  res.headers.emplace_back("WWW-Authenticate", "Bearer");
  return res;
}

Reply NoSuchEndpoint(const Status& st) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject().Key("message").String(st.message()).Key("code").String("NOT_FOUND").EndObject();
  return MakeReply(HttpStatusOf(st), "application/json", std::move(body));
}

}  // namespace cairn::server
