package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/wasmdbg/wasmdbg/replay"
)

// replayExtras are replay's production-conditions flags: the failure
// policy, --repeat (leak detection on one VM), --cpuprofile and --timing.
type replayExtras struct {
	failurePolicy string
	reloadBackoff time.Duration
	repeat        int
	cpuprofile    string
	profileFile   *os.File // --cpuprofile's, created before the replay
	timing        bool

	leak *replay.LeakReport
	tm   *replay.Timing
}

func (x *replayExtras) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&x.failurePolicy, "failure-policy", "", "what happens to the streams after the plugin traps: fail-closed (503 wasm_fail_stream), fail-open (skip the filter) or fail-reload (a new VM); default: the capture's, else Envoy's fail-closed")
	f.DurationVar(&x.reloadBackoff, "reload-backoff", replay.DefaultReloadBackoff, "fail-reload: the least time between two reloads (Envoy's reload_config.backoff.base_interval; on the replay's virtual clock)")
	f.IntVar(&x.repeat, "repeat", 0, "replay the capture N times on one VM and report its memory after every pass: growth per request, where it stops being flat, a leak verdict (exit 3 on a leak)")
	f.StringVar(&x.cpuprofile, "cpuprofile", "", "write a pprof CPU profile of the plugin's functions to FILE (go tool pprof FILE); slows the replay down several times")
	f.BoolVar(&x.timing, "timing", false, "add the wall time the plugin took per request and per callback (p50, p99, max) to the summary; it differs from run to run")
}

// apply checks the flags and sets what they change in the run and compile
// options.
func (x *replayExtras) apply(cmd *cobra.Command, ro *replay.RunOptions, opts *replay.Options) error {
	if x.failurePolicy != "" {
		p, err := replay.ParseFailurePolicy(x.failurePolicy)
		if err != nil {
			return usageErrorf("--failure-policy: %v", err)
		}
		ro.FailurePolicy = p
	}
	if x.reloadBackoff <= 0 {
		return usageErrorf("--reload-backoff must be positive, not %s", x.reloadBackoff)
	}
	ro.ReloadBackoff = x.reloadBackoff
	if cmd.Flags().Changed("repeat") && x.repeat < 1 {
		return usageErrorf("--repeat %d: give the number of passes, 1 or more", x.repeat)
	}
	if x.timing {
		x.tm = replay.NewTiming()
		ro.Timing = x.tm
	}
	if x.cpuprofile != "" {
		// Created first: a path that cannot be written is said before
		// a long replay, not after.
		f, err := os.Create(x.cpuprofile)
		if err != nil {
			return fmt.Errorf("write the CPU profile: %w", err)
		}
		x.profileFile = f
		opts.Profile = true
		// A profiled module is compiled with listeners: the cache holds
		// it apart from the plain one, so using it costs nothing extra.
	}
	return nil
}

// run replays the capture once, or --repeat times on one VM.
func (x *replayExtras) run(ctx context.Context, m *replay.Module, c *replay.Capture, ro replay.RunOptions) (*replay.Result, error) {
	if x == nil || x.repeat == 0 {
		return replay.Replay(ctx, m, c, ro)
	}
	res, rep, err := replay.Repeat(ctx, m, c, ro, x.repeat)
	x.leak = rep
	return res, err
}

// beforeResult writes the JSON records that come before the final result
// record; afterSummary the text sections that follow the summary; both
// write the profile.
func (x *replayExtras) beforeResult(io stdio, enc *json.Encoder, m *replay.Module) error {
	if x == nil {
		return nil
	}
	if x.leak != nil {
		enc.Encode(x.leak)
	}
	if x.tm != nil {
		enc.Encode(struct {
			Kind string `json:"kind"`
			*replay.TimingRecord
		}{"timing", x.tm.Record()})
	}
	return x.writeProfile(io, m)
}

func (x *replayExtras) afterSummary(io stdio, m *replay.Module) error {
	if x == nil {
		return nil
	}
	if x.leak != nil {
		x.leak.Write(io.out)
	}
	if x.tm != nil {
		x.tm.Write(io.out)
	}
	return x.writeProfile(io, m)
}

func (x *replayExtras) writeProfile(io stdio, m *replay.Module) error {
	if x.cpuprofile == "" || m == nil || m.Profiler() == nil {
		return nil
	}
	f := x.profileFile
	if err := m.WriteProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("write the CPU profile %s: %w", x.cpuprofile, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write the CPU profile %s: %w", x.cpuprofile, err)
	}
	fmt.Fprintf(io.err, "wasmdbg: CPU profile of %d function calls written to %s (go tool pprof -top %s)\n",
		m.Profiler().Calls(), x.cpuprofile, x.cpuprofile)
	return nil
}

// failed reports a leak found by --repeat: exit 3, like a failed
// expectation.
func (x *replayExtras) failed() bool {
	return x != nil && x.leak != nil && x.leak.Verdict == replay.LeakFound
}
