package redisurl

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		url  string
		kind Kind
		desc string
	}{
		{"redis://127.0.0.1:6379/0", Single, "127.0.0.1:6379"},
		{"redis://:pw@redis:6379/2", Single, "redis:6379"},
		{"redis-sentinel://s1:26379,s2:26379,s3/mymaster", Sentinel, "sentinel mymaster via s1:26379,s2:26379,s3:26379"},
		{"redis+sentinel://:pw@s1:26379/mymaster/3?sentinel_password=x&dial_timeout=2s", Sentinel, "sentinel mymaster via s1:26379"},
		{"redis://s1:26379?master_name=mymaster&addr=s2:26379", Sentinel, "sentinel mymaster via s1:26379,s2:26379"},
		{"redis-cluster://n1:7000,n2:7001", Cluster, "cluster via n1:7000,n2:7001"},
		{"redis+cluster://:pw@n1:7000?wait_replicas=0", Cluster, "cluster via n1:7000"},
	} {
		tg, err := Parse(c.url)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.url, err)
			continue
		}
		if tg.Kind != c.kind || tg.String() != c.desc {
			t.Errorf("Parse(%q) = %v %q, want %v %q", c.url, tg.Kind, tg.String(), c.kind, c.desc)
		}
		tg.Client(Settings{PoolSize: 1, MaxRetries: -1}).Close()
	}
	tg, err := Parse("redis-sentinel://:secret@s1:26379/m/3?sentinel_password=sp&wait_replicas=2&wait_timeout=250ms")
	if err != nil {
		t.Fatal(err)
	}
	if tg.failover.Password != "secret" || tg.failover.SentinelPassword != "sp" || tg.failover.DB != 3 ||
		tg.WaitReplicas != 2 || tg.WaitTimeout != 250*time.Millisecond {
		t.Errorf("options: %+v wait %d %v", tg.failover, tg.WaitReplicas, tg.WaitTimeout)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, u := range []string{
		"localhost:6379",
		"http://x",
		"redis-sentinel://s1:26379",         // no name
		"redis-sentinel://s1:26379/m/x",     // db not a number
		"redis-cluster://n1:7000/1",         // cluster has no db
		"redis-cluster://",                  // no host
		"redis://h:6379?wait_replicas=many", // bad own option
		"redis://h:6379?wait_timeout=soon",  // bad own option
		"redis://h:6379?no_such_option=1",   // go-redis refuses unknown options
		"unix-sentinel://h/m",
	} {
		if _, err := Parse(u); err == nil {
			t.Errorf("Parse(%q) succeeded", u)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"redis://:pw@h:6379/0": "redis://:xxxxx@h:6379/0",
		"redis-sentinel://u:pw@a:1,b:2/m?sentinel_password=s&x=1": "redis-sentinel://u:xxxxx@a:1,b:2/m?sentinel_password=xxxxx&x=1",
		"redis://h:6379/0": "redis://h:6379/0",
	} {
		if got := Redact(in); got != want || strings.Contains(got, "pw") {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
