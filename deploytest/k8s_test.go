package deploytest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// k8sTypes are the kinds the manifests may hold, by apiVersion/kind.
var k8sTypes = map[string]func() any{
	"v1/Namespace":                           func() any { return &corev1.Namespace{} },
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                              func() any { return &corev1.Secret{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                    func() any { return &appsv1.StatefulSet{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/Ingress":           func() any { return &networkingv1.Ingress{} },
}

// decodeManifests decodes every document of every manifest strictly (an
// unknown or misspelt field is an error) into its API type.
func decodeManifests(t *testing.T) map[string]any {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "deploy", "k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/k8s: %v", err)
	}
	objs := map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(b, []byte("\n---\n")) {
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			var tm metav1.TypeMeta
			if err := yaml.Unmarshal(doc, &tm); err != nil {
				t.Errorf("%s doc %d: %v", f, i, err)
				continue
			}
			gvk := tm.APIVersion + "/" + tm.Kind
			newObj, ok := k8sTypes[gvk]
			if !ok {
				t.Errorf("%s doc %d: unexpected %s", f, i, gvk)
				continue
			}
			obj := newObj()
			if err := yaml.UnmarshalStrict(doc, obj); err != nil {
				t.Errorf("%s doc %d (%s): %v", f, i, gvk, err)
				continue
			}
			name := obj.(metav1.Object).GetName()
			if ns := obj.(metav1.Object).GetNamespace(); tm.Kind != "Namespace" && ns != "backchannel" {
				t.Errorf("%s %s: namespace %q, want backchannel", gvk, name, ns)
			}
			objs[tm.Kind+"/"+name] = obj
		}
	}
	return objs
}

func TestKubernetesManifests(t *testing.T) {
	objs := decodeManifests(t)
	get := func(key string) any {
		o, ok := objs[key]
		if !ok {
			t.Fatalf("no %s among the manifests", key)
		}
		return o
	}
	fan := get("Deployment/backchannel-fanout").(*appsv1.Deployment)
	ing := get("Deployment/backchannel-ingest").(*appsv1.Deployment)
	for _, d := range []*appsv1.Deployment{fan, ing} {
		role := d.Spec.Template.Labels["app.kubernetes.io/component"]
		c := d.Spec.Template.Spec.Containers[0]
		if got := strings.Join(c.Args, " "); got != "serve --role "+role {
			t.Errorf("%s runs %q", d.Name, got)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("%s: readiness is not /readyz", d.Name)
		}
		if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("%s: liveness is not /healthz", d.Name)
		}
		sc := d.Spec.Template.Spec.SecurityContext
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("%s may run as root", d.Name)
		}
		if !selects(d.Spec.Selector, d.Spec.Template.Labels) {
			t.Errorf("%s: selector does not match its pods", d.Name)
		}
	}
	if ing.Spec.Replicas == nil || *ing.Spec.Replicas < 2 {
		t.Error("ingest has no standby replica")
	}

	hpa := get("HorizontalPodAutoscaler/backchannel-fanout").(*autoscalingv2.HorizontalPodAutoscaler)
	if hpa.Spec.ScaleTargetRef.Kind != "Deployment" || hpa.Spec.ScaleTargetRef.Name != fan.Name {
		t.Errorf("HPA scales %+v, not the fan-out Deployment", hpa.Spec.ScaleTargetRef)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 {
		t.Error("HPA may scale the fan-out below two pods")
	}
	pdb := get("PodDisruptionBudget/backchannel-fanout").(*policyv1.PodDisruptionBudget)
	if !selects(pdb.Spec.Selector, fan.Spec.Template.Labels) {
		t.Error("PDB does not select the fan-out pods")
	}
	svc := get("Service/backchannel-fanout").(*corev1.Service)
	if !selectsMap(svc.Spec.Selector, fan.Spec.Template.Labels) || selectsMap(svc.Spec.Selector, ing.Spec.Template.Labels) {
		t.Error("the fan-out Service must select the fan-out pods and not the ingest ones")
	}
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		t.Error("fan-out nodes are stateless: no session affinity")
	}
	in := get("Ingress/backchannel").(*networkingv1.Ingress)
	if in.Annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"] == "" {
		t.Error("the Ingress sets no read timeout for websockets")
	}
	if b := in.Spec.Rules[0].HTTP.Paths[0].Backend.Service; b == nil || b.Name != svc.Name {
		t.Errorf("the Ingress routes to %+v, not the fan-out Service", b)
	}
	get("StatefulSet/redis")
}

func selects(sel *metav1.LabelSelector, labels map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labelSet(labels))
}

func selectsMap(sel, labels map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return len(sel) > 0
}

type labelSet map[string]string

func (l labelSet) Has(k string) bool              { _, ok := l[k]; return ok }
func (l labelSet) Get(k string) string            { return l[k] }
func (l labelSet) Lookup(k string) (string, bool) { v, ok := l[k]; return v, ok }
