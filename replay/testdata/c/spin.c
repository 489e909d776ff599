// spin: a plugin in C whose proxy_on_request_headers never returns, for
// the time limit's tests (replay/hostile_test.go TestTimeoutSymbolized):
// with one request header it loops in spin, with more it calls fan, a
// call tree of 2^60 calls without a loop. Compiled -O0 so that neither
// becomes something else. Build: sh build.sh
#define EXPORT(name) __attribute__((export_name(name)))

static char heap[1 << 16];
static unsigned long top;
volatile int stop;

EXPORT("proxy_abi_version_0_2_1") void abi_version(void) {}

EXPORT("malloc") void *plugin_malloc(unsigned long n) {
	void *p = &heap[top];
	top = (top + n + 7) & ~7ul;
	return p;
}

EXPORT("proxy_on_context_create") void on_context_create(int id, int parent) {}

static int spin(int n) {
	while (!stop)
		n++;
	return n;
}

static int fan(int n) {
	if (n == 0)
		return 1;
	return fan(n - 1) + fan(n - 1);
}

EXPORT("proxy_on_request_headers") int on_request_headers(int id, int headers, int eos) {
	if (headers == 1)
		return spin(headers);
	return fan(60);
}

EXPORT("proxy_on_done") int on_done(int id) { return 1; }

EXPORT("proxy_on_delete") void on_delete(int id) {}
