// Unit tests of the object store: key rules, URL parsing, the directory backend, the in-memory
// store, the fault-injecting wrapper, and the pieces of S3 request encoding that can be checked
// without a server. The S3 backend's requests and its behaviour against a real server are in
// s3_store_test.cc.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "base/sha256.h"
#include "objectstore/faulty_store.h"
#include "objectstore/local_store.h"
#include "objectstore/memory_store.h"
#include "objectstore/object_store.h"
#include "objectstore/s3_store.h"

namespace cairn::objectstore {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Keys(const std::vector<ObjectInfo>& infos) {
  std::vector<std::string> keys;
  for (const auto& info : infos) keys.push_back(info.key);
  return keys;
}

// A fresh directory under the system temp dir, removed afterwards.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "cairn-os-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------------------------
// Key rules

TEST(ValidateKeyTest, AcceptsOrdinaryKeys) {
  for (std::string_view key : {"a", "db/log/L0/0000000000000001-0000000000000002.clog",
                               "a b/c+d/é€😀", ".hidden/x", "a/..b/c..", "x.cairn-tmp.y"}) {
    EXPECT_TRUE(ValidateKey(key).ok()) << key;
  }
  std::string max_key = std::string(255, 'a') + "/" + std::string(255, 'b') + "/" +
                        std::string(255, 'c') + "/" + std::string(255, 'd');
  EXPECT_EQ(max_key.size(), 1023u);
  EXPECT_TRUE(ValidateKey(max_key).ok());
}

TEST(ValidateKeyTest, RejectsBadKeys) {
  for (std::string_view key :
       {std::string_view(""), std::string_view("/a"), std::string_view("a/"),
        std::string_view("a//b"), std::string_view(".."), std::string_view("a/../b"),
        std::string_view("a/./b"), std::string_view("."), std::string_view("a\nb"),
        std::string_view("a\x7f"), std::string_view("a\0b", 3), std::string_view("\xff"),
        std::string_view("\xc3"), std::string_view("\xed\xa0\x80"),  // a UTF-16 surrogate
        std::string_view("\xc0\xaf"),                                // overlong '/'
        std::string_view(".cairn-tmp.0123"), std::string_view("a/.cairn-tmp.x/b")}) {
    Status st = ValidateKey(key);
    EXPECT_EQ(st.code(), Code::kInvalidRequest) << "key: " << key;
  }
  EXPECT_EQ(ValidateKey(std::string(256, 'a')).code(), Code::kInvalidRequest);
  EXPECT_EQ(ValidateKey(std::string(1025, 'a')).code(), Code::kInvalidRequest);
}

// ---------------------------------------------------------------------------------------------
// Open and URL parsing

TEST(OpenTest, DispatchesOnTheScheme) {
  auto local = Open("file:///tmp/some%20dir/backups");
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_EQ((*local)->Describe(), "file:///tmp/some dir/backups");

  auto plain = Open("/var/lib/cairn/backups/");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ((*plain)->Describe(), "file:///var/lib/cairn/backups");

  auto relative = Open("rel/dir");
  ASSERT_TRUE(relative.ok());
  EXPECT_EQ((*relative)->Describe(), "file://" + (fs::current_path() / "rel/dir").string());

  StoreOptions opts;
  opts.endpoint = "http://127.0.0.1:9";
  auto s3 = Open("s3://bucket/some/prefix/", opts);
  ASSERT_TRUE(s3.ok()) << s3.status().ToString();
  EXPECT_EQ((*s3)->Describe(), "s3://bucket/some/prefix (http://127.0.0.1:9)");
}

TEST(OpenTest, RejectsBadUrls) {
  for (std::string_view url :
       {"", "gs://bucket/x", "s3://", "s3:///prefix", "s3://bucket/a/../b", "s3://buck et/x",
        "s3://bucket/x?colour=blue", "s3://bucket?path_style=maybe", "s3://bucket?endpoint=ftp://h",
        "s3://bucket?endpoint=http://", "s3://bucket?region=a:b", "file://relative/path",
        "file:///x?y"}) {
    auto store = Open(url);
    EXPECT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.status().code(), Code::kInvalidRequest) << url;
  }
  EXPECT_NE(Open("s3://").status().message().find("no bucket"), std::string::npos);
  EXPECT_NE(Open("gs://b").status().message().find("unknown object store scheme 'gs'"),
            std::string::npos);
}

