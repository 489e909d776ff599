package attach

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wasmdbg/wasmdbg/admin"
)

// Endpoint says how to reach a proxy's admin API: a local address, or a pod
// through a Kubernetes port-forward.
type Endpoint struct {
	Admin string // host:port or URL of a reachable admin API

	Pod        string // pod name (Namespace/Context/Kubeconfig as kubectl resolves them)
	Namespace  string
	Context    string
	Kubeconfig string
	AdminPort  int // the admin port inside the pod; 15000 (Istio) when 0

	Timeout time.Duration // per admin request; admin.DefaultTimeout when 0

	// Kube opens Kubernetes connections for Pod; nil means the real
	// client-go implementation (NewKube), made by Resolve.
	Kube KubeOpener `json:"-"`
}

// DefaultAdminPort is the admin port of Istio's sidecars and gateways.
const DefaultAdminPort = 15000

func (e Endpoint) adminPort() int {
	if e.AdminPort == 0 {
		return DefaultAdminPort
	}
	return e.AdminPort
}

// Target is the identity under which level changes to this endpoint are
// recorded. For a pod it needs the namespace kubeconfig resolution chose, so
// call it after Resolve.
func (e Endpoint) Target() Target {
	if e.Pod == "" {
		if u, err := admin.ParseAddr(e.Admin); err == nil {
			return Target{Admin: u.String()}
		}
		return Target{Admin: e.Admin}
	}
	return Target{Pod: e.Pod, Namespace: e.Namespace, Context: e.Context, Kubeconfig: e.Kubeconfig, AdminPort: e.adminPort()}
}

// Check validates the combination of fields a user gave.
func (e Endpoint) Check() error {
	switch {
	case e.Admin == "" && e.Pod == "":
		return errors.New("say which proxy: --admin host:port for a local envoy, or --pod POD")
	case e.Admin != "" && e.Pod != "":
		return errors.New("give either --admin or --pod, not both")
	case e.Admin != "":
		_, err := admin.ParseAddr(e.Admin)
		return err
	}
	return nil
}

func (e Endpoint) clientOpts() []admin.Option {
	if e.Timeout > 0 {
		return []admin.Option{admin.WithTimeout(e.Timeout)}
	}
	return nil
}

// Resolve fills in what the user left to kubeconfig (the namespace of the
// current context) so that Target names the pod exactly.
func (e Endpoint) Resolve(ctx context.Context) (Endpoint, error) {
	if e.Admin != "" {
		return e, nil
	}
	kube, err := e.kube()
	if err != nil {
		return e, err
	}
	e.Kube = kube
	if e.Namespace == "" {
		e.Namespace = kube.DefaultNamespace()
	}
	return e, nil
}

// Connect opens the admin API: directly for --admin, through a new
// port-forward for a pod (released by the returned function).
func (e Endpoint) Connect(ctx context.Context) (*admin.Client, func(), error) {
	c, _, release, err := e.connect(ctx)
	return c, release, err
}

// connect is Connect with a channel closed when the port-forward dies (nil
// for a direct address).
func (e Endpoint) connect(ctx context.Context) (*admin.Client, <-chan struct{}, func(), error) {
	if err := e.Check(); err != nil {
		return nil, nil, nil, err
	}
	if e.Pod == "" {
		c, err := admin.New(e.Admin, e.clientOpts()...)
		return c, nil, func() {}, err
	}
	kube, err := e.kube()
	if err != nil {
		return nil, nil, nil, err
	}
	addr, dead, stop, err := kube.PortForward(ctx, e.Namespace, e.Pod, e.adminPort())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("port-forward to %s/%s:%d: %w", e.Namespace, e.Pod, e.adminPort(), err)
	}
	c, err := admin.New(addr, e.clientOpts()...)
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return c, dead, stop, nil
}

// Connector is Connect as a Connector, for restoring.
func (e Endpoint) Connector() Connector {
	return func(ctx context.Context) (Levels, func(), error) {
		c, release, err := e.Connect(ctx)
		if err != nil {
			return nil, nil, err
		}
		return c, release, nil
	}
}

func (e Endpoint) kube() (KubeOpener, error) {
	if e.Kube != nil {
		return e.Kube, nil
	}
	return NewKube(KubeConfig{Kubeconfig: e.Kubeconfig, Context: e.Context, Namespace: e.Namespace})
}

// ParseChanges reads level changes as a user types them: "wasm=trace",
// "wasm:trace" (istioctl's form), or a bare level for the wasm logger.
func ParseChanges(args []string) ([]admin.Logger, error) {
	var out []admin.Logger
	seen := map[string]bool{}
	for _, a := range args {
		name, lvl, ok := strings.Cut(a, "=")
		if !ok {
			name, lvl, ok = strings.Cut(a, ":")
		}
		if !ok {
			name, lvl = "wasm", a
		}
		if name == "" {
			return nil, fmt.Errorf("%q: no logger name before the level", a)
		}
		l, err := admin.ParseLevel(lvl)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", a, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("%q: logger %s given twice", a, name)
		}
		seen[name] = true
		out = append(out, admin.Logger{Name: name, Level: l})
	}
	return out, nil
}
