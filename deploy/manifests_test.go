// Package deploy holds the tests of what ships beside the binary: the
// Kubernetes manifests (decoded strictly into the k8s.io/api types, so a
// misspelt field fails) and the container image (container_test.go).
// It is a module of its own so that k8s.io/api stays out of the
// product's go.mod.
package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// topLevelKind finds a Deployment's own kind line (an HPA names one too).
var topLevelKind = regexp.MustCompile(`(?m)^kind: Deployment$`)

// kustomize is the renderer .ci/run uses; keep the two versions equal.
const kustomize = "sigs.k8s.io/kustomize/kustomize/v5@v5.7.1"

// newObject returns an empty object of the type a manifest's apiVersion
// and kind name, or nil for a type these manifests have no business with.
func newObject(apiVersion, kind string) any {
	switch apiVersion + " " + kind {
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}
	case "v1 Secret":
		return &corev1.Secret{}
	case "v1 Service":
		return &corev1.Service{}
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "autoscaling/v2 HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	}
	return nil
}

// decodeStrict decodes one YAML document into its k8s.io/api type as the
// API server's strict field validation does: field names match case and
// all, and unknown or duplicate fields are refused. (encoding/json, under
// sigs.k8s.io/yaml's UnmarshalStrict, would take readOnlyRootFileSystem
// for readOnlyRootFilesystem.)
func decodeStrict(doc []byte) (any, error) {
	j, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	var tm metav1.TypeMeta
	if err := json.UnmarshalCaseSensitivePreserveInts(j, &tm); err != nil {
		return nil, err
	}
	obj := newObject(tm.APIVersion, tm.Kind)
	if obj == nil {
		return nil, fmt.Errorf("unexpected apiVersion %q, kind %q", tm.APIVersion, tm.Kind)
	}
	strict, err := json.UnmarshalStrict(j, obj, json.DisallowDuplicateFields, json.DisallowUnknownFields)
	if err == nil {
		err = errors.Join(strict...)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return obj, nil
}

// splitDocs splits a multi-document YAML stream.
func splitDocs(stream []byte) ([][]byte, error) {
	r := k8syaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(stream)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
}

var rendered struct {
	sync.Mutex
	out map[string][]byte
}

// render returns `kustomize build dir`, as .ci/run renders it.
func render(t *testing.T, dir string) []byte {
	t.Helper()
	rendered.Lock()
	defer rendered.Unlock()
	if out, ok := rendered.out[dir]; ok {
		return out
	}
	cmd := exec.Command("go", "run", kustomize, "build", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, stderr.Bytes())
	}
	if rendered.out == nil {
		rendered.out = map[string][]byte{}
	}
	rendered.out[dir] = out
	return out
}

// manifests are the decoded objects of the rendered kustomization.
type manifests struct {
	configMaps  []*corev1.ConfigMap
	deployments []*appsv1.Deployment
	all         []any
}

