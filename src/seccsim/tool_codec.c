/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
#include "seccsim.h"
int seccsim_encode_main(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int seccsim_decode_main(int argc, char **argv) { (void)argc; (void)argv; return 1; }
