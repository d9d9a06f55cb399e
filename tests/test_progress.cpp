// The progress report: plain lines at each tenth into a file, one line rewritten in place on a terminal.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "lddmm/io/progress.hpp"

namespace {

std::string contents(std::FILE* f) {
  std::rewind(f);
  std::string s;
  for (int c = std::fgetc(f); c != EOF; c = std::fgetc(f)) s += static_cast<char>(c);
  return s;
}

TEST(Progress, IntoAFileEveryTenthIsOnePlainLine) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  lddmm::Progress p(f, 50, false, false);
  for (int i = 1; i <= 50; ++i) p.update(i, "x");
  p.finish();
  std::string expected;
  for (int i = 5; i <= 50; i += 5) expected += std::to_string(i) + "/50 x\n";  // a tenth of 50 is 5
  EXPECT_EQ(contents(f), expected);
  std::fclose(f);
}

TEST(Progress, OnATerminalOneLineIsRewrittenAndTheLastCountAlwaysShows) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  lddmm::Progress p(f, 5, false, true);
  for (int i = 1; i <= 5; ++i) p.update(i, "x");  // 2-4 come within 100 ms of the first: not drawn
  p.finish();
  EXPECT_EQ(contents(f), "\r1/5 x   \r5/5 x   \n");
  std::fclose(f);
}

TEST(Progress, UnknownTotalQuietAndFileDetection) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  lddmm::Progress unknown(f, 0, false, false);
  unknown.update(1, "a");  // the first report is at once, the next after 30 s
  unknown.update(2, "b");
  lddmm::Progress quiet(f, 10, true, false);
  for (int i = 1; i <= 10; ++i) quiet.update(i, "q");
  EXPECT_EQ(contents(f), "1 a\n");
  EXPECT_FALSE(lddmm::is_terminal(f));
  EXPECT_FALSE(lddmm::Progress(f, 1, false).terminal());
  std::fclose(f);
}

}  // namespace
