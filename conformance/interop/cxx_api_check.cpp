// cxx_api_check.cpp: the public header compiled as C++ (extern "C", PATTN_PARAMS_INIT as an
// aggregate initialiser) and linked against the C library: a valid call's shapes, and an
// invalid one's status and message.
#include <cstdio>
#include <cstring>

#include "parallel_attn.h"

int main()
{
    pattnParams_t p = PATTN_PARAMS_INIT;
    int64_t seq_lens[] = {16, 16, 32}, groups[] = {0, 0, 1};
    p.dtype = PATTN_BF16;
    p.rows = 3 * 16;
    p.cols = (4 + 2 * 2) * 64;
    p.head_dim = 64;
    p.group_query_ratio = 2;
    p.num_strategies = 1;
    p.num_pipelines = 3;
    p.seq_lens = seq_lens;
    p.cp_groups = groups;
    p.pipeline = 1;
    pattnShapes_t s;
    if (pattnQueryShapes(&p, &s) != pattnSuccess || s.num_q_heads != 4 || s.num_kv_heads != 2 ||
        s.batch != 3 || s.ring_size != 2 || s.ring_index != 1) {
        std::printf("cxx_api_check: FAIL: shapes (%s)\n", pattnGetLastError());
        return 1;
    }
    p.pipeline = 3;
    pattnResult_t r = pattnQueryShapes(&p, &s);
    if (r != pattnInvalidArgument || !std::strstr(pattnGetLastError(), "pipeline = 3")) {
        std::printf("cxx_api_check: FAIL: status %d, message '%s'\n", (int)r, pattnGetLastError());
        return 1;
    }
    std::printf("cxx_api_check: %s\n1 passed, 0 failed\n", pattnGetLastError());
    return 0;
}
