package attach

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// Kube is the client-go implementation of KubeOpener.
type Kube struct {
	config    *rest.Config
	clientset kubernetes.Interface
	namespace string
	// ForwardErrors receives what the port-forwarder reports about broken
	// connections (nil: discarded).
	ForwardErrors io.Writer
}

// KubeConfig says which kubeconfig and context to use; empty fields
// resolve as kubectl resolves them: --kubeconfig, else $KUBECONFIG (a list
// of files merged), else ~/.kube/config; the current context unless one is
// named; in a pod without any, the in-cluster service account.
type KubeConfig struct {
	Kubeconfig string
	Context    string
	Namespace  string // overrides the context's namespace
}

// LoadKubeConfig resolves a kubeconfig into a REST config and the default
// namespace, as kubectl does (clientcmd's deferred loading rules).
func LoadKubeConfig(kc KubeConfig) (*rest.Config, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kc.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: kc.Context}
	overrides.Context.Namespace = kc.Namespace
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, "", kubeconfigError(cc, kc, err)
	}
	ns, _, err := cc.Namespace()
	if err != nil {
		return nil, "", kubeconfigError(cc, kc, err)
	}
	return cfg, ns, nil
}

// kubeconfigError turns clientcmd's catch-all "no configuration has been
// provided" into what is actually wrong.
func kubeconfigError(cc clientcmd.ClientConfig, kc KubeConfig, err error) error {
	where := "kubeconfig"
	if kc.Kubeconfig != "" {
		where = kc.Kubeconfig
	} else if env := os.Getenv("KUBECONFIG"); env != "" {
		where = "kubeconfig " + env
	}
	if !clientcmd.IsEmptyConfig(err) {
		return fmt.Errorf("%s: %s", where, loadErrorText(err))
	}
	raw, rerr := cc.RawConfig()
	if rerr != nil || len(raw.Contexts) == 0 && len(raw.Clusters) == 0 {
		return fmt.Errorf("%s: no clusters or contexts: set KUBECONFIG or --kubeconfig, or use --admin for a local envoy", where)
	}
	name := kc.Context
	if name == "" {
		name = raw.CurrentContext
	}
	ctx, ok := raw.Contexts[name]
	switch {
	case name == "":
		return fmt.Errorf("%s: no current context: give --context (%s)", where, contextNames(raw.Contexts))
	case !ok:
		return fmt.Errorf("%s: context %q does not exist (%s)", where, name, contextNames(raw.Contexts))
	case raw.Clusters[ctx.Cluster] == nil:
		return fmt.Errorf("%s: context %q refers to cluster %q, which is not defined", where, name, ctx.Cluster)
	}
	return fmt.Errorf("%s: %s", where, strings.TrimSpace(err.Error()))
}

// loadErrorText says what is wrong with a kubeconfig file without the
// file name clientcmd repeats (the caller names it once) or the Go types
// of its decoder.
func loadErrorText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	msg := strings.TrimSpace(err.Error())
	const loading = "error loading config file \""
	if rest, ok := strings.CutPrefix(msg, loading); ok {
		if _, after, ok := strings.Cut(rest, "\": "); ok {
			msg = after
		}
	}
	if strings.Contains(msg, "couldn't get version/kind") {
		return "not a kubeconfig: expected YAML with apiVersion: v1, kind: Config, clusters, contexts and users"
	}
	return msg
}

func contextNames[V any](m map[string]V) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "it defines no contexts"
	}
	return "contexts: " + strings.Join(names, ", ")
}

// NewKube connects to the cluster kc names.
func NewKube(kc KubeConfig) (*Kube, error) {
	cfg, ns, err := LoadKubeConfig(kc)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &Kube{config: cfg, clientset: cs, namespace: ns}, nil
}

// NewKubeFor wraps an existing clientset (tests pass client-go's fake).
func NewKubeFor(cs kubernetes.Interface, cfg *rest.Config, namespace string) *Kube {
	return &Kube{config: cfg, clientset: cs, namespace: namespace}
}

// DefaultNamespace implements KubeOpener.
func (k *Kube) DefaultNamespace() string {
	if k.namespace == "" {
		return "default"
	}
	return k.namespace
}

// Pod implements KubeOpener.
func (k *Kube) Pod(ctx context.Context, namespace, name string) (Pod, error) {
	p, err := k.clientset.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return Pod{}, fmt.Errorf("pod %s not found in namespace %s", name, namespace)
	}
	if err != nil {
		return Pod{}, fmt.Errorf("get pod %s/%s: %w", namespace, name, err)
	}
	return podOf(p), nil
}

func podOf(p *corev1.Pod) Pod {
	out := Pod{Namespace: p.Namespace, Name: p.Name, Phase: string(p.Status.Phase), Deleting: p.DeletionTimestamp != nil}
	for _, c := range p.Spec.Containers {
		out.Containers = append(out.Containers, c.Name)
	}
	// Native sidecars (Istio ≥ 1.19 on Kubernetes ≥ 1.29 can run
	// istio-proxy as an init container that keeps running).
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			out.Containers = append(out.Containers, c.Name)
		}
	}
	return out
}

