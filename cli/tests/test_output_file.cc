// OutputFile: the target appears complete at commit or not at all; an
// existing target is refused without --force and left untouched; a write
// error (here a file-size limit standing in for a full disk) leaves nothing.
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "errors.h"
#include "output_file.h"
#include "safetensors_writer.h"
#include "test_util.h"

namespace bitnet_cli::testing {
namespace {

std::vector<uint8_t> text_bytes(const std::string& s) { return {s.begin(), s.end()}; }

TEST(OutputFile, AppearsOnlyAtCommit) {
  TempDir dir;
  {
    OutputFile out(dir.file("out.bin"), false);
    out.write("hello", 5);
    out.write_at(0, "J", 1);
    out.commit();
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.bin"});
  EXPECT_EQ(read_file(dir.file("out.bin")), text_bytes("Jello"));
  {
    OutputFile out(dir.file("never.bin"), false);
    out.write("partial", 7);
  }  // destroyed without commit, as on any error
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.bin"});
}

TEST(OutputFile, RefusesAnExistingTargetWithoutForce) {
  TempDir dir;
  synth::write_binary_file(dir.file("out.bin"), text_bytes("old"));
  EXPECT_THROW(OutputFile(dir.file("out.bin"), false), UsageError);
  EXPECT_THROW(OutputFile(dir.path(), true), UsageError);  // a directory
  {
    OutputFile out(dir.file("late.bin"), false);
    out.write("new", 3);
    synth::write_binary_file(dir.file("late.bin"), text_bytes("someone else's"));
    EXPECT_THROW(out.commit(), UsageError);
  }
  EXPECT_EQ(read_file(dir.file("late.bin")), text_bytes("someone else's"));
  EXPECT_EQ(read_file(dir.file("out.bin")), text_bytes("old"));
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"late.bin", "out.bin"}));
}

TEST(OutputFile, ForceReplacesInOneStep) {
  TempDir dir;
  synth::write_binary_file(dir.file("out.bin"), text_bytes("old contents"));
  OutputFile out(dir.file("out.bin"), true);
  out.reserve(1000);
  out.write("new", 3);
  EXPECT_EQ(read_file(dir.file("out.bin")), text_bytes("old contents"));
  out.commit();
  EXPECT_EQ(read_file(dir.file("out.bin")), text_bytes("new"));  // reserve()'s extra bytes dropped
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"out.bin"});
}

// Runs `body` in a child process and returns its wait status.
template <typename Body>
int in_child(Body body) {
  const pid_t child = fork();
  if (child == 0) {
    body();
    _exit(0);
  }
  int status = 0;
  EXPECT_EQ(waitpid(child, &status, 0), child);
  return status;
}

// The file-size limit makes writes fail with EFBIG (SIGXFSZ ignored), as a
// full disk makes them fail with ENOSPC: while writing, and when reserve()
// allocates the planned size up front.
TEST(OutputFile, AWriteErrorLeavesNothing) {
  TempDir dir;
  for (const bool reserve : {false, true}) {
    SCOPED_TRACE(reserve ? "reserve" : "write");
    const int status = in_child([&] {
      std::signal(SIGXFSZ, SIG_IGN);
      const rlimit limit{1 << 20, 1 << 20};
      setrlimit(RLIMIT_FSIZE, &limit);
      const std::vector<uint8_t> chunk(1 << 16, 0xAB);
      try {
        OutputFile out(dir.file("big.bin"), false);
        if (reserve) out.reserve(4 << 20);
        for (int i = 0; i < 64; ++i) out.write(chunk.data(), chunk.size());
        out.commit();
      } catch (const Error& e) {
        const std::string what = e.what();
        const bool named = what.rfind(dir.file("big.bin") + ": ", 0) == 0 &&
                           what.find(reserve ? "cannot allocate 4194304 bytes: File too large"
                                             : "write failed: File too large") != std::string::npos;
        _exit(named ? 42 : 1);
      }
    });
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 42);
    EXPECT_TRUE(dir.entries().empty());
  }
}

// Interrupted midway (Ctrl-C), an output leaves nothing behind, and an
// existing target keeps its contents.
TEST(OutputFile, SigintLeavesNothing) {
  TempDir dir;
  synth::write_binary_file(dir.file("kept.bin"), text_bytes("old"));
  for (const char* name : {"new.bin", "kept.bin"}) {
    const int status = in_child([&] {
      OutputFile out(dir.file(name), true);
      const std::vector<uint8_t> chunk(1 << 20, 0xCD);
      out.write(chunk.data(), chunk.size());
      std::raise(SIGINT);
    });
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGINT);
    EXPECT_EQ(dir.entries(), std::vector<std::string>{"kept.bin"});
    EXPECT_EQ(read_file(dir.file("kept.bin")), text_bytes("old"));
  }
}

}  // namespace
}  // namespace bitnet_cli::testing