TEST(ParseS3UrlTest, QueryParametersOverrideOptions) {
  StoreOptions opts;
  opts.endpoint = "http://ignored:1";
  opts.region = "eu-west-1";
  auto loc = ParseS3Url(
      "s3://my-bucket/backups/prod?endpoint=http%3A%2F%2F127.0.0.1%3A4568&region=x-1"
      "&path_style=true",
      &opts);
  ASSERT_TRUE(loc.ok()) << loc.status().ToString();
  EXPECT_EQ(loc->bucket, "my-bucket");
  EXPECT_EQ(loc->prefix, "backups/prod/");
  EXPECT_EQ(opts.endpoint, "http://127.0.0.1:4568");
  EXPECT_EQ(opts.region, "x-1");
  EXPECT_TRUE(opts.path_style);

  StoreOptions plain;
  auto bare = ParseS3Url("s3://b?endpoint=http://h:1/", &plain);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->prefix, "");
  EXPECT_EQ(plain.endpoint, "http://h:1/");
  EXPECT_FALSE(plain.path_style);
}

TEST(ParseS3UrlTest, EnvironmentFillsOnlyWhatIsMissing) {
  std::map<std::string, std::string> env = {
      {"AWS_ENDPOINT_URL", "http://general:1"}, {"AWS_ENDPOINT_URL_S3", "http://s3only:2"},
      {"AWS_DEFAULT_REGION", "ap-south-1"},     {"AWS_ACCESS_KEY_ID", "AKID"},
      {"AWS_SECRET_ACCESS_KEY", "SECRET"},      {"AWS_SESSION_TOKEN", "TOKEN"}};
  auto getenv = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  StoreOptions a;
  FillS3OptionsFromEnvironment(&a, getenv);
  EXPECT_EQ(a.endpoint, "http://s3only:2");
  EXPECT_EQ(a.region, "ap-south-1");
  EXPECT_EQ(a.access_key_id, "AKID");
  EXPECT_EQ(a.secret_access_key, "SECRET");
  EXPECT_EQ(a.session_token, "TOKEN");

  env["AWS_REGION"] = "eu-north-1";
  StoreOptions b;
  b.endpoint = "http://mine:3";
  b.access_key_id = "MINE";
  b.secret_access_key = "MINESECRET";
  FillS3OptionsFromEnvironment(&b, getenv);
  EXPECT_EQ(b.endpoint, "http://mine:3");
  EXPECT_EQ(b.region, "eu-north-1");
  EXPECT_EQ(b.access_key_id, "MINE");
  EXPECT_EQ(b.secret_access_key, "MINESECRET");
  EXPECT_EQ(b.session_token, "");  // never a token belonging to other credentials

  StoreOptions c;
  FillS3OptionsFromEnvironment(&c, [](const char*) -> const char* { return nullptr; });
  EXPECT_EQ(c.region, "us-east-1");
  EXPECT_EQ(c.endpoint, "");
  EXPECT_EQ(c.access_key_id, "");
}

