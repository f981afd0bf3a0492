/* A real `lumbungd serve` for the C tests, and the tokens it issues: started
 * on 127.0.0.1 with a free port, known by the URL it prints. Plain POSIX C. */
#ifndef LUMBUNG_TESTS_BINDINGS_DAEMON_H_
#define LUMBUNG_TESTS_BINDINGS_DAEMON_H_

#include <stdbool.h>
#include <sys/types.h>

typedef struct test_daemon {
  pid_t pid;
  int out_fd; /* the daemon's stdout, kept open while it runs */
  char url[128];
} test_daemon;

/* Runs `binary serve --data DATA_DIR --listen 127.0.0.1:0` and waits up to
 * 10 s for its "lumbungd listening on URL" line. False (with a message on
 * stderr) when it does not start; the process is then killed. */
bool daemon_start(test_daemon* daemon, const char* binary, const char* data_dir);
/* SIGTERM, then SIGKILL if it has not exited within 10 s. */
void daemon_stop(test_daemon* daemon);

/* `binary token --data DATA_DIR --officer OFFICER --villages VILLAGES --role
 * ROLE`: the token (free with free()), or NULL. */
char* daemon_token(const char* binary, const char* data_dir, const char* officer,
                   const char* villages, const char* role);

/* Runs argv[0] with `argv`, its output discarded, and waits up to 30 s: its
 * exit code, or -1 when it could not run, died or was killed at the deadline. */
int run_program(char* const argv[]);

/* A new empty directory under $TMPDIR (free with free()), and its removal
 * with everything in it. */
char* temp_dir_new(void);
void temp_dir_remove(const char* path);

#endif
