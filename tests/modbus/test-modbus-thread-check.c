/* SPDX-License-Identifier: MIT */
/*
 * The thread rule of modbus_io.c must be able to fail: a context used on
 * the loop thread, or from a thread that did not make it, aborts the
 * process (in builds with assertions, as the tests are).  Each violation
 * runs in a child process, which must die of SIGABRT; the same calls on the
 * owning worker thread must pass.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "modbus_io.h"

static struct modbus_params params;
static pthread_t loop_thread;
static struct modbus_io *shared_io;

static void *make_and_use(void *arg)
{
        struct modbus_io *io = NULL;

        (void)arg;
        if (modbus_io_new(&params, loop_thread, &io) < 0)
                return (void *)1;
        (void)modbus_io_set_unit(io, 2);
        if (arg)
                shared_io = io;         /* handed to another thread: a violation */
        else
                modbus_io_free(io);
        return NULL;
}

/* 0 when fn, run in a child, dies of SIGABRT. */
static int expect_abort(void (*fn)(void), const char *what)
{
        int status;
        pid_t pid = fork();

        if (pid == 0) {
                /* No core dumps for the expected abort. */
                signal(SIGABRT, SIG_DFL);
                fn();
                _exit(0);
        }
        waitpid(pid, &status, 0);
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT) {
                printf("ok: %s aborts\n", what);
                return 0;
        }
        printf("FAIL: %s did not abort (status 0x%x)\n", what, status);
        return 1;
}

static void use_on_loop_thread(void)
{
        struct modbus_io *io = NULL;

        /* The loop thread making a context is already the violation. */
        (void)modbus_io_new(&params, pthread_self(), &io);
}

static void use_from_other_thread(void)
{
        pthread_t t;

        pthread_create(&t, NULL, make_and_use, (void *)1);
        pthread_join(t, NULL);
        (void)modbus_io_set_unit(shared_io, 3);
}

int main(void)
{
        pthread_t t;
        void *ret = NULL;
        int fails = 0;

#ifdef NDEBUG
        printf("SKIP: built without assertions, the thread check is compiled out\n");
        return 77;
#endif
        memset(&params, 0, sizeof(params));
        params.transport = MODBUS_TRANSPORT_TCP;
        params.port = 502;
        params.unit_id = 1;
        params.response_timeout_ms = 100;
        snprintf(params.host, sizeof(params.host), "127.0.0.1");
        loop_thread = pthread_self();

        /* Allowed: a worker thread makes and uses its own context. */
        pthread_create(&t, NULL, make_and_use, NULL);
        pthread_join(t, &ret);
        if (ret) {
                printf("FAIL: a worker thread could not use its own context\n");
                fails++;
        } else {
                printf("ok: a worker thread uses its own context\n");
        }
        fails += expect_abort(use_on_loop_thread, "a libmodbus call on the loop thread");
        fails += expect_abort(use_from_other_thread, "a libmodbus call from a thread that does not own the context");
        return fails ? 1 : 0;
}