TEST(S3StoreTest, UrlsForBothAddressingStyles) {
  StoreOptions opts;
  opts.endpoint = "http://127.0.0.1:4568";
  auto ip = S3Store::Create({"bkt", "pre fix/"}, opts);  // an IP host implies path style
  ASSERT_TRUE(ip.ok());
  EXPECT_EQ((*ip)->ObjectUrl("a b/c+d~e_f.g-h/é"),
            "http://127.0.0.1:4568/bkt/pre%20fix/a%20b/c%2Bd~e_f.g-h/%C3%A9");

  opts.endpoint = "https://minio.example:9000/base/";
  auto vhost = S3Store::Create({"bkt", ""}, opts);
  ASSERT_TRUE(vhost.ok());
  EXPECT_EQ((*vhost)->ObjectUrl("k"), "https://bkt.minio.example:9000/base/k");
  EXPECT_EQ((*vhost)->Describe(), "s3://bkt (https://minio.example:9000/base)");
  opts.path_style = true;
  auto path = S3Store::Create({"bkt", ""}, opts);
  ASSERT_TRUE(path.ok());
  EXPECT_EQ((*path)->ObjectUrl("k"), "https://minio.example:9000/base/bkt/k");

  StoreOptions aws;
  aws.region = "eu-west-3";
  auto real = S3Store::Create({"bkt", "p/"}, aws);
  ASSERT_TRUE(real.ok());
  EXPECT_EQ((*real)->ObjectUrl("k"), "https://bkt.s3.eu-west-3.amazonaws.com/p/k");
}

