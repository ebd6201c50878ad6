#include <gtest/gtest.h>

#include <filesystem>

#include "server/admin.h"
#include "server/internal/reply.h"
#include "server/routing.h"

namespace cairn::server {
namespace {

class ServerUnitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("cairn-server-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    engine::RegistryOptions o;
    o.data_dir = dir_.string();
    reg_ = engine::Registry::Open(o).value();
    ASSERT_TRUE(reg_->Create("tenant1").ok());
  }
  void TearDown() override {
    reg_.reset();
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<engine::Registry> reg_;
};

TEST_F(ServerUnitTest, SelectsDatabaseFromHeaderHostOrDefault) {
  EXPECT_EQ(SelectDatabase("tenant1", "", "localhost:8080", *reg_).value(), "tenant1");
  EXPECT_EQ(SelectDatabase("", "dGVuYW50MQ==", "", *reg_).value(), "tenant1");
  EXPECT_EQ(SelectDatabase("nope", "", "", *reg_).status().code(), Code::kNotFound);
  EXPECT_EQ(SelectDatabase("../etc", "", "", *reg_).status().code(), Code::kInvalidName);
  EXPECT_EQ(SelectDatabase("", "", "tenant1.db.example.com:8080", *reg_).value(), "tenant1");
  EXPECT_EQ(SelectDatabase("", "", "TENANT1.db.example.com", *reg_).value(), "tenant1");
  EXPECT_EQ(SelectDatabase("", "", "other.db.example.com", *reg_).value(), "default");
  EXPECT_EQ(SelectDatabase("", "", "127.0.0.1:8080", *reg_).value(), "default");
  EXPECT_EQ(SelectDatabase("", "", "localhost", *reg_).value(), "default");
  EXPECT_EQ(SelectDatabase("", "", "[::1]:8080", *reg_).value(), "default");
  EXPECT_EQ(SelectDatabase("", "", "", *reg_).value(), "default");
}

TEST_F(ServerUnitTest, AdminCreateListDelete) {
  AdminApi api(reg_.get(), nullptr, nullptr);
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/t2/create", "").status, 200);
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/t2/create", "").status, 409);
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/..%2Fx/create", "").status, 400);
  EXPECT_EQ(api.Handle("POST", "/v1/namespaces/Bad/create", "").status, 400);
  auto list = api.Handle("GET", "/v1/namespaces", "");
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.body, R"({"namespaces":["default","t2","tenant1"]})");
  EXPECT_EQ(api.Handle("DELETE", "/v1/namespaces/t2", "").status, 200);
  EXPECT_EQ(api.Handle("DELETE", "/v1/namespaces/t2", "").status, 404);
  EXPECT_EQ(api.Handle("GET", "/v1/namespaces/t2", "").status, 404);
  EXPECT_EQ(api.Handle("GET", "/v1/nothing", "").status, 404);
}

// Every error answer gets its HTTP status from one mapping: the Status's, unless the refusal is
// HTTP's own (wrong method, wrong role), and the body keeps the Status's Hrana error code.
TEST(ReplyTest, StatusesComeFromTheOneMapping) {
  EXPECT_EQ(HttpStatusOf(Status(Code::kNotFound, "x")), 404);
  EXPECT_EQ(HttpStatusOf(Status(Code::kUnavailable, "x")), 503);
  EXPECT_EQ(HttpStatusOf(Status(Code::kInvalidRequest, "x")), 400);
  EXPECT_EQ(HttpStatusOf(Status(Code::kInvalidRequest, "x"), Refusal::kWrongMethod), 405);
  EXPECT_EQ(HttpStatusOf(Status(Code::kInvalidRequest, "x"), Refusal::kWrongRole), 409);

  const Reply role = ErrorReply(Status(Code::kInvalidRequest, "a replica"), Refusal::kWrongRole);
  EXPECT_EQ(role.status, 409);
  EXPECT_EQ(role.content_type, "application/json");
  EXPECT_EQ(role.body, R"({"message":"a replica","code":"HRANA_PROTO_ERROR"})");

  const Reply unauth = Unauthenticated(Status(Code::kUnauthenticated, "no token"));
  EXPECT_EQ(unauth.status, 401);
  ASSERT_EQ(unauth.headers.size(), 1u);
  EXPECT_EQ(unauth.headers[0].first, "WWW-Authenticate");

  const Reply missing = NoSuchEndpoint(Status(Code::kNotFound, "no such endpoint: GET /x"));
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.body, R"({"message":"no such endpoint: GET /x","code":"NOT_FOUND"})");
}

}  // namespace
}  // namespace cairn::server
