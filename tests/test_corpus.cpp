// A corpus: which videos, each task's share, and the manifest. Expected values are written out by hand.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "lddmm/track/corpus.hpp"
#include "scratch_dir.hpp"

namespace lddmm {
namespace {
namespace fs = std::filesystem;

void touch(const fs::path& p) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << "x";
}

std::vector<std::string> names(const std::vector<CorpusVideo>& v) {
  std::vector<std::string> n;
  for (const auto& x : v) n.push_back(x.relative.generic_string());
  return n;
}

TEST(Corpus, AFolderGivesItsVideosAtAnyDepthSortedAndNothingElse) {
  const testing::ScratchDir dir;
  for (const char* f :
       {"b.mp4", "a/z.MOV", "a/notes.txt", "a/photo.jpg", ".hidden/x.mp4", "out/done.mp4", "c.mkv"})
    touch(dir / "in" / f);
  EXPECT_TRUE(is_corpus(dir / "in"));
  EXPECT_EQ(names(list_corpus(dir / "in", dir / "in" / "out")),
            (std::vector<std::string>{"a/z.MOV", "b.mp4", "c.mkv"}));
  touch(dir / "photos" / "p.jpg");
  EXPECT_FALSE(is_corpus(dir / "photos"));  // a folder of images is one input, not a corpus
  EXPECT_FALSE(is_corpus(dir / "in" / "b.mp4"));
}

TEST(Corpus, AListNamesVideosRelativeToItsFolder) {
  const testing::ScratchDir dir;
  std::ofstream(dir / "list.txt") << "# interviews\nday2/b.mp4\n\nday1/a.mp4\r\n/data/c.avi\n../up/d.mp4\n";
  const auto v = list_corpus(dir / "list.txt");
  EXPECT_EQ(names(v), (std::vector<std::string>{"data/c.avi", "day1/a.mp4", "day2/b.mp4", "up/d.mp4"}));
  EXPECT_EQ(v[1].path, dir / "day1/a.mp4");
  EXPECT_EQ(v[0].path, fs::path("/data/c.avi"));
  std::ofstream(dir / "twice.txt") << "a.mp4\n./a.mp4\n";
  EXPECT_THROW(list_corpus(dir / "twice.txt"), std::runtime_error);
  EXPECT_THROW(list_corpus(dir / "absent.txt"), std::runtime_error);
}

TEST(Corpus, ShardsAreDisjointAndCoverTheCorpus) {
  std::vector<CorpusVideo> all;
  for (int i = 0; i < 10; ++i) all.push_back({"", "v" + std::to_string(i) + ".mp4"});
  EXPECT_EQ(names(shard_of(all, {2, 4})), (std::vector<std::string>{"v1.mp4", "v5.mp4", "v9.mp4"}));
  std::multiset<std::string> seen;
  for (int k = 1; k <= 4; ++k)
    for (const auto& n : names(shard_of(all, {k, 4}))) seen.insert(n);
  EXPECT_EQ(seen.size(), 10u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 10u);
  EXPECT_TRUE(shard_of(all, {12, 12}).empty());  // more tasks than videos: the last ones have none
}

TEST(Corpus, ShardTextAndSlurmsVariables) {
  EXPECT_EQ(parse_shard("3/8").index, 3);
  EXPECT_EQ(parse_shard("3/8").count, 8);
  for (const char* bad : {"0/8", "9/8", "3", "a/b", "3/8/1", "-1/2"})
    EXPECT_THROW(parse_shard(bad), std::invalid_argument) << bad;
  ::unsetenv("SLURM_ARRAY_TASK_ID");
  EXPECT_FALSE(slurm_shard().has_value());
  ::setenv("SLURM_ARRAY_TASK_ID", "7", 1);  // --array=5-8: tasks 5, 6, 7, 8
  ::setenv("SLURM_ARRAY_TASK_MIN", "5", 1);
  ::setenv("SLURM_ARRAY_TASK_COUNT", "4", 1);
  ASSERT_TRUE(slurm_shard().has_value());
  EXPECT_EQ(slurm_shard()->index, 3);
  EXPECT_EQ(slurm_shard()->count, 4);
  EXPECT_EQ(manifest_name(slurm_shard()), "manifest-3-of-4.csv");
  EXPECT_EQ(manifest_name(std::nullopt), "manifest.csv");
  for (const char* v : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_MIN", "SLURM_ARRAY_TASK_COUNT"})
    ::unsetenv(v);
}

TEST(Corpus, ManifestRoundTripsAndIsReadAsWritten) {
  const testing::ScratchDir dir;
  std::vector<ManifestRow> rows;
  set_row(rows, {"b.mp4", "failed", 0, 0, 0, "b.mp4: cannot open the video, \"damaged\""});
  set_row(rows, {"a.mp4", "done", 120, 2, 3.25, ""});
  set_row(rows, {"b.mp4", "done", 50, 1, 1.0, ""});  // replaces the failed row
  write_manifest(dir / "m.csv", rows);
  std::ifstream in(dir / "m.csv");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "video,status,frames,faces,seconds,error\na.mp4,done,120,2,3.2,\nb.mp4,done,50,1,1.0,\n");
  set_row(rows, {"c, d.mp4", "failed", 0, 0, 0, "bad \"file\""});
  write_manifest(dir / "m.csv", rows);
  const auto back = read_manifest(dir / "m.csv");
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[2].video, "c, d.mp4");
  EXPECT_EQ(back[2].error, "bad \"file\"");
  EXPECT_TRUE(read_manifest(dir / "absent.csv").empty());
  std::ofstream(dir / "bad.csv") << "what,ever\n";
  EXPECT_THROW(read_manifest(dir / "bad.csv"), std::runtime_error);
}

TEST(Corpus, MergeGivesEveryVideoOnceADoneRowWinsAndAbsentOnesAreMissing) {
  const testing::ScratchDir dir;
  write_manifest(dir / "manifest-1-of-2.csv",
                 {{"a.mp4", "done", 10, 1, 1, ""}, {"c.mp4", "failed", 0, 0, 0, "x"}});
  write_manifest(dir / "manifest-2-of-2.csv", {{"b.mp4", "interrupted", 3, 1, 1, ""}});
  write_manifest(dir / "manifest.csv", {{"c.mp4", "done", 7, 1, 1, ""}});  // a later run did c
  const std::vector<CorpusVideo> videos = {{"", "a.mp4"}, {"", "b.mp4"}, {"", "c.mp4"}, {"", "d.mp4"}};
  const auto rows = merge_manifests(videos, dir.path());
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[0].status, "done");
  EXPECT_EQ(rows[1].status, "interrupted");
  EXPECT_EQ(rows[2].status, "done");
  EXPECT_EQ(rows[2].frames, 7);
  EXPECT_EQ(rows[3].status, "missing");
}

}  // namespace
}  // namespace lddmm
