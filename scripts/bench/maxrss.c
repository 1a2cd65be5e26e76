/* Runs a command and prints its peak resident set size in KiB (of it and the children it waited
 * for). A small C parent matters: on Linux ru_maxrss survives execve, so a process forked from a
 * large parent (Python, say) would report the parent's memory as its own. */
#include <spawn.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: maxrss COMMAND [ARGS...]\n");
        return 2;
    }
    pid_t pid;
    int status;
    struct rusage usage;
    if (posix_spawnp(&pid, argv[1], NULL, NULL, argv + 1, environ) != 0) return 127;
    if (wait4(pid, &status, 0, &usage) < 0) return 1;
#ifdef __APPLE__
    printf("%ld\n", usage.ru_maxrss / 1024);
#else
    printf("%ld\n", usage.ru_maxrss);
#endif
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
