#include "common/serial_executor.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace tributary {
namespace {

TEST(SerialExecutorTest, RunsTasksOneAtATimeInOrder) {
  absl::Mutex mu;
  std::vector<int> order;
  int running = 0;
  int most_at_once = 0;
  {
    SerialExecutor executor;
    absl::Notification go;
    executor.Post([&] { go.WaitForNotification(); });
    for (int i = 0; i < 100; ++i) {
      executor.Post([&, i] {
        {
          absl::MutexLock lock(&mu);
          most_at_once = std::max(most_at_once, ++running);
          order.push_back(i);
        }
        absl::MutexLock lock(&mu);
        --running;
      });
    }
    EXPECT_GE(executor.queued(), 100u) << "the first task holds the thread";
    go.Notify();
  }  // The destructor runs what is queued.
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  EXPECT_EQ(most_at_once, 1);
}

}  // namespace
}  // namespace tributary
