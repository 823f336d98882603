// closeloop delivery — libopendkim's C header, for C++.
//
// <opendkim/dkim.h> is C99: it names `_Bool`, which C++ does not have. C's _Bool and C++'s
// bool are the same type in the ABI (one byte, 0 or 1), so the header is read with one for the
// other; its functions are declared extern "C" already.
#pragma once

#define _Bool bool
#include <opendkim/dkim.h>
#undef _Bool
