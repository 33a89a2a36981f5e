/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
#include "seccsim.h"
int seccsim_session_main(int argc, char **argv) { (void)argc; (void)argv; return 1; }