TEST(S3StoreTest, DescribeNeverShowsSecrets) {
  StoreOptions opts;
  opts.endpoint = "http://127.0.0.1:1";
  opts.access_key_id = "AKIAEXAMPLEKEY";
  opts.secret_access_key = "very-secret";
  opts.session_token = "session-token";
  auto store = Open("s3://bkt/p", opts);
  ASSERT_TRUE(store.ok());
  std::string d = (*store)->Describe();
  EXPECT_EQ(d.find("AKIA"), std::string::npos);
  EXPECT_EQ(d.find("secret"), std::string::npos);
  EXPECT_EQ(d.find("token"), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// SigV4 encoding pieces

TEST(S3EncodingTest, UriEncodeKeepsOnlyUnreservedCharacters) {
  using s3_internal::UriEncode;
  EXPECT_EQ(UriEncode("AZaz09-._~", false), "AZaz09-._~");
  EXPECT_EQ(UriEncode("a b+c/d", true), "a%20b%2Bc/d");
  EXPECT_EQ(UriEncode("a b+c/d", false), "a%20b%2Bc%2Fd");
  EXPECT_EQ(UriEncode("!*'()=&;:@$,?#[]%", false),
            "%21%2A%27%28%29%3D%26%3B%3A%40%24%2C%3F%23%5B%5D%25");
  EXPECT_EQ(UriEncode("é😀", true), "%C3%A9%F0%9F%98%80");
  EXPECT_EQ(UriEncode(std::string_view("\0\xff", 2), true), "%00%FF");
}

TEST(S3EncodingTest, EmptyPayloadHashIsSha256OfNothing) {
  EXPECT_EQ(Sha256Hex(""), s3_internal::kEmptyPayloadSha256);
}

TEST(S3EncodingTest, CanonicalQueryIsSortedAndEncoded) {
  EXPECT_EQ(s3_internal::CanonicalQuery({{"prefix", "a b/c"},
                                         {"list-type", "2"},
                                         {"continuation-token", "1/x+y=="},
                                         {"max-keys", "1000"}}),
            "continuation-token=1%2Fx%2By%3D%3D&list-type=2&max-keys=1000&prefix=a%20b%2Fc");
  EXPECT_EQ(s3_internal::CanonicalQuery({}), "");
}

// ---------------------------------------------------------------------------------------------
// LocalStore

TEST(LocalStoreTest, RoundTripAndReplace) {
  TempDir dir;
  LocalStore store(dir.path() + "/not/yet/there");
  EXPECT_EQ(store.Get("a").status().code(), Code::kNotFound);
  ASSERT_TRUE(store.Put("db/log/one", "first").ok());
  ASSERT_TRUE(store.Put("db/log/one", "second, longer").ok());  // replaces
  ASSERT_TRUE(store.Put("empty", "").ok());
  std::string binary("\0\x01\xff data", 8);
  ASSERT_TRUE(store.Put("db/bin", binary).ok());
  EXPECT_EQ(store.Get("db/log/one").value(), "second, longer");
  EXPECT_EQ(store.Get("empty").value(), "");
  EXPECT_EQ(store.Get("db/bin").value(), binary);
  EXPECT_EQ(store.Get("db/log").status().code(), Code::kNotFound);  // a directory is no object
  EXPECT_EQ(store.Get("db/log/one/deeper").status().code(), Code::kNotFound);
  // The object is a plain file under the root.
  std::ifstream f(dir.path() + "/not/yet/there/db/log/one");
  std::string content((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "second, longer");
}

TEST(LocalStoreTest, GetBlobMapsTheObject) {
  TempDir dir;
  LocalStore store(dir.path());
  std::string big(3 << 20, 'x');
  big[12345] = 'y';
  ASSERT_TRUE(store.Put("db/big", big).ok());
  ASSERT_TRUE(store.Put("db/empty", "").ok());
  auto blob = store.GetBlob("db/big");
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_EQ((*blob)->data(), big);
  // Replacing the object leaves a blob already handed out intact (it maps the old file).
  ASSERT_TRUE(store.Put("db/big", "new").ok());
  EXPECT_EQ((*blob)->data().size(), big.size());
  EXPECT_EQ((*blob)->data()[12345], 'y');
  EXPECT_EQ(store.GetBlob("db/big").value()->data(), "new");
  EXPECT_EQ(store.GetBlob("db/empty").value()->data(), "");
  EXPECT_EQ(store.GetBlob("db/missing").status().code(), Code::kNotFound);
  EXPECT_EQ(store.GetBlob("db").status().code(), Code::kNotFound);
  // Backends without their own GetBlob hand out Get's bytes.
  InMemoryStore mem;
  ASSERT_TRUE(mem.Put("k", "v").ok());
  EXPECT_EQ(mem.GetBlob("k").value()->data(), "v");
}

TEST(LocalStoreTest, ListIsSortedRecursiveAndFiltersByPrefix) {
  TempDir dir;
  LocalStore store(dir.path());
  for (std::string_view key : {"b/2", "a", "b/1", "b/10/x", "ab", "b-c", "c/d/e/f", "b/1x"}) {
    ASSERT_TRUE(store.Put(key, std::string(key.size(), 'x')).ok()) << key;
  }
  auto all = store.List("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(Keys(*all), (std::vector<std::string>{"a", "ab", "b-c", "b/1", "b/10/x", "b/1x", "b/2",
                                                  "c/d/e/f"}));
  EXPECT_EQ((*all)[4].size, 6u);
  EXPECT_EQ(Keys(store.List("b/").value()),
            (std::vector<std::string>{"b/1", "b/10/x", "b/1x", "b/2"}));
  EXPECT_EQ(Keys(store.List("b/1").value()), (std::vector<std::string>{"b/1", "b/10/x", "b/1x"}));
  EXPECT_EQ(Keys(store.List("b").value()),
            (std::vector<std::string>{"b-c", "b/1", "b/10/x", "b/1x", "b/2"}));
  EXPECT_EQ(Keys(store.List("c/d/e/").value()), (std::vector<std::string>{"c/d/e/f"}));
  EXPECT_TRUE(store.List("zzz").value().empty());
  EXPECT_TRUE(store.List("nope/deeper/").value().empty());
  // Prefixes no valid key can start with match nothing, and never leave the root.
  EXPECT_TRUE(store.List("../").value().empty());
  EXPECT_TRUE(store.List("/etc/").value().empty());
  EXPECT_TRUE(store.List("a//").value().empty());

  LocalStore missing(dir.path() + "/missing");
  EXPECT_TRUE(missing.List("").value().empty());
}

TEST(LocalStoreTest, ListIgnoresTemporaryAndForeignFiles) {
  TempDir dir;
  LocalStore store(dir.path());
  ASSERT_TRUE(store.Put("d/real", "1").ok());
  // What a crash in the middle of Put leaves behind, and files no key can name.
  std::ofstream(dir.path() + "/d/.cairn-tmp.0123456789abcdef") << "partial";
  std::ofstream(dir.path() + "/d/bad\nname") << "x";
  fs::create_directory(dir.path() + "/d/emptydir");
  ::symlink("real", (dir.path() + "/d/link").c_str());
  EXPECT_EQ(Keys(store.List("").value()), (std::vector<std::string>{"d/real"}));
}

TEST(LocalStoreTest, DeleteRemovesObjectAndEmptyParents) {
  TempDir dir;
  LocalStore store(dir.path());
  ASSERT_TRUE(store.Put("x/y/z", "1").ok());
  ASSERT_TRUE(store.Put("x/keep", "2").ok());
  ASSERT_TRUE(store.Delete("x/y/z").ok());
  EXPECT_EQ(store.Get("x/y/z").status().code(), Code::kNotFound);
  EXPECT_FALSE(fs::exists(dir.path() + "/x/y"));
  EXPECT_TRUE(fs::exists(dir.path() + "/x/keep"));
  ASSERT_TRUE(store.Delete("x/keep").ok());
  EXPECT_FALSE(fs::exists(dir.path() + "/x"));
  EXPECT_TRUE(fs::exists(dir.path()));       // never the root
  EXPECT_TRUE(store.Delete("x/keep").ok());  // already gone
  EXPECT_TRUE(store.Delete("never/was/here").ok());
  EXPECT_TRUE(store.List("").value().empty());
}

TEST(LocalStoreTest, RejectsBadKeysWithoutTouchingTheDisk) {
  TempDir dir;
  LocalStore store(dir.path() + "/root");
  ASSERT_TRUE(store.Put("inside", "1").ok());
  for (std::string_view key : {"../escape", "/abs", "a//b", "a/./b", "", "a/"}) {
    EXPECT_EQ(store.Put(key, "x").code(), Code::kInvalidRequest) << key;
    EXPECT_EQ(store.Get(key).status().code(), Code::kInvalidRequest) << key;
    EXPECT_EQ(store.Delete(key).code(), Code::kInvalidRequest) << key;
  }
  EXPECT_FALSE(fs::exists(dir.path() + "/escape"));
  EXPECT_EQ(Keys(store.List("").value()), (std::vector<std::string>{"inside"}));
}

TEST(LocalStoreTest, KeyCannotBeBothObjectAndDirectory) {
  TempDir dir;
  LocalStore store(dir.path());
  ASSERT_TRUE(store.Put("a/b", "1").ok());
  EXPECT_EQ(store.Put("a", "2").code(), Code::kIOError);
  ASSERT_TRUE(store.Put("f", "3").ok());
  EXPECT_EQ(store.Put("f/g", "4").code(), Code::kIOError);
  EXPECT_EQ(Keys(store.List("").value()), (std::vector<std::string>{"a/b", "f"}));
  // Nothing half-written was left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
}

TEST(LocalStoreTest, ReadersNeverSeeAPartialObject) {
  TempDir dir;
  LocalStore store(dir.path());
  const std::string a(256 * 1024, 'a'), b(512 * 1024, 'b');
  ASSERT_TRUE(store.Put("obj", a).ok());
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 40; ++i) ASSERT_TRUE(store.Put("obj", i % 2 ? a : b).ok());
    stop = true;
  });
  int reads = 0;
  while (!stop) {
    auto got = store.Get("obj");
    ASSERT_TRUE(got.ok());
    ASSERT_TRUE(*got == a || *got == b) << "read " << got->size() << " bytes";
    ++reads;
  }
  writer.join();
  EXPECT_GT(reads, 0);
  EXPECT_EQ(Keys(store.List("").value()), (std::vector<std::string>{"obj"}));
}

