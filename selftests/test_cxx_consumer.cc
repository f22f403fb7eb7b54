// SPDX-License-Identifier: GPL-2.0
/*
 * A C++ program using libktls (issue 17): ktls.h compiles as C++ and the
 * symbols link unmangled (extern "C").  In the VM it also works: a
 * handshake between two std::threads, a message through the kernel.
 */
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ktls.h>

/* selftests/util.c, linked in: load ktls like every other test. */
extern "C" int kt_ktls_load(const char *ulp_name);

static_assert(KTLS_VERSION_MAJOR == 0, "libktls.so.0");
static_assert(KTLS_VERSION_MINOR >= 1, "the step API is 0.1");

static int failed;

static void check(bool ok, int n, const char *name, const std::string &why)
{
	if (!ok) {
		std::printf("# %s\n", why.c_str());
		failed = 1;
	}
	std::printf("%sok %d %s\n", ok ? "" : "not ", n, name);
}

static bool tcp_pair(int *c, int *s)
{
	sockaddr_in a{};
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || bind(l, reinterpret_cast<sockaddr *>(&a), sizeof(a)) ||
	    listen(l, 1) ||
	    getsockname(l, reinterpret_cast<sockaddr *>(&a), &al))
		return false;
	*c = socket(AF_INET, SOCK_STREAM, 0);
	if (*c < 0 || connect(*c, reinterpret_cast<sockaddr *>(&a), sizeof(a)))
		return false;
	*s = accept(l, nullptr, nullptr);
	close(l);
	return *s >= 0;
}

int main()
{
	char err[KTLS_ERR_LEN], msg[KTLS_ERR_LEN];
	int rc;

	std::setvbuf(stdout, nullptr, _IOLBF, 0);
	std::printf("KTAP version 1\n# suite: libktls-c++\n1..2\n");
	rc = kt_ktls_load(getenv("KTLS_ULP") ? getenv("KTLS_ULP") : "tls");
	if (rc) {
		std::printf("# cannot load ktls: %s\n", std::strerror(-rc));
		return 1;
	}
	rc = ktls_probe(nullptr, 0, 0, msg, sizeof(msg));
	check(rc == KTLS_OK, 1, "probe_from_cxx",
	      std::string(ktls_error_name(rc)) + ": " + msg);

	SSL_CTX *sctx = ktls_ctx_new(1, nullptr, nullptr, err, sizeof(err));
	SSL_CTX *cctx = ktls_ctx_new(0, nullptr, nullptr, err, sizeof(err));
	ktls_session *srv = ktls_session_new(), *cl = ktls_session_new();
	ktls_opts o{};
	int c = -1, s = -1, src = -1, crc = -1;
	o.timeout_ms = 60000;
	if (sctx && cctx && srv && cl && tcp_pair(&c, &s)) {
		std::thread t([&] {
			src = ktls_handshake(srv, sctx, s, 1, &o);
		});
		crc = ktls_handshake(cl, cctx, c, 0, &o);
		t.join();
	}
	std::string why = !srv || !cl ? "ktls_session_new failed" :
			  src ? std::string("server: ") + ktls_errmsg(srv) :
			  crc ? std::string("client: ") + ktls_errmsg(cl) : "";
	const std::string hello = "hello from C++";
	char buf[64] = {};
	if (!src && !crc) {
		ssize_t w = ktls_send(srv, hello.data(), hello.size());
		ssize_t r = ktls_recv(cl, buf, sizeof(buf) - 1);

		/* Past r, buf holds whatever ktls_recv read before (tickets). */
		std::string got(buf, r > 0 ? static_cast<size_t>(r) : 0);

		if (w != static_cast<ssize_t>(hello.size()) || got != hello)
			why = "sent " + std::to_string(w) + ", received " +
			      std::to_string(r) + " \"" + got + "\": " +
			      ktls_errmsg(srv) + " / " + ktls_errmsg(cl);
		ktls_close(srv);
		ktls_close(cl);
	}
	ktls_session_free(srv);
	ktls_session_free(cl);
	check(why.empty(), 2, "handshake_and_data_from_cxx", why);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
	return failed;
}
