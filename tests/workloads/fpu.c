// SPDX-License-Identifier: GPL-2.0
/*
 * fpu [TICK_MS]: register state a restore must carry over bit for bit.
 * Each tick one asm block loads tick-dependent patterns into xmm/ymm8-15
 * (zmm16-31 and k1-k7 too with AVX-512), two x87 stack slots and
 * r12-r15, sleeps with a raw nanosleep syscall -- the kernel keeps all of
 * them live across it, so a snap finds them in the thread's registers --
 * then stores them back to be compared.  MXCSR (FTZ|DAZ) and the x87
 * control word (53-bit precision) are set once and checked every tick,
 * as is a long double computation whose result depends on that control
 * word.
 */
#include <cpuid.h>
#include <sys/syscall.h>
#include "wl.h"

#define MXCSR_WANT	0x9fc0		/* defaults | FTZ | DAZ */
#define X87_CW_WANT	0x027f		/* defaults, precision 53 bits */

struct regs {
	uint8_t vec[8][32];		/* ymm8-15 (xmm: low 16 bytes) */
	uint8_t zmm[16][64];		/* zmm16-31 */
	uint64_t k[8];			/* k1-k7 in [1..7] */
	uint64_t gpr[4];		/* r12-r15 */
	uint8_t x87[2][16];		/* two 80-bit values, 16-byte slots */
};

enum isa { ISA_SSE, ISA_AVX, ISA_AVX512 };

static enum isa detect(void)
{
	unsigned a, b, c, d;

	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx"))
		return ISA_SSE;
	/* the kernel must have enabled the opmask/zmm state in XCR0 */
	if (__builtin_cpu_supports("avx512f") && __get_cpuid(1, &a, &b, &c, &d) &&
	    (c & bit_OSXSAVE)) {
		unsigned lo, hi;

		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		if ((lo & 0xe6) == 0xe6)
			return ISA_AVX512;
	}
	return ISA_AVX;
}

/* offsets in struct regs, used by the asm below */
#define OFF_ZMM		256
#define OFF_K		1280
#define OFF_GPR		1344
#define OFF_X87		1376
_Static_assert(__builtin_offsetof(struct regs, zmm) == OFF_ZMM, "zmm");
_Static_assert(__builtin_offsetof(struct regs, k) == OFF_K, "k");
_Static_assert(__builtin_offsetof(struct regs, gpr) == OFF_GPR, "gpr");
_Static_assert(__builtin_offsetof(struct regs, x87) == OFF_X87, "x87");

#define S_(x)		#x
#define S(x)		S_(x)
#define V(op, r, n)	op " " S(32 * (n - 8)) "(%[in]), %%" r #n "\n\t"
#define VS(op, r, n)	op " %%" r #n ", " S(32 * (n - 8)) "(%[out])\n\t"
#define VLOAD(op, r)	V(op, r, 8) V(op, r, 9) V(op, r, 10) V(op, r, 11) \
			V(op, r, 12) V(op, r, 13) V(op, r, 14) V(op, r, 15)
#define VSTORE(op, r)	VS(op, r, 8) VS(op, r, 9) VS(op, r, 10) VS(op, r, 11) \
			VS(op, r, 12) VS(op, r, 13) VS(op, r, 14) VS(op, r, 15)
#define Z(n)		"vmovdqu64 " S(OFF_ZMM + 64 * (n - 16)) "(%[in]), %%zmm" #n "\n\t"
#define ZS(n)		"vmovdqu64 %%zmm" #n ", " S(OFF_ZMM + 64 * (n - 16)) "(%[out])\n\t"
#define ZLOAD		Z(16) Z(17) Z(18) Z(19) Z(20) Z(21) Z(22) Z(23) \
			Z(24) Z(25) Z(26) Z(27) Z(28) Z(29) Z(30) Z(31)
