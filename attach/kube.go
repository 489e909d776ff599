package attach

import "context"

// KubeOpener is what attach needs from Kubernetes, behind an interface so
// tests use fakes: a port-forward to a pod's port.
type KubeOpener interface {
	// PortForward forwards a local port to the pod's port and returns the
	// local host:port and a function that stops the forward.
	PortForward(ctx context.Context, namespace, pod string, port int) (addr string, stop func(), err error)
	// DefaultNamespace is the namespace of the kubeconfig's current context
	// ("default" when it names none).
	DefaultNamespace() string
}
