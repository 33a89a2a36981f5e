/* SPDX-License-Identifier: MIT */
/*
 * A main() for the fuzz targets where libFuzzer is not used (gcc builds):
 * runs every file named on the command line, or every file of every
 * directory named, through LLVMFuzzerTestOneInput once.  The test suite
 * replays the seed corpora this way in every build, so a target that
 * crashes on a committed input fails the ordinary tests too.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0, got;

        if (!f) {
                perror(path);
                return -1;
        }
        do {
                if (cap - len < 4096) {
                        uint8_t *nb;

                        cap = cap ? cap * 2 : 8192;
                        nb = realloc(buf, cap);
                        if (!nb) {
                                free(buf);
                                fclose(f);
                                return -1;
                        }
                        buf = nb;
                }
                got = fread(buf + len, 1, cap - len, f);
                len += got;
        } while (got > 0);
        fclose(f);
        /* A private copy of exactly the input's size, so that an overread
         * is visible to the sanitizers. */
        {
                uint8_t *exact = malloc(len ? len : 1);

                if (!exact) {
                        free(buf);
                        return -1;
                }
                memcpy(exact, buf, len);
                free(buf);
                LLVMFuzzerTestOneInput(exact, len);
                free(exact);
        }
        return 0;
}

int main(int argc, char **argv)
{
        unsigned files = 0;

        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);
        for (int i = 1; i < argc; i++) {
                struct stat st;

                if (stat(argv[i], &st) != 0) {
                        perror(argv[i]);
                        return 1;
                }
                if (S_ISDIR(st.st_mode)) {
                        struct dirent **list;
                        int n = scandir(argv[i], &list, NULL, alphasort);

                        if (n < 0) {
                                perror(argv[i]);
                                return 1;
                        }
                        for (int k = 0; k < n; k++) {
                                char path[4096];

                                if (list[k]->d_name[0] != '.') {
                                        snprintf(path, sizeof(path), "%s/%s", argv[i], list[k]->d_name);
                                        if (run_file(path) != 0)
                                                return 1;
                                        files++;
                                }
                                free(list[k]);
                        }
                        free(list);
                } else {
                        if (run_file(argv[i]) != 0)
                                return 1;
                        files++;
                }
        }
        printf("replayed %u input(s)\n", files);
        return files > 0 ? 0 : 1;
}
