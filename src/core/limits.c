/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
typedef int seccbridge_placeholder_limits;
