package admin_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wasmdbg/wasmdbg/admin"
	"github.com/wasmdbg/wasmdbg/admin/admintest"
)

func seedFiles(f *testing.F, pattern string) {
	f.Helper()
	files, _ := filepath.Glob(pattern)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// Every parser must return an error, never panic, on any input.

func FuzzParsePlugins(f *testing.F) {
	f.Add(admintest.IstioECDSDump)
	f.Add(admintest.EnvoyStaticDump)
	f.Add([]byte(`{"configs":[{"@type":"type.googleapis.com/udpa.type.v1.TypedStruct","type_url":"type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm","value":{"config":{}}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := admin.ParsePlugins(b)
		if err == nil {
			for _, p := range ps {
				_ = p.Code.String() + p.RuntimeName() + p.LogPrefix()
			}
		}
	})
}

func FuzzParseLoggers(f *testing.F) {
	f.Add([]byte("active loggers:\n  admin: info\n  wasm: trace\n\n"))
	f.Add([]byte("error: unknown logger name\n\nusage: /logging?<name>=<level> (change single level)\nlevels: trace debug info warning error critical off \nactive loggers:\n  wasm: info\n"))
	f.Fuzz(func(t *testing.T, b []byte) { admin.ParseLoggers(b) })
}

func FuzzParseStats(f *testing.F) {
	f.Add([]byte("a: 1\nb: \"x\"\nc: No recorded values\nd:\n  totals=1,2:3\n"))
	f.Fuzz(func(t *testing.T, b []byte) { admin.ParseStats(bytes.NewReader(b)) })
}

func FuzzParsePrometheus(f *testing.F) {
	seedFiles(f, filepath.Join("admintest", "testdata", "*.golden"))
	f.Fuzz(func(t *testing.T, b []byte) { admin.ParsePrometheus(bytes.NewReader(b)) })
}

func FuzzTapStream(f *testing.F) {
	one := admintest.HTTPTrace([]admintest.Header{{Key: ":path", Value: "/"}}, []byte("x"), nil, nil, time.Unix(0, 0))
	f.Add(append(append([]byte(nil), one...), one...))
	f.Fuzz(func(t *testing.T, b []byte) {
		ts := admin.NewTapStream(bytes.NewReader(b))
		for i := 0; i < 100; i++ {
			tr, err := ts.Next()
			if err != nil {
				return
			}
			_ = tr.Summary()
		}
	})
}