// PortForward implements KubeOpener: WebSocket first, falling back to SPDY
// when the API server cannot upgrade (as kubectl ≥ 1.31 does; set
// KUBECTL_PORT_FORWARD_WEBSOCKETS=false to go straight to SPDY).
func (k *Kube) PortForward(ctx context.Context, namespace, pod string, port int) (string, <-chan struct{}, func(), error) {
	u := k.clientset.CoreV1().RESTClient().Post().Resource("pods").Namespace(namespace).Name(pod).SubResource("portforward").URL()
	rt, upgrader, err := spdy.RoundTripperFor(k.config)
	if err != nil {
		return "", nil, nil, err
	}
	var dialer httpstream.Dialer = spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	if !strings.EqualFold(os.Getenv("KUBECTL_PORT_FORWARD_WEBSOCKETS"), "false") {
		ws, err := portforward.NewSPDYOverWebsocketDialer(u, k.config)
		if err != nil {
			return "", nil, nil, err
		}
		dialer = portforward.NewFallbackDialer(ws, dialer, func(err error) bool {
			return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
		})
	}
	stopCh := make(chan struct{})
	readyCh := make(chan struct{})
	errOut := k.ForwardErrors
	if errOut == nil {
		errOut = io.Discard
	}
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, stopCh, readyCh, io.Discard, errOut)
	if err != nil {
		return "", nil, nil, err
	}
	dead := make(chan struct{})
	failed := make(chan error, 1)
	go func() {
		failed <- fw.ForwardPorts()
		close(dead)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			close(stopCh)
		}
	}
	select {
	case <-readyCh:
	case err := <-failed:
		if err == nil {
			err = errors.New("port-forward ended before it was ready")
		}
		return "", nil, nil, err
	case <-ctx.Done():
		stop()
		return "", nil, nil, ctx.Err()
	}
	ports, err := fw.GetPorts()
	if err != nil || len(ports) == 0 {
		stop()
		return "", nil, nil, fmt.Errorf("port-forward: no local port: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local))), dead, stop, nil
}

// Logs implements KubeOpener.
func (k *Kube) Logs(ctx context.Context, namespace, pod, container string, since time.Time) (io.ReadCloser, error) {
	opts := &corev1.PodLogOptions{Container: container, Follow: true, Timestamps: true}
	if since.IsZero() {
		tail := int64(10)
		opts.TailLines = &tail
	} else {
		t := metav1.NewTime(since)
		opts.SinceTime = &t
	}
	rc, err := k.clientset.CoreV1().Pods(namespace).GetLogs(pod, opts).Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("logs of %s/%s container %s: %w", namespace, pod, container, err)
	}
	return rc, nil
}

// WatchPods implements KubeOpener with a list, then a watch from the list's
// resource version, listed again whenever the watch ends (the API server
// closes watches after a few minutes).
func (k *Kube) WatchPods(ctx context.Context, namespace, selector string) (<-chan PodEvent, error) {
	pods := k.clientset.CoreV1().Pods(namespace)
	list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list pods in %s with %s: %w", namespace, selector, err)
	}
	ch := make(chan PodEvent, 16)
	go func() {
		defer close(ch)
		known := map[string]Pod{}
		initial := true
		send := func(p Pod, gone bool) bool {
			select {
			case ch <- PodEvent{Pod: p, Gone: gone, Initial: initial}:
				return true
			case <-ctx.Done():
				return false
			}
		}
		// sync reports the difference between what was known and a new
		// full list.
		sync := func(items []corev1.Pod) bool {
			seen := map[string]bool{}
			for i := range items {
				p := podOf(&items[i])
				seen[p.Name] = true
				old, had := known[p.Name]
				known[p.Name] = p
				if !had || old.Running() != p.Running() {
					if !send(p, !p.Running()) {
						return false
					}
				}
			}
			for name, p := range known {
				if !seen[name] {
					delete(known, name)
					if !send(p, true) {
						return false
					}
				}
			}
			return true
		}
		if !sync(list.Items) {
			return
		}
		initial = false
		rv := list.ResourceVersion
		for ctx.Err() == nil {
			w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: rv, AllowWatchBookmarks: true})
			if err != nil {
				if !sleepCtx(ctx, time.Second) {
					return
				}
				l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector})
				if err == nil {
					if !sync(l.Items) {
						return
					}
					rv = l.ResourceVersion
				}
				continue
			}
			if !k.drain(ctx, w, known, send, &rv) {
				w.Stop()
				return
			}
			w.Stop()
			if l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: selector}); err == nil {
				if !sync(l.Items) {
					return
				}
				rv = l.ResourceVersion
			}
		}
	}()
	return ch, nil
}

// drain handles one watch's events until it ends (true) or ctx does
// (false).
func (k *Kube) drain(ctx context.Context, w watch.Interface, known map[string]Pod, send func(Pod, bool) bool, rv *string) bool {
	for {
		var ev watch.Event
		var ok bool
		select {
		case <-ctx.Done():
			return false
		case ev, ok = <-w.ResultChan():
		}
		if !ok {
			return true
		}
		p, isPod := ev.Object.(*corev1.Pod)
		if !isPod {
			continue // a Status on error: the caller lists again
		}
		*rv = p.ResourceVersion
		if ev.Type == watch.Bookmark {
			continue
		}
		pp := podOf(p)
		old, had := known[pp.Name]
		switch ev.Type {
		case watch.Deleted:
			delete(known, pp.Name)
			if had && !send(pp, true) {
				return false
			}
		case watch.Added, watch.Modified:
			known[pp.Name] = pp
			if (!had || old.Running() != pp.Running()) && !send(pp, !pp.Running()) {
				return false
			}
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
