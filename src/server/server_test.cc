#include <gtest/gtest.h>

#include <filesystem>

#include "server/admin.h"
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

}  // namespace
}  // namespace cairn::server
