package attach

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
)

func kc(name string) string { return filepath.Join("testdata", "kubeconfig", name) }

// Real kubeconfig files, resolved as kubectl resolves them.
func TestLoadKubeConfig(t *testing.T) {
	t.Setenv("KUBECONFIG", "")
	t.Setenv("HOME", t.TempDir())
	tests := []struct {
		name          string
		env           string
		kc            KubeConfig
		host, token   string
		namespace     string
		wantErrString string
	}{
		{"current context and its namespace", "", KubeConfig{Kubeconfig: kc("dev.yaml")}, "https://127.0.0.1:43511", "dev-token", "bookinfo", ""},
		{"other context, no namespace", "", KubeConfig{Kubeconfig: kc("dev.yaml"), Context: "prod"}, "https://prod.k8s.example.com", "prod-token", "default", ""},
		{"-n wins", "", KubeConfig{Kubeconfig: kc("dev.yaml"), Namespace: "istio-system"}, "https://127.0.0.1:43511", "dev-token", "istio-system", ""},
		{"KUBECONFIG list merged", kc("only-current.yaml") + ":" + kc("staging.yaml"), KubeConfig{}, "https://staging.k8s.example.com:6443", "staging-token", "istio-system", ""},
		{"--kubeconfig beats KUBECONFIG", kc("staging.yaml"), KubeConfig{Kubeconfig: kc("dev.yaml")}, "https://127.0.0.1:43511", "dev-token", "bookinfo", ""},

		{"unknown context", "", KubeConfig{Kubeconfig: kc("dev.yaml"), Context: "nope"}, "", "", "",
			kc("dev.yaml") + `: context "nope" does not exist`},
		{"no current context", "", KubeConfig{Kubeconfig: kc("staging.yaml")}, "", "", "",
			kc("staging.yaml") + ": no current context: give --context (contexts: staging)"},
		{"context without cluster", "", KubeConfig{Kubeconfig: kc("no-user.yaml")}, "", "", "",
			kc("no-user.yaml") + `: context "lost" refers to cluster "missing-cluster", which is not defined`},
		{"broken yaml", "", KubeConfig{Kubeconfig: kc("broken.yaml")}, "", "", "",
			kc("broken.yaml") + `: yaml: line 5: did not find expected ',' or '}'`},
		{"missing file", "", KubeConfig{Kubeconfig: kc("missing.yaml")}, "", "", "",
			kc("missing.yaml") + ": no such file or directory"},
		{"not a kubeconfig", "", KubeConfig{Kubeconfig: kc("prose.txt")}, "", "", "",
			kc("prose.txt") + ": not a kubeconfig: expected YAML with apiVersion: v1, kind: Config, clusters, contexts and users"},
		{"nothing at all", "", KubeConfig{}, "", "", "",
			"kubeconfig: no clusters or contexts: set KUBECONFIG or --kubeconfig, or use --admin for a local envoy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)
			cfg, ns, err := LoadKubeConfig(tt.kc)
			if tt.wantErrString != "" {
				if err == nil || err.Error() != tt.wantErrString {
					t.Fatalf("error %v\nwant %s", err, tt.wantErrString)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Host != tt.host || cfg.BearerToken != tt.token || ns != tt.namespace {
				t.Errorf("got %s %s %s", cfg.Host, cfg.BearerToken, ns)
			}
		})
	}
}

func pod(name, phase string, labels map[string]string, containers ...string) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bookinfo", Labels: labels},
		Status: corev1.PodStatus{Phase: corev1.PodPhase(phase)}}
	for _, c := range containers {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
	}
	return p
}

func TestKubePod(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	p := pod("web-1", "Running", nil, "web")
	p.Spec.InitContainers = []corev1.Container{{Name: "istio-proxy", RestartPolicy: &always}, {Name: "istio-init"}}
	k := NewKubeFor(fake.NewClientset(p), &rest.Config{}, "bookinfo")
	got, err := k.Pod(context.Background(), "bookinfo", "web-1")
	if err != nil || !got.Running() || !got.HasContainer("istio-proxy") || got.HasContainer("istio-init") {
		t.Errorf("%+v %v", got, err)
	}
	_, err = k.Pod(context.Background(), "bookinfo", "web-2")
	if err == nil || err.Error() != "pod web-2 not found in namespace bookinfo" {
		t.Errorf("missing pod: %v", err)
	}
}

// WatchPods through client-go's fake clientset: pods that exist, come,
// start running and go.
func TestKubeWatchPods(t *testing.T) {
	app := map[string]string{"app": "web"}
	cs := fake.NewClientset(
		pod("web-1", "Running", app, "web", "istio-proxy"),
		pod("web-2", "Pending", app, "web", "istio-proxy"),
		pod("db-1", "Running", map[string]string{"app": "db"}, "db"),
	)
	k := NewKubeFor(cs, &rest.Config{}, "bookinfo")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := k.WatchPods(ctx, "bookinfo", "app=web")
	if err != nil {
		t.Fatal(err)
	}
	next := func() string {
		t.Helper()
		select {
		case ev := <-ch:
			s := ev.Pod.Name + " "
			if ev.Gone {
				return s + "gone"
			}
			return s + "running"
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
		return ""
	}
	got := map[string]bool{next(): true, next(): true}
	if !got["web-1 running"] || !got["web-2 gone"] {
		t.Fatalf("initial: %v", got)
	}
	pods := cs.CoreV1().Pods("bookinfo")
	// The watch starts in the background; retry the update until seen.
	p2 := pod("web-2", "Running", app, "web", "istio-proxy")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := pods.Update(ctx, p2, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-ch:
			if ev.Pod.Name != "web-2" || ev.Gone {
				t.Fatalf("event %+v", ev)
			}
		case <-time.After(100 * time.Millisecond):
			if time.Now().Before(deadline) {
				p2.ResourceVersion = ""
				continue
			}
			t.Fatal("update not seen")
		}
		break
	}
	if _, err := pods.Create(ctx, pod("web-3", "Running", app, "web"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "web-3 running" {
		t.Errorf("create: %s", got)
	}
	if err := pods.Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "web-1 gone" {
		t.Errorf("delete: %s", got)
	}
	cancel()
	for range ch {
	}
}
