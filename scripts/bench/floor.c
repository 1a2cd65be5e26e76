/* The physical floor for running N trivial jobs one after another: posix_spawn + wait of
 * /bin/true, and with a DIR argument one durable record per job as well: write a small file,
 * fsync it, fsync the directory. execq's per-job cost is measured against this. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: floor N [DIR]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    const char *dir = argc > 2 ? argv[2] : NULL;
    char *args[] = {"/bin/true", NULL};
    char path[4096];
    for (int i = 0; i < n; i++) {
        pid_t pid;
        int status;
        if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ) != 0) return 1;
        if (waitpid(pid, &status, 0) < 0) return 1;
        if (dir) {
            snprintf(path, sizeof path, "%s/r%d", dir, i);
            int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
            if (fd < 0 || write(fd, "{\"returncode\":0}\n", 17) != 17 || fsync(fd) != 0) return 1;
            close(fd);
            int dfd = open(dir, O_RDONLY);
            if (dfd < 0 || fsync(dfd) != 0) return 1;
            close(dfd);
        }
    }
    return 0;
}
