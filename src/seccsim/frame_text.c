/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
#include "frame_text.h"
