/* SPDX-License-Identifier: GPL-2.0 */
/* Shared helpers for the ktls selftests: sockets, keys, module state. */
#ifndef KTLS_UTIL_H
#define KTLS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <ktls/tls_uapi.h>

/* Largest UAPI crypto_info struct (ChaCha20 / AES-256: 56 bytes). */
union kt_crypto_info {
	struct tls_crypto_info info;
	struct tls12_crypto_info_aes_gcm_128 gcm128;
	struct tls12_crypto_info_aes_gcm_256 gcm256;
	struct tls12_crypto_info_aes_ccm_128 ccm128;
	struct tls12_crypto_info_chacha20_poly1305 chacha;
	unsigned char raw[64];
};

struct kt_cipher {
	const char *name;	/* for test names: "aes-gcm-128" */
	uint16_t type;
	size_t info_size;
	size_t iv, key, salt;
	const char *evp;	/* OpenSSL EVP cipher name */
};

extern const struct kt_cipher kt_ciphers[];
extern const size_t kt_n_ciphers;
const struct kt_cipher *kt_cipher(uint16_t type);

/* The ULP name to attach: $KTLS_ULP, default "tls". */
const char *kt_ulp(void);

/* Connected loopback TCP pair; family AF_INET or AF_INET6. Exits on error. */
void kt_tcp_pair(int family, int *client, int *server);
/* The same with SO_RCVBUF on the server end and SO_SNDBUF on the client
 * end set before connecting (0: the default).
 */
void kt_tcp_pair_bufs(int family, int *client, int *server, int rcvbuf,
		      int sndbuf);
/* setsockopt(TCP_ULP, kt_ulp()); returns its result (errno set). */
int kt_attach(int fd);
/* Fill a crypto_info with deterministic key material from seed. */
size_t kt_fill_info(union kt_crypto_info *ci, uint16_t version,
		    uint16_t cipher, unsigned int seed);
/* kt_attach + TLS_TX/TLS_RX with kt_fill_info(seed); exits on error. */
void kt_install(int fd, int dir, uint16_t version, uint16_t cipher,
		unsigned int seed);

/*
 * Module state.  $KTLS_KO is the module path (default /ktls/ktls.ko).
 * kt_ktls_load() makes sure ktls is loaded with this ulp_name, reloading
 * it if it holds another.  Returns 0 or -errno.
 */
int kt_module_load(const char *path, const char *params);
int kt_module_unload(const char *name);
int kt_module_loaded(const char *name);
int kt_ktls_load(const char *ulp_name);
/* Exit the test unless ktls holds kt_ulp(). */
void kt_need_ktls(void);

/* A network namespace of the process's own, lo up: counters start at 0. */
void kt_new_netns(void);
/* One counter of this netns's /proc/net/ktls_stat; fails if absent. */
long kt_stat(const char *name);

/* Read and write exactly n bytes; exit on error or EOF. */
void kt_write_all(int fd, const void *buf, size_t n);
void kt_read_all(int fd, void *buf, size_t n);
void kt_fill_pattern(void *buf, size_t n, unsigned int seed);
/* malloc'd n bytes of kt_fill_pattern (free() it). */
uint8_t *kt_pattern(size_t n, unsigned int seed);
/* How many tasks' kernel stacks (/proc/PID/stack) show fn. */
int kt_tasks_in(const char *fn);

/* sendmsg with a TLS_SET_RECORD_TYPE cmsg: one record of this type. */
ssize_t kt_send_type(int fd, uint8_t type, const void *buf, size_t len,
		     int flags);
/* recvmsg; *type is the TLS_GET_RECORD_TYPE cmsg's, 0 without one. */
ssize_t kt_recv_type(int fd, void *buf, size_t len, int flags,
		     uint8_t *type);

/*
 * Debian's in-tree tls.ko: loaded from $KTLS_INTREE (or the running
 * kernel's tree) unless already loaded.  Refuses (-EBUSY) while ktls holds
 * "tls": tls.ko would load anyway and corrupt the ULP list on unload.
 */
int kt_intree_load(void);
/* /dev/kmsg positioned at its end; -1 on error. */
int kt_kmsg_open(void);
/* Drain new kmsg records; how many contain needle (they are printed). */
int kt_kmsg_find(int fd, const char *needle);

/*
 * Fault injection (make check-debug's fault phase): $KTLS_FAULTINJ=1 asks
 * a test to let the kernel fail its allocations.  kt_faultinj_self()
 * sets /proc/thread-self/make-it-fail for the calling thread; threads and
 * children it creates afterwards inherit it.  Returns 0 or -errno.
 */
int kt_faultinj_wanted(void);
int kt_faultinj_self(int on);

struct kt_case;
/*
 * Run every case twice, first against Debian's in-tree tls.ko, then against
 * ktls, with the same assertions.  The plan: "use_intree", each case as
 * "intree_NAME", "use_ktls", each case as "ktls_NAME".  use_intree and
 * use_ktls load their module (the in-tree cases skip if tls.ko does not
 * load), then call phase(intree) if it is set; each case first checks that
 * its phase's module is the one loaded.
 */
int kt_run_phased(const char *suite, const struct kt_case *cases, size_t n,
		  void (*phase)(int intree));

#endif /* KTLS_UTIL_H */
