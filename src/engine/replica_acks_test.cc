#include "engine/replica_acks.h"

#include <gtest/gtest.h>

#include <thread>

namespace cairn::engine {
namespace {

TEST(ReplicaAcks, CountsReplicasAtOrPastATxid) {
  ManualClock clock;
  ReplicaAcks acks(&clock);
  const std::string db = ReplicaAcks::Key("db", "gen1");
  EXPECT_EQ(acks.Count(db, 1), 0);
  acks.Ack(db, "a", 5);
  acks.Ack(db, "b", 3);
  acks.Ack(db, "a", 2);  // positions never go back
  EXPECT_EQ(acks.Count(db, 3), 2);
  EXPECT_EQ(acks.Count(db, 5), 1);
  EXPECT_EQ(acks.Count(db, 6), 0);
  // Another generation of the same database counts separately (its txids start again).
  EXPECT_EQ(acks.Count(ReplicaAcks::Key("db", "gen2"), 1), 0);
  // A replica silent for long is no longer counted.
  clock.Advance(std::chrono::duration_cast<std::chrono::microseconds>(ReplicaAcks::kForget) +
                std::chrono::microseconds(1));
  EXPECT_EQ(acks.Count(db, 3), 0);
}

TEST(ReplicaAcks, WaitReturnsWhenEnoughReplicasAckOrTimesOut) {
  ReplicaAcks acks;
  const std::string db = ReplicaAcks::Key("db", "g");
  EXPECT_FALSE(acks.WaitFor(db, 1, 1, std::chrono::milliseconds(20)));
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    acks.Ack(db, "a", 1);
    acks.Ack(db, "b", 1);
  });
  EXPECT_TRUE(acks.WaitFor(db, 1, 2, std::chrono::seconds(10)));
  t.join();
}

TEST(ReplicaAcks, TheObjectStoreIsWaitedForOnlyWhenAskedAndIsNotAReplica) {
  ReplicaAcks acks;
  const std::string db = ReplicaAcks::Key("db", "g");
  acks.Ack(db, ReplicaAcks::kObjectStore, 7);
  EXPECT_EQ(acks.Count(db, 7), 0);  // the store is no replica
  EXPECT_FALSE(acks.WaitFor(db, 7, 1, std::chrono::milliseconds(10)));
  EXPECT_TRUE(acks.WaitFor(db, 7, 0, std::chrono::milliseconds(10), /*store=*/true));
  EXPECT_FALSE(acks.WaitFor(db, 8, 0, std::chrono::milliseconds(10), /*store=*/true));
  acks.Ack(db, "r", 8);
  EXPECT_FALSE(acks.WaitFor(db, 8, 1, std::chrono::milliseconds(10), /*store=*/true));
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    acks.Ack(db, ReplicaAcks::kObjectStore, 9);
  });
  EXPECT_TRUE(acks.WaitFor(db, 8, 1, std::chrono::seconds(10), /*store=*/true));
  t.join();
}

}  // namespace
}  // namespace cairn::engine
