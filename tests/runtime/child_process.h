// child_process.h — death tests for the runtime suites: run a function in a
// forked child with its stderr captured (fatal errors abort the process, as
// Go's throw does, so they can only be observed from outside).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <utility>

namespace gort_test {

// run_child forks, runs fn in the child (exit 0 if it returns) and returns
// {wait status, everything the child wrote to stderr}.
inline std::pair<int, std::string> run_child(void (*fn)()) {
  int fds[2];
  if (pipe(fds) != 0) return {-1, "pipe failed"};
  pid_t pid = fork();
  if (pid < 0) return {-1, "fork failed"};
  if (pid == 0) {
    // Boost.Test catches fatal signals to keep going; the child must die.
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE}) signal(sig, SIG_DFL);
    dup2(fds[1], 2);
    close(fds[0]);
    fn();
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  ssize_t k;
  while ((k = read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(k));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {status, out};
}

}  // namespace gort_test
