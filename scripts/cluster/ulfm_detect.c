/* ULFM (Open MPI 5, `mpirun --with-ft ulfm`) across the simulated hosts: how a lost rank shows.
 *
 * Rank 0 receives a heartbeat message from every other rank every 100 ms for DURATION seconds,
 * MPI_ERRORS_RETURN on MPI_COMM_WORLD. When a receive fails it prints the error class
 * (MPIX_ERR_PROC_FAILED expected), the failed rank's host, the wall-clock time and the time since
 * that rank's last heartbeat, acknowledges the failure (MPIX_Comm_ack_failed, MPIX_Comm_get_failed)
 * and goes on with the others; it ends with "survivors: N heartbeats from the rest" and exit 0.
 * Whoever cuts a host off (scripts/cluster/lose-host.sh) prints the time it did on the same clock
 * (/proc/uptime, CLOCK_BOOTTIME), so the detection time is the difference.
 *
 *   mpicc -O2 -o ulfm_detect scripts/cluster/ulfm_detect.c
 *   mpirun --with-ft ulfm -n 3 ./ulfm_detect [DURATION]      (ULFM_LOG=PATH: rank r writes PATH.r)
 */
#include <mpi.h>
#include <mpi-ext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The boot-time clock, as /proc/uptime (which lose-host.sh prints): one clock for every process. */
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_BOOTTIME, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int provided, rank, size;
    double duration = argc > 1 ? atof(argv[1]) : 20.0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* ULFM_LOG=PATH: each rank writes to PATH.RANK itself (line-buffered), so that what it saw
     * survives a launcher that hangs or is killed (its forwarded output would not). */
    const char *log = getenv("ULFM_LOG");
    if (log) {
        char path[4096];
        snprintf(path, sizeof path, "%s.%d", log, rank);
        if (freopen(path, "w", stdout)) setvbuf(stdout, NULL, _IOLBF, 0);
    }
    char host[64] = {0};
    gethostname(host, sizeof host - 1);
    char (*hosts)[64] = calloc(size, 64);
    MPI_Gather(host, 64, MPI_CHAR, hosts, 64, MPI_CHAR, 0, MPI_COMM_WORLD);
    /* Whether fault tolerance is on at run time: the MPIX_FT attribute (1 under --with-ft ulfm). */
    int *ft = NULL, ft_flag = 0;
    MPI_Comm_get_attr(MPI_COMM_WORLD, MPIX_FT, &ft, &ft_flag);
    if (rank == 0) {
        printf("rank 0 on %s, %d ranks, thread level %d (MPI_THREAD_MULTIPLE=%d), MPIX_FT (key %d) "
               "= %d\n", host, size, provided, MPI_THREAD_MULTIPLE, (int)MPIX_FT,
               ft_flag ? *ft : -1);
        for (int r = 1; r < size; r++) printf("rank %d on %s\n", r, hosts[r]);
        fflush(stdout);
    }
    double start = now();
    if (rank != 0) {
        /* Heartbeats until DURATION, then a last message (tag 2). */
        int beat = 0, rc;
        while (now() - start < duration) {
            rc = MPI_Send(&beat, 1, MPI_INT, 0, 1, MPI_COMM_WORLD);
            if (rc != MPI_SUCCESS) {
                int cls; MPI_Error_class(rc, &cls);
                printf("rank %d on %s: send failed, class %d at %.3f; exits\n", rank, host, cls, now());
                fflush(stdout);
                MPI_Finalize();
                return 0;
            }
            beat++;
            usleep(100000);
        }
        MPI_Send(&beat, 1, MPI_INT, 0, 2, MPI_COMM_WORLD);
        printf("rank %d on %s: %d heartbeats sent, done at %.3f\n", rank, host, beat, now());
        MPI_Finalize();
        return 0;
    }
    int *alive = calloc(size, sizeof(int)), *beats = calloc(size, sizeof(int));
    double *last = calloc(size, sizeof(double));
    MPI_Request *req = calloc(size, sizeof(MPI_Request));
    int *buf = calloc(size, sizeof(int));
    int live = size - 1, failed = 0;
    for (int r = 1; r < size; r++) {
        alive[r] = 1; last[r] = now();
        MPI_Irecv(&buf[r], 1, MPI_INT, r, MPI_ANY_TAG, MPI_COMM_WORLD, &req[r]);
    }
    while (live > 0) {
        for (int r = 1; r < size; r++) {
            if (!alive[r]) continue;
            int flag = 0; MPI_Status st;
            int rc = MPI_Test(&req[r], &flag, &st);
            if (rc == MPI_SUCCESS && flag) {
                last[r] = now();
                if (st.MPI_TAG == 2) { alive[r] = 0; live--; continue; }
                beats[r]++;
                MPI_Irecv(&buf[r], 1, MPI_INT, r, MPI_ANY_TAG, MPI_COMM_WORLD, &req[r]);
            } else if (rc != MPI_SUCCESS) {
                int cls; char msg[MPI_MAX_ERROR_STRING]; int len;
                MPI_Error_class(rc, &cls);
                MPI_Error_string(rc, msg, &len);
                double t = now();
                printf("DETECTED rank %d on %s: class %d (%s%s) at %.3f, %.3f s after its last "
                       "heartbeat (%d heartbeats)\n", r, hosts[r], cls,
                       cls == MPIX_ERR_PROC_FAILED ? "MPIX_ERR_PROC_FAILED: " : "", msg, t,
                       t - last[r], beats[r]);
                int acked = 0; MPI_Group g; int n = 0;
                MPIX_Comm_ack_failed(MPI_COMM_WORLD, size, &acked);
                MPIX_Comm_get_failed(MPI_COMM_WORLD, &g);
                MPI_Group_size(g, &n);
                printf("MPIX_Comm_ack_failed: %d acknowledged; MPIX_Comm_get_failed: %d failed\n", acked, n);
                fflush(stdout);
                MPI_Group_free(&g);
                alive[r] = 0; live--; failed++;
            }
        }
        usleep(1000);
    }
    int ok = 0;
    for (int r = 1; r < size; r++) ok += beats[r];
    printf("survivors: %d failed, %d heartbeats in all, done after %.1f s\n", failed, ok, now() - start);
    fflush(stdout);
    MPI_Finalize();
    return 0;
}
