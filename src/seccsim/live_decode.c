/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
#include "seccsim.h"
int seccsim_decode_live(const char *ifname, int pistol_filter) { (void)ifname; (void)pistol_filter; return 1; }
