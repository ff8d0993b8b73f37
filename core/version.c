/*
 * version.c: pattnGetVersion, the version of the library that is loaded (which may differ from
 * the header a caller compiled against: compare with PATTN_VERSION_CODE).
 */
#include "parallel_attn.h"
#include "status.h"

pattnResult_t pattnGetVersion(int *version)
{
    if (!version)
        return pattn_error(pattnInvalidArgument,
                           "version = NULL: expected a pointer to an int to receive %d",
                           PATTN_VERSION_CODE);
    *version = PATTN_VERSION_CODE;
    pattn_clear_error();
    return pattnSuccess;
}
