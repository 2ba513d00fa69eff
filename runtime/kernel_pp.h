/* trkserve — preprocessor helpers for kernels.def: count the arguments of a
 * TRK_KERNEL_DEF line and map a macro m(index, ARG) over them, comma-separated.
 * Written out by hand (no token-pasted names to grep for beyond these). */
#ifndef TRK_KERNEL_PP_H
#define TRK_KERNEL_PP_H

#define TRK_PP_CAT_(a, b) a##b
#define TRK_PP_CAT(a, b) TRK_PP_CAT_(a, b)
#define TRK_PP_NARG(...) TRK_PP_NARG_(__VA_ARGS__, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
#define TRK_PP_NARG_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, _18, _19, _20, _21, _22, _23, _24, n, ...) n
#define TRK_PP_MAP(m, ...) TRK_PP_CAT(TRK_PP_MAP_, TRK_PP_NARG(__VA_ARGS__))(m, __VA_ARGS__)
#define TRK_PP_MAP_1(m, a0) m(0, a0)
#define TRK_PP_MAP_2(m, a0, a1) TRK_PP_MAP_1(m, a0), m(1, a1)
#define TRK_PP_MAP_3(m, a0, a1, a2) TRK_PP_MAP_2(m, a0, a1), m(2, a2)
#define TRK_PP_MAP_4(m, a0, a1, a2, a3) TRK_PP_MAP_3(m, a0, a1, a2), m(3, a3)
#define TRK_PP_MAP_5(m, a0, a1, a2, a3, a4) TRK_PP_MAP_4(m, a0, a1, a2, a3), m(4, a4)
#define TRK_PP_MAP_6(m, a0, a1, a2, a3, a4, a5) TRK_PP_MAP_5(m, a0, a1, a2, a3, a4), m(5, a5)
#define TRK_PP_MAP_7(m, a0, a1, a2, a3, a4, a5, a6) TRK_PP_MAP_6(m, a0, a1, a2, a3, a4, a5), m(6, a6)
#define TRK_PP_MAP_8(m, a0, a1, a2, a3, a4, a5, a6, a7) TRK_PP_MAP_7(m, a0, a1, a2, a3, a4, a5, a6), m(7, a7)
#define TRK_PP_MAP_9(m, a0, a1, a2, a3, a4, a5, a6, a7, a8) TRK_PP_MAP_8(m, a0, a1, a2, a3, a4, a5, a6, a7), m(8, a8)
#define TRK_PP_MAP_10(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9) TRK_PP_MAP_9(m, a0, a1, a2, a3, a4, a5, a6, a7, a8), m(9, a9)
#define TRK_PP_MAP_11(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10) TRK_PP_MAP_10(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9), m(10, a10)
#define TRK_PP_MAP_12(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11) TRK_PP_MAP_11(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10), m(11, a11)
#define TRK_PP_MAP_13(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12) TRK_PP_MAP_12(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11), m(12, a12)
#define TRK_PP_MAP_14(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13) TRK_PP_MAP_13(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12), m(13, a13)
#define TRK_PP_MAP_15(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14) TRK_PP_MAP_14(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13), m(14, a14)
#define TRK_PP_MAP_16(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15) TRK_PP_MAP_15(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14), m(15, a15)

#define TRK_PP_MAP_17(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16) TRK_PP_MAP_16(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15), m(16, a16)
#define TRK_PP_MAP_18(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17) TRK_PP_MAP_17(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16), m(17, a17)
#define TRK_PP_MAP_19(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18) TRK_PP_MAP_18(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17), m(18, a18)
#define TRK_PP_MAP_20(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19) TRK_PP_MAP_19(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18), m(19, a19)
#define TRK_PP_MAP_21(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20) TRK_PP_MAP_20(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19), m(20, a20)
#define TRK_PP_MAP_22(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21) TRK_PP_MAP_21(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20), m(21, a21)
#define TRK_PP_MAP_23(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22) TRK_PP_MAP_22(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21), m(22, a22)
#define TRK_PP_MAP_24(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22, a23) TRK_PP_MAP_23(m, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22), m(23, a23)

#endif
