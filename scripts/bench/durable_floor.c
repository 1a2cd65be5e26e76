/* The durable end-to-end floor: per job, in one process, exactly the durable steps execq promises,
 * and nothing else (no parsing, no logging, no process start per submission):
 *   submit: write the job to tmp/ + sync it, link it into pending/, unlink the temporary name,
 *           sync pending/;
 *   claim:  rename pending/JOB to running/JOB, sync running/;
 *   run:    posix_spawn /bin/true and wait;
 *   record: write the record to running/.JOB.tmp + sync it, rename it to completed/JOB, sync
 *           completed/, unlink running/JOB.
 * Usage: durable_floor N DIR [submit]   ("submit": only the submit half, for `execq submit`).
 * On macOS "sync" is fcntl(F_FULLFSYNC), as execq's is. */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char JOB[] =
    "{\n  \"task_id\": \"20261124-120000.000000-abcdef\",\n  \"command\": \"/bin/true\",\n"
    "  \"args\": [],\n  \"cwd\": \"/tmp\",\n  \"env\": {\"PATH\": \"/usr/bin:/bin\"},\n"
    "  \"submitted_at\": \"2026-11-24T12:00:00.000000+00:00\"\n}\n";
static const char RECORD[] =
    "\"result\": {\"status\": \"completed\", \"returncode\": 0, \"stdout\": \"\", \"stderr\": \"\", "
    "\"started_at\": \"2026-11-24T12:00:00.000000+00:00\", \"completed_at\": "
    "\"2026-11-24T12:00:00.001000+00:00\", \"duration_ms\": 1}\n";

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void sync_fd(int fd) {
#ifdef __APPLE__
    if (fcntl(fd, F_FULLFSYNC) != 0) die("F_FULLFSYNC");
#else
    if (fsync(fd) != 0) die("fsync");
#endif
}

static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) die(dir);
    sync_fd(fd);
    close(fd);
}

static void write_synced(const char *path, const char *text) {
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    size_t len = strlen(text);
    if (fd < 0 || write(fd, text, len) != (ssize_t)len) die(path);
    sync_fd(fd);
    close(fd);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: durable_floor N DIR [submit]\n");
        return 2;
    }
    int n = atoi(argv[1]);
    const char *root = argv[2];
    int submit_only = argc > 3 && strcmp(argv[3], "submit") == 0;
    if (strlen(root) > 4000) {
        fprintf(stderr, "durable_floor: DIR is too long\n");
        return 2;
    }
    char tmp[4096], pending[4096], running[4096], completed[4096];
    snprintf(tmp, sizeof tmp, "%s/tmp", root);
    snprintf(pending, sizeof pending, "%s/pending", root);
    snprintf(running, sizeof running, "%s/running", root);
    snprintf(completed, sizeof completed, "%s/completed", root);
    const char *dirs[] = {root, tmp, pending, running, completed};
    for (int i = 0; i < 5; i++)
        if (mkdir(dirs[i], 0700) != 0) die(dirs[i]);
    char a[4200], b[4200], c[4200];
    char *args[] = {"/bin/true", NULL};
    for (int i = 0; i < n; i++) {
        snprintf(a, sizeof a, "%s/job%d.json.tmp", tmp, i);
        snprintf(b, sizeof b, "%s/job%d.json", pending, i);
        write_synced(a, JOB);
        if (link(a, b) != 0 || unlink(a) != 0) die("link");
        sync_dir(pending);
        if (submit_only) continue;
        snprintf(c, sizeof c, "%s/job%d.json", running, i);
        if (rename(b, c) != 0) die("claim");
        sync_dir(running);
        pid_t pid;
        int status;
        if (posix_spawn(&pid, args[0], NULL, NULL, args, environ) != 0) die("spawn");
        if (waitpid(pid, &status, 0) < 0) die("wait");
        snprintf(a, sizeof a, "%s/.job%d.json.tmp", running, i);
        snprintf(b, sizeof b, "%s/job%d.json", completed, i);
        write_synced(a, RECORD);
        if (rename(a, b) != 0) die("record");
        sync_dir(completed);
        if (unlink(c) != 0) die("unlink");
    }
    return 0;
}