TEST(LocalStoreTest, ConcurrentPutsAndDeletesInOneDirectory) {
  // Delete prunes empty directories while Puts create them: no Put may fail for that.
  TempDir dir;
  LocalStore store(dir.path());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        std::string key = "shared/dir/t" + std::to_string(t);
        ASSERT_TRUE(store.Put(key, "x").ok());
        ASSERT_TRUE(store.Delete(key).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_TRUE(store.List("").value().empty());
}

// ---------------------------------------------------------------------------------------------
// InMemoryStore and FaultyStore

TEST(InMemoryStoreTest, BehavesLikeAStore) {
  InMemoryStore store;
  ASSERT_TRUE(store.Put("b/1", "one").ok());
  ASSERT_TRUE(store.Put("a", "").ok());
  ASSERT_TRUE(store.Put("b/2", "two").ok());
  ASSERT_TRUE(store.Put("b/1", "uno").ok());
  EXPECT_EQ(store.Get("b/1").value(), "uno");
  EXPECT_EQ(store.Get("c").status().code(), Code::kNotFound);
  EXPECT_EQ(Keys(store.List("b/").value()), (std::vector<std::string>{"b/1", "b/2"}));
  EXPECT_EQ(store.List("").value().size(), 3u);
  EXPECT_EQ(store.Put("../x", "").code(), Code::kInvalidRequest);
  ASSERT_TRUE(store.Delete("b/1").ok());
  ASSERT_TRUE(store.Delete("b/1").ok());
  EXPECT_EQ(store.size(), 2u);
}

TEST(FaultyStoreTest, DownFailsEverythingWithoutTouchingTheInnerStore) {
  InMemoryStore mem;
  FaultyStore store(&mem);
  ASSERT_TRUE(store.Put("k", "v").ok());
  store.SetDown(true);
  EXPECT_EQ(store.Put("k2", "v").code(), Code::kUnavailable);
  EXPECT_EQ(store.Get("k").status().code(), Code::kUnavailable);
  EXPECT_EQ(store.List("").status().code(), Code::kUnavailable);
  EXPECT_EQ(store.Delete("k").code(), Code::kUnavailable);
  EXPECT_EQ(mem.size(), 1u);
  store.SetDown(false);
  EXPECT_EQ(store.Get("k").value(), "v");
  EXPECT_EQ(store.calls(FaultyStore::Op::kPut), 2);
  EXPECT_EQ(store.calls(FaultyStore::Op::kGet), 2);
  EXPECT_EQ(store.calls(FaultyStore::Op::kList), 1);
  EXPECT_EQ(store.calls(FaultyStore::Op::kDelete), 1);
  EXPECT_EQ(store.injected_failures(), 4);
  EXPECT_EQ(store.Describe(), "faulty(memory:)");
}

TEST(FaultyStoreTest, FailNextAndLostAcks) {
  InMemoryStore mem;
  FaultyStore store(&mem);
  store.FailNextPuts(2);
  store.FailNext(FaultyStore::Op::kGet, 1, Code::kIOError);
  EXPECT_EQ(store.Put("a", "1").code(), Code::kUnavailable);
  EXPECT_EQ(store.Put("a", "1").code(), Code::kUnavailable);
  EXPECT_EQ(mem.size(), 0u);
  EXPECT_TRUE(store.Put("a", "1").ok());
  EXPECT_EQ(store.Get("a").status().code(), Code::kIOError);
  EXPECT_EQ(store.Get("a").value(), "1");

  store.LoseNextPutAcks(1);
  EXPECT_EQ(store.Put("b", "2").code(), Code::kUnavailable);
  EXPECT_EQ(mem.Get("b").value(), "2");  // it was written all the same
  EXPECT_TRUE(store.Put("c", "3").ok());

  store.FailNextPuts(5);
  store.ClearFailures();
  EXPECT_TRUE(store.Put("d", "4").ok());
  EXPECT_EQ(store.injected_failures(), 4);
}

TEST(FaultyStoreTest, FaultsSwitchWhileOtherThreadsCall) {
  InMemoryStore mem;
  FaultyStore store(&mem);
  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, unavailable{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop; ++i) {
        Status st = store.Put("t" + std::to_string(t) + "/" + std::to_string(i % 10), "x");
        (st.ok() ? ok : unavailable).fetch_add(1);
        ASSERT_TRUE(st.ok() || st.code() == Code::kUnavailable);
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    store.SetDown(i % 2 == 0);
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  store.SetDown(false);
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok + unavailable, store.calls(FaultyStore::Op::kPut));
  EXPECT_EQ(unavailable.load(), store.injected_failures());
  EXPECT_TRUE(store.Put("after", "x").ok());
}

}  // namespace
}  // namespace cairn::objectstore
