// SPDX-License-Identifier: GPL-2.0
/*
 * Compiles the README's in-kernel KeyUpdate example (the c block after
 * the "readme_example" marker, extracted into build/readme_example.inc by
 * the Makefile), so the documented program keeps building against
 * ktls_ext.h.  Not run: it needs a finished handshake.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <ktls/tls_uapi.h>
#include <ktls/ktls_ext.h>

void readme_example(int fd, int file, size_t size,
		    struct tls12_crypto_info_aes_gcm_128 tx,
		    struct tls12_crypto_info_aes_gcm_128 rx,
		    const unsigned char *ssec, const unsigned char *csec);

void readme_example(int fd, int file, size_t size,
		    struct tls12_crypto_info_aes_gcm_128 tx,
		    struct tls12_crypto_info_aes_gcm_128 rx,
		    const unsigned char *ssec, const unsigned char *csec)
{
#include "readme_example.inc"
}
