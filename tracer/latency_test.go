package tracer

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLatencies: percentiles are the nearest rank of the values added
// while at most latencyExact distinct values were seen, and within 1/64
// above it after that; Count and Max are exact either way.
func TestLatencies(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	spread := func(n int, max int64) []int64 {
		vs := make([]int64, n)
		for i := range vs {
			vs[i] = rng.Int64N(max)
		}
		return vs
	}
	tests := []struct {
		name  string
		vals  []int64
		exact bool
	}{
		{"one", []int64{7}, true},
		{"negative is zero", []int64{-5, -1, 3}, true},
		{"repeats", []int64{5, 5, 5, 1, 1, 9, 5, 5, 9, 1}, true},
		{"few distinct, many values", spread(50_000, 60), true},
		{"milliseconds", func() []int64 {
			vs := spread(20_000, 200)
			for i := range vs {
				vs[i] *= 1_000_000
			}
			return vs
		}(), true},
		{"exactly latencyExact distinct", func() []int64 {
			vs := make([]int64, 0, 2*latencyExact)
			for i := range latencyExact {
				vs = append(vs, int64(i)*977, int64(i)*977)
			}
			return vs
		}(), true},
		{"one more than latencyExact", func() []int64 {
			vs := make([]int64, 0, latencyExact+1)
			for i := range latencyExact + 1 {
				vs = append(vs, int64(i)*977)
			}
			return vs
		}(), false},
		{"many distinct", spread(100_000, 1<<40), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l latencies
			for _, v := range tt.vals {
				l.add(v)
			}
			got := l.summary()
			sorted := slices.Clone(tt.vals)
			for i, v := range sorted {
				sorted[i] = max(v, 0)
			}
			slices.Sort(sorted)
			n := len(sorted)
			rank := func(p float64) int64 { return sorted[max(int(p*float64(n)+0.999999), 1)-1] }
			p50, p99 := rank(0.50), rank(0.99)
			if got.Count != n || got.Max != sorted[n-1] {
				t.Fatalf("count %d max %d, want %d and %d", got.Count, got.Max, n, sorted[n-1])
			}
			if (l.hist == nil) != tt.exact {
				t.Fatalf("exact counts kept: %v, want %v", l.hist == nil, tt.exact)
			}
			if tt.exact {
				if got.P50 != p50 || got.P99 != p99 {
					t.Fatalf("p50 %d p99 %d, want %d and %d", got.P50, got.P99, p50, p99)
				}
				return
			}
			for _, c := range []struct{ got, want int64 }{{got.P50, p50}, {got.P99, p99}} {
				if c.got < c.want || c.got > c.want+c.want/64 {
					t.Fatalf("percentile %d, want %d to %d", c.got, c.want, c.want+c.want/64)
				}
			}
		})
	}
}
