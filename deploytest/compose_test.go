// Package deploytest validates the deployment files with the tools that
// read them: docker-compose.yml with the Compose specification's own Go
// loader, the Prometheus config and rules with promtool, the Grafana
// dashboard against the metrics the real binary exports, and the Kubernetes
// manifests by strict decoding into the API's Go types. No container
// engine or cluster is needed.
package deploytest

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// root is the module root, where the deploy files live.
const root = ".."

// composeEnv are the secrets docker-compose.yml requires from .env.
var composeEnv = map[string]string{
	"BACKCHANNEL_SESSION_KEY":            strings.Repeat("0", 64),
	"BACKCHANNEL_MODERATOR_PASSPHRASE":   "moderators",
	"BACKCHANNEL_FACILITATOR_PASSPHRASE": "facilitators",
	"GRAFANA_ADMIN_PASSWORD":             "grafana",
}

func loadCompose(t *testing.T, env map[string]string) (*types.Project, error) {
	t.Helper()
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  abs,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(abs, "docker-compose.yml")}},
		Environment: env,
	}, func(o *loader.Options) { o.SetProjectName("backchannel", true) })
}

func TestComposeLoads(t *testing.T) {
	p, err := loadCompose(t, composeEnv)
	if err != nil {
		t.Fatalf("compose-go cannot load docker-compose.yml: %v", err)
	}
	for _, name := range []string{"redis", "ingest", "fanout-a", "fanout-b", "proxy", "prometheus", "grafana"} {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("service %q missing", name)
		}
	}

	redis := p.Services["redis"]
	if cmd := strings.Join(redis.Command, " "); !strings.Contains(cmd, "--appendonly yes") || !strings.Contains(cmd, "--appendfsync everysec") {
		t.Errorf("redis runs %q: want AOF with appendfsync everysec", cmd)
	}
	if !hasVolume(redis, "redis-data", "/data") {
		t.Errorf("redis keeps /data on no named volume: %+v", redis.Volumes)
	}

	roles := map[string]string{"ingest": "ingest", "fanout-a": "fanout", "fanout-b": "fanout"}
	for name, role := range roles {
		s := p.Services[name]
		if cmd := strings.Join(s.Command, " "); cmd != "serve --role "+role {
			t.Errorf("%s runs %q, want serve --role %s", name, cmd, role)
		}
		if v := s.Environment["BACKCHANNEL_REDIS"]; v == nil || !strings.HasPrefix(*v, "redis://redis:") {
			t.Errorf("%s: BACKCHANNEL_REDIS = %v, want the redis service", name, v)
		}
		if v := s.Environment["BACKCHANNEL_SESSION_KEY"]; v == nil || *v != composeEnv["BACKCHANNEL_SESSION_KEY"] {
			t.Errorf("%s: the session key is not the shared one from .env", name)
		}
		if s.HealthCheck == nil || !slices.Contains(s.HealthCheck.Test, "healthcheck") {
			t.Errorf("%s: no healthcheck through the binary: %+v", name, s.HealthCheck)
		}
		if s.Build == nil || s.Build.Context == "" {
			t.Errorf("%s: not built from the Dockerfile", name)
		}
		if _, ok := s.DependsOn["redis"]; !ok {
			t.Errorf("%s does not wait for redis", name)
		}
		// A node holds one open file per websocket: 50,000 of them need
		// more than the usual 1,024 or 20,000.
		if u := s.Ulimits["nofile"]; u == nil || u.Hard < 60000 || u.Soft < 60000 {
			t.Errorf("%s: nofile ulimit %+v, want at least 60000 soft and hard", name, u)
		}
	}

	proxy := p.Services["proxy"]
	if !strings.HasPrefix(proxy.Image, "nginx:") {
		t.Errorf("proxy image %q, want the official nginx", proxy.Image)
	}
	for _, dep := range []string{"fanout-a", "fanout-b"} {
		if _, ok := proxy.DependsOn[dep]; !ok {
			t.Errorf("proxy does not depend on %s", dep)
		}
	}
	if !hasBind(p.Services["prometheus"], "deploy/prometheus/prometheus.yml") || !hasBind(p.Services["prometheus"], "deploy/prometheus/alerts.yml") {
		t.Error("prometheus does not mount deploy/prometheus/{prometheus,alerts}.yml")
	}
	if !hasBind(p.Services["grafana"], "deploy/grafana/provisioning") || !hasBind(p.Services["grafana"], "deploy/grafana/dashboards") {
		t.Error("grafana does not mount the provisioning and dashboards directories")
	}
	for _, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind && !exists(v.Source) {
				t.Errorf("%s mounts %s, which is not in the tree", s.Name, v.Source)
			}
		}
	}
}

// Without the secrets in .env, compose refuses to start rather than run
// fan-out nodes that each generate their own session key.
func TestComposeNeedsSecrets(t *testing.T) {
	env := map[string]string{}
	for k, v := range composeEnv {
		if k != "BACKCHANNEL_SESSION_KEY" {
			env[k] = v
		}
	}
	_, err := loadCompose(t, env)
	if err == nil || !strings.Contains(err.Error(), "BACKCHANNEL_SESSION_KEY") {
		t.Fatalf("loading without BACKCHANNEL_SESSION_KEY: %v; want an error naming it", err)
	}
}

func hasVolume(s types.ServiceConfig, source, target string) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeVolume && v.Source == source && v.Target == target {
			return true
		}
	}
	return false
}

func hasBind(s types.ServiceConfig, rel string) bool {
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && strings.HasSuffix(filepath.ToSlash(v.Source), rel) {
			return true
		}
	}
	return false
}
