package attach

import (
	"context"
	"io"
	"time"
)

// KubeOpener is everything attach needs from Kubernetes, behind an
// interface so tests use fakes (client-go has no fake for port-forwards or
// streaming logs). NewKube is the client-go implementation.
type KubeOpener interface {
	// DefaultNamespace is the namespace of the kubeconfig's current context
	// ("default" when it names none), as kubectl picks it.
	DefaultNamespace() string
	// Pod describes one pod.
	Pod(ctx context.Context, namespace, name string) (Pod, error)
	// PortForward forwards a local port to the pod's port and returns the
	// local host:port, a channel closed when the forward dies (the
	// connection to the API server or the kubelet broke), and a function
	// that stops it.
	PortForward(ctx context.Context, namespace, pod string, port int) (addr string, dead <-chan struct{}, stop func(), err error)
	// Logs follows a container's log from since (zero: from now on, the
	// last few lines included), with the kubelet's RFC 3339 timestamp
	// before every line.
	Logs(ctx context.Context, namespace, pod, container string, since time.Time) (io.ReadCloser, error)
	// WatchPods reports the pods matching a label selector as they come,
	// become ready to follow, and go; the channel closes when ctx ends.
	WatchPods(ctx context.Context, namespace, selector string) (<-chan PodEvent, error)
}

// Pod is what attach needs to know about a pod.
type Pod struct {
	Namespace  string
	Name       string
	Phase      string   // Pending, Running, Succeeded, Failed, Unknown
	Containers []string // regular containers, then sidecars declared as init containers
	Deleting   bool
}

// Running reports whether the pod's containers can be followed.
func (p Pod) Running() bool { return p.Phase == "Running" && !p.Deleting }

// HasContainer reports whether the pod has the named container.
func (p Pod) HasContainer(name string) bool {
	for _, c := range p.Containers {
		if c == name {
			return true
		}
	}
	return false
}

// PodEvent is a change in the set of pods a selector matches.
type PodEvent struct {
	Pod     Pod
	Gone    bool // deleted, or no longer matches or runs
	Initial bool // the pod was there when the watch started
}
