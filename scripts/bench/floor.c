/* The physical floor for running N trivial jobs one after another: posix_spawn + wait of the same
 * program a job runs (/bin/true unless PROGRAM is given), and with a DIR one durable record per job
 * as well: write a small file, sync it, sync the directory. execq's per-job cost is measured
 * against this.  Usage: floor N [DIR|-] [PROGRAM [ARGS...]]
 * On macOS "sync" is fcntl(F_FULLFSYNC), as Rust's File::sync_all does there: plain fsync does not
 * flush the drive's cache on macOS, so it would be a weaker floor than what execq does. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int sync_fd(int fd) {
#ifdef __APPLE__
    return fcntl(fd, F_FULLFSYNC);
#else
    return fsync(fd);
#endif
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: floor N [DIR|-] [PROGRAM [ARGS...]]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    const char *dir = argc > 2 && strcmp(argv[2], "-") != 0 ? argv[2] : NULL;
    char *default_args[] = {"/bin/true", NULL};
    char **args = argc > 3 ? argv + 3 : default_args;
    char path[4096];
    for (int i = 0; i < n; i++) {
        pid_t pid;
        int status;
        if (posix_spawn(&pid, args[0], NULL, NULL, args, environ) != 0) return 1;
        if (waitpid(pid, &status, 0) < 0) return 1;
        if (dir) {
            snprintf(path, sizeof path, "%s/r%d", dir, i);
            int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
            if (fd < 0 || write(fd, "{\"returncode\":0}\n", 17) != 17 || sync_fd(fd) != 0) return 1;
            close(fd);
            int dfd = open(dir, O_RDONLY);
            if (dfd < 0 || sync_fd(dfd) != 0) return 1;
            close(dfd);
        }
    }
    return 0;
}