// decodeRendered renders the kustomization in dir and decodes it.
func decodeRendered(t *testing.T, dir string) manifests {
	t.Helper()
	docs, err := splitDocs(render(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	var m manifests
	for _, doc := range docs {
		obj, err := decodeStrict(doc)
		if err != nil {
			t.Fatalf("rendered manifest does not decode strictly: %v\n%s", err, doc)
		}
		m.all = append(m.all, obj)
		switch o := obj.(type) {
		case *corev1.ConfigMap:
			m.configMaps = append(m.configMaps, o)
		case *appsv1.Deployment:
			m.deployments = append(m.deployments, o)
		}
	}
	return m
}

func secretTemplate(t *testing.T) *corev1.Secret {
	t.Helper()
	b, err := os.ReadFile("kubernetes/secret.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	obj, err := decodeStrict(b)
	if err != nil {
		t.Fatalf("secret.example.yaml does not decode strictly: %v", err)
	}
	s, ok := obj.(*corev1.Secret)
	if !ok {
		t.Fatalf("secret.example.yaml holds a %T, want a Secret", obj)
	}
	return s
}

// The kustomizations: the cluster's, and the one for podman kube play.
var kustomizations = []string{"kubernetes", "podman"}

func TestManifestsDecodeStrictly(t *testing.T) {
	for _, dir := range kustomizations {
		m := decodeRendered(t, dir)
		kinds := map[string]int{}
		for _, obj := range m.all {
			kinds[fmt.Sprintf("%T", obj)]++
		}
		want := map[string]int{
			"*v1.ConfigMap": 1, "*v1.Service": 1, "*v1.Deployment": 1,
			"*v1.PodDisruptionBudget": 1, "*v2.HorizontalPodAutoscaler": 1,
		}
		if fmt.Sprint(kinds) != fmt.Sprint(want) {
			t.Errorf("%s: rendered kinds: got %v, want %v", dir, kinds, want)
		}
	}
	secretTemplate(t)
}

// TestStrictDecodingRefusesTypos makes sure the check above can fail: a
// misspelt field in a real manifest, and a kind the manifests do not use.
func TestStrictDecodingRefusesTypos(t *testing.T) {
	docs, err := splitDocs(render(t, "kubernetes"))
	if err != nil {
		t.Fatal(err)
	}
	var deployment []byte
	for _, doc := range docs {
		if topLevelKind.Match(doc) {
			deployment = doc
		}
	}
	if deployment == nil {
		t.Fatal("no Deployment rendered")
	}
	for _, c := range []struct{ from, to string }{
		{"readinessProbe:", "readynessProbe:"},
		{"readOnlyRootFilesystem:", "readOnlyRootFileSystem:"},
		{"terminationGracePeriodSeconds:", "terminationGracePeriod:"},
	} {
		typo := bytes.Replace(deployment, []byte(c.from), []byte(c.to), 1)
		if bytes.Equal(typo, deployment) {
			t.Fatalf("the Deployment has no %q to misspell", c.from)
		}
		_, err := decodeStrict(typo)
		if err == nil || !strings.Contains(err.Error(), strings.TrimSuffix(c.to, ":")) {
			t.Errorf("%s misspelt as %s: got error %v, want one naming the field", c.from, c.to, err)
		}
	}
	if _, err := decodeStrict([]byte("apiVersion: extensions/v1beta1\nkind: Ingress\n")); err == nil {
		t.Error("an unexpected kind decoded")
	}
}

// TestDeploymentWiring checks what strict decoding cannot: that the
// names the Deployment uses exist where it points.
func TestDeploymentWiring(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) { checkWiring(t, decodeRendered(t, dir)) })
	}
}

func checkWiring(t *testing.T, m manifests) {
	if len(m.deployments) != 1 {
		t.Fatalf("got %d Deployments, want 1", len(m.deployments))
	}
	pod := m.deployments[0].Spec.Template.Spec
	c := pod.Containers[0]

	secret := secretTemplate(t)
	var mountPath string
	for _, vm := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == vm.Name && v.Secret != nil && v.Secret.SecretName == secret.Name {
				mountPath = vm.MountPath
				if !vm.ReadOnly {
					t.Errorf("the Secret is mounted writable at %s", vm.MountPath)
				}
			}
		}
	}
	if mountPath == "" {
		t.Fatalf("the Secret %q is not mounted", secret.Name)
	}
	files := 0
	for _, e := range c.Env {
		if !strings.HasSuffix(e.Name, "_FILE") {
			continue
		}
		files++
		dir, key := path.Split(e.Value)
		if path.Clean(dir) != mountPath {
			t.Errorf("%s=%s is not in the Secret's mount %s", e.Name, e.Value, mountPath)
		}
		if _, ok := secret.StringData[key]; !ok {
			t.Errorf("%s names %q, which secret.example.yaml does not hold", e.Name, key)
		}
	}
	if files != len(secret.StringData) {
		t.Errorf("%d _FILE variables for the %d keys of secret.example.yaml", files, len(secret.StringData))
	}

	for _, ef := range c.EnvFrom {
		found := false
		for _, cm := range m.configMaps {
			found = found || (ef.ConfigMapRef != nil && cm.Name == ef.ConfigMapRef.Name)
		}
		if !found {
			t.Errorf("envFrom names ConfigMap %v, which is not rendered", ef.ConfigMapRef)
		}
	}

	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Errorf("%s probe: got %+v, want an httpGet", name, p)
			continue
		}
		if _, err := containerPort(c, p.HTTPGet.Port.String()); err != nil {
			t.Errorf("%s probe: %v", name, err)
		}
	}
}

// containerPort resolves a port name (or number) of c.
func containerPort(c corev1.Container, port string) (int32, error) {
	for _, p := range c.Ports {
		if p.Name == port || fmt.Sprint(p.ContainerPort) == port {
			return p.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("container %s has no port %q", c.Name, port)
}
