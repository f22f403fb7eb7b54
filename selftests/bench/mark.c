// SPDX-License-Identifier: GPL-2.0
/*
 * mark start|stop: execute one marker instruction (see count.c), so a
 * shell script (bench-serve-guest.sh) can open and close a counting window
 * around programs that know nothing of the plugin.
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "start")) {
		__asm__ volatile(".byte 0x0f,0x1f,0x80,0x01,0x4c,0x54,0x4b" ::: "memory");
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "stop")) {
		__asm__ volatile(".byte 0x0f,0x1f,0x80,0x02,0x4c,0x54,0x4b" ::: "memory");
		return 0;
	}
	fprintf(stderr, "usage: mark start|stop\n");
	return 2;
}