#define ZSTORE		ZS(16) ZS(17) ZS(18) ZS(19) ZS(20) ZS(21) ZS(22) ZS(23) \
			ZS(24) ZS(25) ZS(26) ZS(27) ZS(28) ZS(29) ZS(30) ZS(31)
#define K(n)		"kmovq " S(OFF_K + 8 * n) "(%[in]), %%k" #n "\n\t"
#define KS(n)		"kmovq %%k" #n ", " S(OFF_K + 8 * n) "(%[out])\n\t"
#define KLOAD		K(1) K(2) K(3) K(4) K(5) K(6) K(7)
#define KSTORE		KS(1) KS(2) KS(3) KS(4) KS(5) KS(6) KS(7)

/* r12-r15 and two x87 slots loaded, nanosleep(%rdi, NULL), stored back */
#define GPR_X87_SLEEP							\
	"movq " S(OFF_GPR) "(%[in]), %%r12\n\t"				\
	"movq " S(OFF_GPR + 8) "(%[in]), %%r13\n\t"			\
	"movq " S(OFF_GPR + 16) "(%[in]), %%r14\n\t"			\
	"movq " S(OFF_GPR + 24) "(%[in]), %%r15\n\t"			\
	"fldt " S(OFF_X87) "(%[in])\n\t"				\
	"fldt " S(OFF_X87 + 16) "(%[in])\n\t"				\
	"xorl %%esi, %%esi\n\t"						\
	"syscall\n\t"							\
	"fstpt " S(OFF_X87 + 16) "(%[out])\n\t"				\
	"fstpt " S(OFF_X87) "(%[out])\n\t"				\
	"movq %%r12, " S(OFF_GPR) "(%[out])\n\t"			\
	"movq %%r13, " S(OFF_GPR + 8) "(%[out])\n\t"			\
	"movq %%r14, " S(OFF_GPR + 16) "(%[out])\n\t"			\
	"movq %%r15, " S(OFF_GPR + 24) "(%[out])\n\t"

#define CLOBBERS	"rcx", "rsi", "r11", "r12", "r13", "r14", "r15", "memory", \
			"xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",	\
			"xmm14", "xmm15"

static long sleep_sse(const struct regs *in, struct regs *out, struct timespec *ts)
{
	long ret = SYS_nanosleep;

	__asm__ volatile(VLOAD("movdqu", "xmm") GPR_X87_SLEEP VSTORE("movdqu", "xmm")
			 : "+a"(ret) : [in] "r"(in), [out] "r"(out), "D"(ts)
			 : CLOBBERS);
	return ret;
}

static long sleep_avx(const struct regs *in, struct regs *out, struct timespec *ts)
{
	long ret = SYS_nanosleep;

	__asm__ volatile(VLOAD("vmovdqu", "ymm") GPR_X87_SLEEP VSTORE("vmovdqu", "ymm")
			 "vzeroupper\n\t"
			 : "+a"(ret) : [in] "r"(in), [out] "r"(out), "D"(ts)
			 : CLOBBERS);
	return ret;
}

static long __attribute__((target("avx512f,avx512bw")))
sleep_avx512(const struct regs *in, struct regs *out, struct timespec *ts)
{
	long ret = SYS_nanosleep;

	__asm__ volatile(ZLOAD KLOAD VLOAD("vmovdqu", "ymm") GPR_X87_SLEEP
			 VSTORE("vmovdqu", "ymm") KSTORE ZSTORE "vzeroupper\n\t"
			 : "+a"(ret) : [in] "r"(in), [out] "r"(out), "D"(ts)
			 : CLOBBERS, "xmm16", "xmm17", "xmm18", "xmm19", "xmm20",
			   "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26",
			   "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",
			   "k1", "k2", "k3", "k4", "k5", "k6", "k7");
	return ret;
}

