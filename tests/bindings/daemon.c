#define _XOPEN_SOURCE 700

#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static const char kListening[] = "lumbungd listening on ";
enum { kTimeoutMs = 10000 };

static long long now_ms(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* Reads one line from `fd` into `line` before `deadline_ms`. */
static bool read_line(int fd, char* line, size_t capacity, long long deadline_ms) {
  size_t length = 0;
  while (length + 1 < capacity) {
    struct pollfd ready = {fd, POLLIN, 0};
    const long long left = deadline_ms - now_ms();
    if (left <= 0 || poll(&ready, 1, (int)left) <= 0) return false;
    char c;
    if (read(fd, &c, 1) != 1) return false;
    if (c == '\n') break;
    line[length++] = c;
  }
  line[length] = '\0';
  return true;
}

/* Waits for `pid` to exit before the deadline. */
static bool wait_exit(pid_t pid, long long deadline_ms) {
  while (now_ms() < deadline_ms) {
    if (waitpid(pid, NULL, WNOHANG) == pid) return true;
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  return false;
}

bool daemon_start(test_daemon* daemon, const char* binary, const char* data_dir) {
  int out[2];
  if (pipe(out) != 0) return false;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  char* argv[] = {(char*)binary, "serve",       "--data", (char*)data_dir,
                  "--listen",    "127.0.0.1:0", NULL};
  const int spawned = posix_spawn(&daemon->pid, binary, &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  if (spawned != 0) {
    fprintf(stderr, "cannot start %s: %s\n", binary, strerror(spawned));
    close(out[0]);
    return false;
  }
  daemon->out_fd = out[0];
  char line[256];
  if (read_line(daemon->out_fd, line, sizeof line, now_ms() + kTimeoutMs) &&
      strncmp(line, kListening, strlen(kListening)) == 0 &&
      strlen(line + strlen(kListening)) < sizeof daemon->url) {
    strcpy(daemon->url, line + strlen(kListening));
    return true;
  }
  fprintf(stderr, "lumbungd did not start\n");
  kill(daemon->pid, SIGKILL);
  wait_exit(daemon->pid, now_ms() + kTimeoutMs);
  close(daemon->out_fd);
  return false;
}

void daemon_stop(test_daemon* daemon) {
  kill(daemon->pid, SIGTERM);
  if (!wait_exit(daemon->pid, now_ms() + kTimeoutMs)) {
    kill(daemon->pid, SIGKILL);
    waitpid(daemon->pid, NULL, 0);
  }
  close(daemon->out_fd);
}

char* daemon_token(const char* binary, const char* data_dir, const char* officer,
                   const char* villages, const char* role) {
  char command[2048];
  snprintf(command, sizeof command,
           "'%s' token --data '%s' --officer '%s' --villages '%s' --role '%s' 2>/dev/null", binary,
           data_dir, officer, villages, role);
  FILE* out = popen(command, "r");
  if (out == NULL) return NULL;
  char line[4096];
  const bool read = fgets(line, sizeof line, out) != NULL;
  const int status = pclose(out);
  if (!read || status != 0) return NULL;
  line[strcspn(line, "\r\n")] = '\0';
  return strdup(line);
}

int run_program(char* const argv[]) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  const int spawned = posix_spawn(&pid, argv[0], &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  const long long deadline = now_ms() + 3 * kTimeoutMs;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) != pid) {
    if (now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, NULL, 0);
      return -1;
    }
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

char* temp_dir_new(void) {
  const char* base = getenv("TMPDIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/lumbung-c-XXXXXX", base != NULL ? base : "/tmp");
  return mkdtemp(path) != NULL ? strdup(path) : NULL;
}

static int remove_entry(const char* path, const struct stat* info, int type, struct FTW* ftw) {
  (void)info;
  (void)type;
  (void)ftw;
  return remove(path);
}

void temp_dir_remove(const char* path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }
