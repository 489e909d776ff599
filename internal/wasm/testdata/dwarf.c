// A tiny reactor with DWARF, built twice: -gdwarf-4 and -gdwarf-5.
__attribute__((import_module("env"), import_name("proxy_log")))
int proxy_log(int level, const char *msg, int size);

static int depth(int n) { return n == 0 ? *(volatile int *)0xfffffff0 : depth(n - 1) + 1; }

__attribute__((export_name("proxy_on_tick")))
void on_tick(int ctx) {
	proxy_log(2, "tick", 4);
	depth(ctx);
}
