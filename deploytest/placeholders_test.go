package deploytest

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The example secrets (deploy/compose/env.example for compose,
// deploy/k8s/secret.example.yaml for Kubernetes) copied unchanged are
// refused: the binary exits with a clear error rather than run with a
// publicly known session key or passphrase.
func TestExampleSecretsAreRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := staticBinary(t)

	composeEnv := map[string]string{}
	f, err := os.Open(filepath.Join(root, "deploy", "compose", "env.example"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			composeEnv[k] = v
		}
	}
	f.Close()

	var secret struct {
		StringData map[string]string `json:"stringData"`
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "k8s", "secret.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &secret); err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `json:"data"`
	}
	if b, err = os.ReadFile(filepath.Join(root, "deploy", "k8s", "config.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cm); err != nil {
		t.Fatal(err)
	}
	k8sEvents := filepath.Join(t.TempDir(), "events.yaml")
	if err := os.WriteFile(k8sEvents, []byte(cm.Data["events.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name, config string
		env          map[string]string
	}{
		{"compose", filepath.Join(root, "deploy", "compose", "events.yaml"), composeEnv},
		{"kubernetes", k8sEvents, secret.StringData},
	} {
		if len(c.env) < 3 {
			t.Fatalf("%s: only %d example secrets read", c.name, len(c.env))
		}
		cmd := exec.Command(bin, "serve", "--role", "fanout", "--config", c.config, "--redis", "redis://127.0.0.1:1/0", "--listen", "127.0.0.1:0")
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
		for k, v := range c.env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%s: with the example secrets the binary ended with %v, want exit code 2\n%s", c.name, err, stderr.String())
			continue
		}
		for _, v := range []string{"BACKCHANNEL_SESSION_KEY", "BACKCHANNEL_MODERATOR_PASSPHRASE", "BACKCHANNEL_FACILITATOR_PASSPHRASE"} {
			if !strings.Contains(stderr.String(), "environment variable "+v+" holds a placeholder") {
				t.Errorf("%s: the error does not name %s as a placeholder:\n%s", c.name, v, stderr.String())
			}
		}
	}
}