static void fill(struct regs *r, unsigned long tick)
{
	uint64_t *w = (uint64_t *)r;
	size_t i;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < OFF_X87 / 8; i++)
		w[i] = wl_mix(tick * 4096 + i);
	for (i = 0; i < 2; i++) {
		/* a valid normal 80-bit value: explicit integer bit set */
		uint64_t mant = wl_mix(tick * 7 + i) | (1ULL << 63);
		uint16_t se = 0x3fff + (uint16_t)(wl_mix(tick + i) % 64) - 32;

		memcpy(r->x87[i], &mant, 8);
		memcpy(r->x87[i] + 8, &se, 2);
	}
}

/* what must survive: only the parts the ISA has */
static void compare(const struct regs *in, const struct regs *out, enum isa isa,
		    unsigned long tick)
{
	size_t vlen = isa == ISA_SSE ? 16 : 32;
	unsigned i;

	for (i = 0; i < 8; i++)
		if (memcmp(in->vec[i], out->vec[i], vlen))
			wl_fail("tick %lu: %s%u changed", tick,
				isa == ISA_SSE ? "xmm" : "ymm", i + 8);
	for (i = 0; isa == ISA_AVX512 && i < 16; i++)
		if (memcmp(in->zmm[i], out->zmm[i], 64))
			wl_fail("tick %lu: zmm%u changed", tick, i + 16);
	for (i = 1; isa == ISA_AVX512 && i < 8; i++)
		if (in->k[i] != out->k[i])
			wl_fail("tick %lu: k%u changed", tick, i);
	for (i = 0; i < 4; i++)
		if (in->gpr[i] != out->gpr[i])
			wl_fail("tick %lu: r%u changed", tick, i + 12);
	for (i = 0; i < 2; i++)
		if (memcmp(in->x87[i], out->x87[i], 10))
			wl_fail("tick %lu: x87 st(%u) changed", tick, 1 - i);
}

/* depends on the x87 precision control: 53-bit rounding of each step */
static long double series(void)
{
	volatile long double s = 0;
	int i;

	for (i = 1; i <= 2000; i++)
		s += 1.0L / ((long double)i * i);
	return s;
}

static void set_control(void)
{
	unsigned mxcsr = MXCSR_WANT;
	unsigned short cw = X87_CW_WANT;

	__asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
	__asm__ volatile("fldcw %0" : : "m"(cw));
}

static void check_control(unsigned long tick, const long double *ref)
{
	unsigned mxcsr;
	unsigned short cw;
	long double v;

	__asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(cw));
	if (mxcsr != MXCSR_WANT || cw != X87_CW_WANT)
		wl_fail("tick %lu: MXCSR %#x x87 CW %#x, expected %#x %#x", tick,
			mxcsr, cw, MXCSR_WANT, X87_CW_WANT);
	v = series();
	if (memcmp(&v, ref, 10))
		wl_fail("tick %lu: long double series differs from its first value",
			tick);
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "sse", "avx", "avx512" };
	static struct regs in, out;
	struct timespec ts;
	unsigned long tick;
	unsigned tick_ms;
	long double ref;
	enum isa isa;
	long ret;

	wl_setsid();
	tick_ms = wl_arg(argc, argv, 1, 100);
	ts = (struct timespec){ tick_ms / 1000, (long)(tick_ms % 1000) * 1000000L };
	isa = detect();
	set_control();
	ref = series();
	wl_print("ready pid=%d isa=%s", (int)getpid(), names[isa]);
	for (tick = 1;; tick++) {
		fill(&in, tick);
		memset(&out, 0, sizeof(out));
		if (isa == ISA_AVX512)
			ret = sleep_avx512(&in, &out, &ts);
		else if (isa == ISA_AVX)
			ret = sleep_avx(&in, &out, &ts);
		else
			ret = sleep_sse(&in, &out, &ts);
		if (ret != 0)
			wl_fail("tick %lu: nanosleep returned %ld", tick, ret);
		compare(&in, &out, isa, tick);
		check_control(tick, &ref);
		wl_print("tick %lu isa=%s r12=%016llx", tick, names[isa],
			 (unsigned long long)out.gpr[0]);
	}
}
