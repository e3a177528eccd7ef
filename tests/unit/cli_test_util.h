// Running the built sitelink and sitelinkd binaries from the CLI tests:
// standard input from a string, standard output and error captured, or
// standard output sent to a given (existing) file to test file-mode checks.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "config_test_util.h"

extern char** environ;

namespace sitelink::test {

struct RunResult {
  int exit_code = -1;  // -1 if the process did not exit normally
  std::string out;
  std::string err;
};

// Runs `argv` (argv[0] is the binary's path). If stdout_path is set, standard
// output goes to that existing file (opened without O_CREAT, so its mode
// stays) and RunResult::out is left empty.
inline RunResult run(const std::vector<std::string>& argv, const std::string& input = "",
                     const std::string& stdout_path = "") {
  TempDir io;
  const std::string in = io.write("stdin", input);
  const std::string out = stdout_path.empty() ? io.write("stdout", "") : stdout_path;
  const std::string err = io.write("stderr", "");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_TRUNC, 0);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_TRUNC, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  RunResult r;
  if (rc != 0) {
    r.err = "posix_spawn failed";
    return r;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (stdout_path.empty()) r.out = read_file(out);  // else the caller reads its file (it may be /dev/full)
  r.err = read_file(err);
  return r;
}

inline std::vector<std::string> sitelink(std::vector<std::string> args) {
  args.insert(args.begin(), SITELINK_BIN);
  return args;
}

inline std::vector<std::string> sitelinkd(std::vector<std::string> args) {
  args.insert(args.begin(), SITELINKD_BIN);
  return args;
}

}  // namespace sitelink::test
