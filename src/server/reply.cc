#include "server/internal/reply.h"

#include "base/json_writer.h"
#include "hrana/errors.h"

namespace cairn::server {

Reply Unauthenticated(const Status& st) {
  Reply res = MakeReply(hrana::HttpStatus(st), "application/json", hrana::ErrorBody(st));
  res.headers.emplace_back("WWW-Authenticate", "Bearer");
  return res;
}

std::string NotFoundBody(const Status& st) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("message").String(st.message()).Key("code").String("NOT_FOUND").EndObject();
  return out;
}

}  // namespace cairn::server
